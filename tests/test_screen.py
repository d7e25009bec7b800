"""What a person sees: the real celerytop in a pty, read through pyte.

Events come from celery's own Dispatcher over a real filesystem broker (the
same bytes a worker would publish), so every screen here is deterministic
without waiting for workers; the live tests run real workers.
"""

import os
import signal
import sys

import pytest

from celerytop.ui.keys.keymap import Keymap
from tests.screen import BIN, EventSource, cell_fg, connected, monitor
from tests.terminal import Terminal


def test_header_shows_app_broker_connection_and_counts(fs, events):
    with monitor(fs) as term:
        connected(term)
        assert term.find(" celerytop ") == (0, 0)
        assert "app tests.liveapp" in term.lines()[0]
        assert "broker filesystem://" in term.lines()[0]
        assert term.fg("● connected", bright=False) == "green"
        events.heartbeat()
        for _ in range(3):
            events.task()
        events.task(name="tests.fail", final="task-failed", exception="ValueError('x')", traceback="Traceback")
        term.wait_for("FAILURE 1")
        line = term.lines()[1]
        assert "Workers 1/1 online" in line and "Tasks 4" in line and "SUCCESS 3" in line
        assert "Events" in line and "/s" in line


def test_task_states_are_shown_in_their_colours(fs, events):
    with monitor(fs, 120, 30) as term:
        connected(term)
        events.task(name="t.success")
        events.task(name="t.failure", final="task-failed", exception="ValueError('x')", traceback="tb")
        events.task(name="t.retry", final="task-retried", exception="Retry", traceback="tb")
        events.task(name="t.started", final=None)
        events.task(name="t.revoked", final="task-revoked", terminated=False)
        events.task(name="t.cursor")  # newest: the cursor's row, highlighted
        term.wait_for("t.cursor")
        expected = {"SUCCESS": "green", "FAILURE": "red", "RETRY": "yellow", "STARTED": "cyan",
                    "REVOKED": "magenta"}
        for state, colour in expected.items():
            assert cell_fg(term, f"t.{state.lower()}", state) == colour, state


def test_workers_pane_shows_hostname_status_counts_load_and_version(fs, events):
    with monitor(fs, 120, 30) as term:
        connected(term)
        events.heartbeat(active=3, processed=1234, loadavg=[1.5, 0.75, 0.25])
        term.wait_for("w1@example")
        row = next(line for line in term.lines() if "w1@example" in line)
        for expected in ("online", " 3 ", "1234", "1.50 0.75 0.25", "py-celery 5.7.0"):
            assert expected in row, row
        assert cell_fg(term, "w1@example", "online") == "green"


def test_help_overlay_lists_every_binding_and_closes(fs):
    with monitor(fs, 140, 170) as term:  # tall enough for the whole overlay on one screen
        connected(term)
        bindings = [binding for _title, rows in Keymap().grouped() for binding in rows]

        def every_binding_shown(term):
            text = term.text()
            return all(keys in text and help_text in text for keys, help_text in bindings)

        for opener in ("?", "f1"):
            term.press(opener)
            # The whole overlay, not just its title: a CPU-starved program can pause longer than
            # the harness's settle time between the writes of one 140x90 frame.
            term.wait_for(every_binding_shown)
            term.press("esc")
            term.wait_gone("celerytop keys")
        term.press("?")
        term.wait_for("celerytop keys")
        term.press("q")  # q closes the help first, it does not quit
        term.wait_gone("celerytop keys")
        assert term.returncode is None


def test_tab_and_shift_tab_switch_panes(fs, events):
    with monitor(fs) as term:
        connected(term)
        events.heartbeat()
        events.task()
        tasks_title, workers_title = " Tasks  1 in memory", " Workers  1 online"
        term.wait_for(lambda t: "w1@example" in t.text() and tasks_title in t.text())  # the worker may show first
        assert term.bg(tasks_title, bright=False) == "cyan"
        assert term.bg(workers_title, bright=False) != "cyan"
        term.press("tab")
        term.wait_for(lambda t: t.bg(workers_title, bright=False) == "cyan")
        assert term.bg(tasks_title, bright=False) != "cyan"
        term.press("shift-tab")
        term.wait_for(lambda t: t.bg(tasks_title, bright=False) == "cyan")


