"""``--record`` on a full disk and a failing ``--db`` save: said where the user
looks (red in the screen's header; a line on stderr in batch and dump), exit
status 4, and what was written before the failure is kept.

The full disk is a real one: a tmpfs of a few kilobytes mounted for the test.
tmpfs keeps no blocks in reserve for root, so its ENOSPC is what a user's full
disk gives, and root (which these tests run as, like CI) cannot write past it.
A mount that fails fails the test with the reason: it is never skipped.
"""

import json
import random
import sqlite3
import subprocess
import sys
from contextlib import contextmanager

import pytest

from celerytop.events.recording.reader import read_events
from celerytop.events.recording.writer import Recorder
from tests.events import task_lifecycle
from tests.screen import BIN
from tests.terminal import Terminal

T0 = 1_700_000_000.0
EXIT_NOT_SAVED = 4


@contextmanager
def tiny_disk(folder, size):
    """A tmpfs of ``size`` (e.g. "64k") mounted at ``folder``, unmounted afterwards."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode:
        pytest.fail(f"cannot mount a {size} tmpfs at {folder} to make a full disk (these tests need root): "
                    f"{(mounted.stderr or mounted.stdout).strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def task_events(tasks, arg_size=1000):
    """``tasks`` finished tasks (uuids task-00000, ...), each with an argument of ``arg_size`` bytes."""
    events = []
    for n in range(tasks):
        _uuid, lifecycle = task_lifecycle(name=f"proj.step{n:04d}", hostname="w1@full", t0=T0 + n * 0.01,
                                          uuid=f"task-{n:05d}")
        # hex of seeded random bytes: gzip halves it at best, so a .gz recording fills the disk too
        lifecycle[0]["args"] = repr((random.Random(n).randbytes(arg_size // 2).hex(), n))
        events += lifecycle
    return events


def write_recording(path, tasks, arg_size=1000):
    events = task_events(tasks, arg_size)
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return events


def assert_kept_a_prefix(path, sent, at_least):
    """The file holds the first events sent, in order, and at least ``at_least`` of them."""
    kept = [(e["type"], e["uuid"]) for e in read_events(str(path))]
    assert len(kept) >= at_least, f"only {len(kept)} events kept in {path}"
    assert kept == [(e["type"], e["uuid"]) for e in sent[:len(kept)]]
    return kept


def celerytop(*args):
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", ["events.jsonl", "events.jsonl.gz"])
def test_a_recording_stopped_by_a_full_disk_keeps_what_it_wrote_and_says_so_once(tmp_path, name):
    said = []
    sent = task_events(400)  # about 5 times what the disk holds, uncompressed
    with tiny_disk(tmp_path / "disk", "64k") as disk:
        recorder = Recorder(str(disk / name), on_error=said.append)
        for event in sent:
            recorder.record(event)
        recorder.close()
        assert said == [recorder.error]
        assert "No space left on device" in recorder.error and "stopped" in recorder.error
        assert_kept_a_prefix(disk / name, sent, at_least=40)


@pytest.mark.parametrize("mode", ["--batch", "--dump"])
def test_batch_and_dump_say_a_stopped_recording_on_stderr_and_exit_4(tmp_path, mode):
    source = tmp_path / "incident.jsonl"
    sent = write_recording(source, 400)
    with tiny_disk(tmp_path / "disk", "64k") as disk:
        done = celerytop("--replay", source, "--speed", "0", mode, "--record", disk / "copy.jsonl")
        assert done.returncode == EXIT_NOT_SAVED, done.stderr
        [line] = done.stderr.splitlines()
        assert line.startswith(f"celerytop: recording to {disk / 'copy.jsonl'} stopped at ")
        assert "No space left on device" in line
        assert_kept_a_prefix(disk / "copy.jsonl", sent, at_least=40)
    # the monitor carried on: every task is in the output, the last one too
    assert "task-00399" in done.stdout if mode == "--dump" else " Tasks 400 " in done.stdout


def test_a_failing_db_save_is_said_on_stderr_exits_4_and_leaves_the_last_save(tmp_path):
    small, big = tmp_path / "small.jsonl", tmp_path / "big.jsonl"
    write_recording(small, 20)
    write_recording(big, 800)  # about 1 MB of history for a 256 KB disk
    with tiny_disk(tmp_path / "disk", "256k") as disk:
        db = disk / "history.db"
        first = celerytop("--replay", small, "--speed", "0", "--batch", "--db", db)
        assert (first.returncode, first.stderr) == (0, "")
        second = celerytop("--replay", big, "--speed", "0", "--batch", "--db", db)
        assert second.returncode == EXIT_NOT_SAVED, second.stderr
        [line] = second.stderr.splitlines()
        assert line == f"celerytop: {db}: saving the history failed (OperationalError: database or disk is full)"
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as kept:
            assert kept.execute("SELECT count(*) FROM tasks").fetchone()[0] == 20


def test_the_screen_says_in_red_that_recording_and_saving_stopped_and_exits_4(tmp_path):
    source = tmp_path / "incident.jsonl"
    sent = write_recording(source, 800)
    with tiny_disk(tmp_path / "disk", "256k") as disk:
        record, db = disk / "copy.jsonl", disk / "history.db"
        # the history file is made (and fits) before the replay fills the disk with the recording
        with Terminal([BIN, "--replay", str(source), "--speed", "0", "--refresh", "0.2", "--record", str(record),
                       "--db", str(db)], cols=200, rows=40) as term:
            term.wait_for("recording to")
            assert term.fg("recording to", bright=False) == "red"
            assert "No space left on device (the events before are kept)" in term.text()
            term.wait_for("saving the history failed", timeout=20)  # the first save is due after 5 s
            assert term.fg("saving the history failed", bright=False) == "red"
            assert "database or disk is full" in term.text()
            term.press("q")
            assert term.wait_exit() == EXIT_NOT_SAVED
            after = term.raw.decode("utf-8", "replace")
        assert_kept_a_prefix(record, sent, at_least=40)
    # once the screen is gone, both are said again where the shell prompt comes back
    tail = after[after.rindex("\x1b[?1049l"):] if "\x1b[?1049l" in after else after
    assert f"celerytop: {db}: saving the history failed" in tail
    assert f"celerytop: recording to {record} stopped at " in tail


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-v"]))
