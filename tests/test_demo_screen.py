"""`celerytop --demo` as a person runs it: real workers appear, and quitting
leaves no process and no temp folder behind."""

import os
import signal
import sys

import pytest

from celerytop.demo.cluster import remove_stale_folders
from tests.live import wait_until
from tests.terminal import Terminal, normalise_colour

BIN = os.path.join(os.path.dirname(sys.executable), "celerytop")


def descendants(pid):
    """Every live process below ``pid`` (workers and their pool children)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def demo_folder(pids):
    for pid in pids:
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                for item in fh.read().split(b"\0"):
                    if item.startswith(b"CELERYTOP_DEMO_DIR="):
                        return item.split(b"=", 1)[1].decode()
        except OSError:
            continue
    return None


def carrying(folder):
    """Every live process whose environment names the demo's folder (wherever it hangs in the tree)."""
    marker = f"CELERYTOP_DEMO_DIR={folder}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and alive(int(entry)):
            try:
                with open(f"/proc/{entry}/environ", "rb") as fh:
                    if marker in fh.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                continue
    return found


def cell_fg(term, cell_text):
    for y, line in enumerate(term.lines()):
        if cell_text in line and y > 3:
            return normalise_colour(term.screen.buffer[y][line.index(cell_text)].fg, bright=False)
    return None


@pytest.mark.parametrize("leave, status", [("q", 0), ("ctrl-c", 130)])
def test_demo_shows_a_live_cluster_and_leaves_nothing_behind(leave, status):
    with Terminal([BIN, "--demo", "--refresh", "0.5"], cols=200, rows=60) as term:
        term.wait_for("Workers 3/3 online", timeout=60)
        term.wait_for(lambda t: cell_fg(t, "FAILURE") == "red", timeout=60)
        term.wait_for(lambda t: cell_fg(t, "SUCCESS") == "green", timeout=60)
        for name in ("alpha@", "beta@", "gamma@"):
            assert name in term.text()
        processes = descendants(term.pid)
        assert len(processes) >= 3
        folder = demo_folder(processes)
        assert folder and os.path.isdir(folder)
        term.press(leave)
        assert term.wait_exit(timeout=30) == status
        assert term.modes_left_on() == set()
        assert term.tty_attrs() == term.initial_tty_attrs
    wait_until(lambda: not any(alive(pid) for pid in processes), timeout=15,
               message=f"demo processes left behind: {[p for p in processes if alive(p)]}")
    assert not os.path.exists(folder)


def test_demo_fits_an_80x24_terminal():
    with Terminal([BIN, "--demo", "--refresh", "0.5"], cols=80, rows=24) as term:
        term.wait_for("Workers 3/3 online", timeout=60)
        term.wait_for(lambda t: "SUCCESS" in "\n".join(t.lines()[5:]), timeout=60)
        lines = term.lines()
        assert lines[0].startswith(" celerytop ")
        assert "quit" in lines[23]
        assert any(line.lstrip().startswith("UUID") for line in lines)
        assert any(line.lstrip().startswith("HOSTNAME") for line in lines)
        term.press("q")
        assert term.wait_exit(timeout=30) == 0


def test_a_sigkilled_demo_leaves_no_process_behind():
    """Nobody is left to stop the cluster: its workers (and their pool children) notice their
    parent is gone (PR_SET_PDEATHSIG) and go too; the producer was a thread of the UI."""
    with Terminal([BIN, "--demo", "--refresh", "0.5"], cols=200, rows=60) as term:
        term.wait_for("Workers 3/3 online", timeout=60)
        folder = demo_folder(descendants(term.pid))
        assert folder and os.path.isdir(folder)
        wait_until(lambda: len(carrying(folder)) >= 9, timeout=30,
                   message="3 workers with 2 pool processes each")  # the pool children, too
        os.kill(term.pid, signal.SIGKILL)
        assert term.wait_exit(timeout=10) == -signal.SIGKILL
        try:
            wait_until(lambda: not carrying(folder), timeout=15,
                       message=f"demo processes left behind: {carrying(folder)}")
        finally:  # a failure must not leave them running either
            for pid in carrying(folder):
                os.kill(pid, signal.SIGKILL)
    remove_stale_folders()  # as the next demo would: its owner is gone
    assert not os.path.exists(folder)