def test_scrolling_reaches_every_task_not_only_a_screenful(fs, events):
    names = [f"tests.task{i:03d}" for i in range(120)]
    with monitor(fs, 100, 24) as term:
        connected(term)
        for name in names:
            events.task(name=name)
        term.wait_for("120 in memory")
        assert names[-1] in term.text() and names[0] not in term.text()
        term.press("G")
        term.wait_for(names[0])
        term.wait_for("120/120")
        term.press("g")
        term.wait_for(names[-1])
        term.wait_for(" 1/120")
        term.press("pgdn")
        term.wait_gone(names[-1])
        term.press("j", "j", "down")
        term.press("k")
        assert names[-1] not in term.text()
        term.press("home")
        term.wait_for(names[-1])


def test_following_new_tasks_stops_when_the_cursor_moves_and_resumes_at_the_top(fs, events):
    with monitor(fs, 100, 24) as term:
        connected(term)
        for i in range(5):
            events.task(name=f"tests.old{i}")
        term.wait_for("following new tasks")
        term.wait_for(" 1/5")  # all five in: one arriving after the moves would shift the cursor's row
        term.press("j", "j")
        term.wait_gone("following new tasks")
        term.wait_for(" 3/5")
        events.task(name="tests.newer")
        term.wait_for("tests.newer")
        term.wait_for(" 4/6")  # the cursor stayed on the same task
        term.press("g")
        term.wait_for("following new tasks")
        events.task(name="tests.newest")
        term.wait_for(" 1/7")


def test_resize_redraws_at_the_new_size(fs, events):
    with monitor(fs, 80, 24) as term:
        connected(term)
        events.heartbeat()
        events.task(args="('a fairly long argument that only fits on a wide screen',)")
        term.wait_for("w1@example")
        assert "wide screen" not in term.text()
        term.resize(200, 60)
        term.wait_for("wide screen")
        term.wait_for(lambda t: "quit" in t.lines()[59])
        assert len(term.lines()[0]) == 200
        term.resize(80, 24)
        term.wait_for(lambda t: "quit" in t.lines()[23])
        assert "wide screen" not in term.text()


def test_quit_exits_zero_and_restores_the_terminal_exactly(fs):
    with monitor(fs) as term:
        connected(term)
        term.press("q")
        assert term.wait_exit() == 0
        assert term.modes_left_on() == set()
        assert term.tty_attrs() == term.initial_tty_attrs


def test_ctrl_c_restores_the_terminal(fs):
    with monitor(fs) as term:
        connected(term)
        term.press("ctrl-c")
        assert term.wait_exit() == 130
        assert term.modes_left_on() == set()
        assert term.tty_attrs() == term.initial_tty_attrs


def test_hostile_text_from_workers_is_shown_harmlessly(fs, tmp_path):
    evil_host = "evil\x1b[2J\x1b]0;pwned\x07@host"
    source = EventSource(fs.app, hostname=evil_host)
    try:
        with monitor(fs, 220, 30) as term:
            connected(term)
            source.heartbeat(sw_ident="\x1b[31mred")
            source.task(name="evil.\x1b[5mblink\x9b", args="('\x1b]52;c;Y2xpcGJvYXJk\x07', '\r\x08')",
                        kwargs="{'k': '\x00\x7f'}")
            term.wait_for("evil.\\x1b[5mblink\\x9b")
            text = term.text()
            assert "\\x00\\x7f" in text, text
            assert "evil\\x1b[2J\\x1b]0;pwned\\x07@host" in text
            assert "\\x1b]52;c;Y2xpcGJvYXJk\\x07" in text
            assert "\\x1b[31mred" in text
            assert b"pwned\x07" not in bytes(term.raw).replace(b"\\x07", b"")
            assert b"\x1b]52" not in bytes(term.raw)
            assert "pwned" not in (term.screen.title or "")
            term.press("q")
            assert term.wait_exit() == 0
    finally:
        source.close()


def test_unknown_and_malformed_events_are_counted_and_ignored(fs, events):
    with monitor(fs, 140, 30) as term:
        connected(term)
        events.send("task-exploded", uuid="u1")
        events.send("task-received", uuid=None, name="no.uuid")
        events.task(name="tests.fine")
        term.wait_for("tests.fine")
        term.wait_for("Ignored events: 1 malformed, 1 of unknown type (task-exploded)")
        assert "no.uuid" not in term.text()


def test_sigterm_restores_the_terminal(fs):
    with monitor(fs) as term:
        connected(term)
        os.kill(term.pid, signal.SIGTERM)
        assert term.wait_exit() == 128 + signal.SIGTERM
        assert term.modes_left_on() == set()
        assert term.tty_attrs() == term.initial_tty_attrs


@pytest.mark.parametrize("how", [("--colors", "mono"), "NO_COLOR"])
def test_monochrome_marks_failures_without_colour(fs, events, how):
    args, env = (how, {}) if isinstance(how, tuple) else ((), {"NO_COLOR": "1"})
    term = Terminal([BIN, "-A", "tests.liveapp", "--refresh", "0.2", *args], cols=100, rows=30,
                    env={**fs.env, **env}, cwd=str(fs.env["PYTHONPATH"].split(os.pathsep)[0]))
    with term:
        connected(term)
        events.task(name="t.failure", final="task-failed", exception="ValueError('x')", traceback="tb")
        events.task(name="t.cursor")
        term.wait_for("t.cursor")
        for y, line in enumerate(term.lines()):
            if "t.failure" in line:
                cell = term.screen.buffer[y][line.index("FAILURE")]
                assert cell.fg == "default" and cell.bg == "default"
                assert cell.reverse and cell.bold
                break
        else:
            raise AssertionError(term.text())
        assert all(term.screen.buffer[y][x].fg == "default" for y in range(30) for x in range(100))


def test_celery_top_subcommand_runs_the_monitor_on_celerys_app(fs, events):
    celery_bin = os.path.join(os.path.dirname(sys.executable), "celery")
    with Terminal([celery_bin, "-A", "tests.liveapp", "top", "--refresh", "0.2"], cols=100, rows=30,
                  env=fs.env, cwd=str(fs.env["PYTHONPATH"].split(os.pathsep)[0])) as term:
        connected(term)
        assert "app tests.liveapp" in term.lines()[0]
        events.task(name="tests.via_celery")
        term.wait_for("tests.via_celery")
        term.press("q")
        assert term.wait_exit() == 0
        assert term.tty_attrs() == term.initial_tty_attrs


def test_j_k_down_and_up_move_the_highlighted_row(fs, events):
    names = [f"tests.row{i}" for i in range(5)]
    with monitor(fs, 100, 24) as term:
        connected(term)
        for name in names:
            events.task(name=name)
        term.wait_for(" 5 in memory")
        newest_first = list(reversed(names))

        def highlighted(term):
            """The task names drawn on the focus background (the cursor's row)."""
            rows = []
            for name in names:
                y, x = term.find(name)
                if term.screen.buffer[y][x].bg not in ("default", None):
                    rows.append(name)
            return rows

        def cursor_on(position):
            return lambda t: (t.lines()[-1].rstrip().endswith(f"{position}/5")
                              and highlighted(t) == [newest_first[position - 1]])

        term.wait_for(cursor_on(1))
        for key, position in (("j", 2), ("down", 3), ("j", 4), ("k", 3), ("up", 2), ("k", 1)):
            term.press(key)
            term.wait_for(cursor_on(position))
        term.press("up")  # the first row stays the first
        term.press("j")
        term.wait_for(cursor_on(2))
