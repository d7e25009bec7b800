"""An internal error: one line on stderr naming the crash file, exit 1, the traceback in the file.

The exception is provoked for real, with no change to celerytop: ``--camera``
runs a user's Polaroid class inside celerytop's process, and its last snapshot
(taken when a replay ends) divides by zero.  celerytop does not expect that
exception any more than a bug of its own, and both take the same path out
(cli.execute -> report_crash).
"""

import json
import os
import re
import subprocess
import sys
import time

from celerytop import cli
from tests.terminal import Terminal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)

CAMERA = '''
from celery.events.snapshot import Polaroid


class DividingCamera(Polaroid):
    def on_shutter(self, state):
        return len(state.workers) / 0
'''

HEARTBEAT = {"type": "worker-heartbeat", "hostname": "w1@example", "timestamp": 1700000000.0, "clock": 1,
             "utcoffset": 0, "pid": 1, "local_received": 1700000000.0, "active": 0, "processed": 0}


def test_crash_writes_its_traceback_to_the_file_the_message_names(tmp_path):
    (tmp_path / "crashcam.py").write_text(CAMERA)
    (tmp_path / "one.jsonl").write_text(json.dumps(HEARTBEAT) + "\n")
    state = tmp_path / "state"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT]), XDG_STATE_HOME=str(state))
    result = subprocess.run([os.path.join(BIN, "celerytop"), "--replay", "one.jsonl", "--speed", "0",
                             "--camera", "crashcam.DividingCamera"],
                            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60,
                            stdin=subprocess.DEVNULL)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    message = re.fullmatch(r"celerytop: internal error: ZeroDivisionError: division by zero "
                           r"\(traceback in (.+)\)\n", result.stderr)
    assert message, result.stderr
    crash_file = message.group(1)
    assert os.path.dirname(crash_file) == str(state / "celerytop")
    assert re.fullmatch(r"crash-\d{8}-\d{6}-\d+\.log", os.path.basename(crash_file))

    with open(crash_file, encoding="utf-8") as fh:
        traceback_text = fh.read()
    assert traceback_text.startswith("Traceback (most recent call last):\n")
    # the whole way down: celerytop's front door, its camera mode, the camera's line
    assert 'celerytop/cli.py", line' in traceback_text and "in execute" in traceback_text
    assert 'celerytop/modes/camera.py", line' in traceback_text and "in run_camera" in traceback_text
    assert 'crashcam.py", line 7, in on_shutter\n    return len(state.workers) / 0' in traceback_text
    assert traceback_text.rstrip("\n").endswith("ZeroDivisionError: division by zero")


def test_two_crashes_in_one_second_keep_both_tracebacks(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    folder = tmp_path / "celerytop"
    folder.mkdir()
    # an earlier crash of this process in this second (and the next, should the clock tick now)
    for when in (time.time(), time.time() + 1):
        stamp = time.strftime("crash-%Y%m%d-%H%M%S", time.localtime(when))
        (folder / f"{stamp}-{os.getpid()}.log").write_text("the first crash\n")
    for message in ("second", "third"):
        try:
            raise ValueError(message)
        except ValueError as exc:
            cli.report_crash(exc)
    named = re.findall(r"\(traceback in (.+)\)", capsys.readouterr().err)
    assert len(set(named)) == 2
    assert [open(path).read().rstrip("\n").rsplit("\n", 1)[-1] for path in named] == [
        "ValueError: second", "ValueError: third"]
    assert all(os.stat(path).st_mode & 0o777 == 0o600 for path in named)
    assert sorted(p.read_text() for p in folder.iterdir()).count("the first crash\n") == 2


def test_a_crash_in_the_screen_restores_the_terminal_and_names_the_file(tmp_path):
    """An exception inside the urwid loop, raised by the documented test hook (celerytop/ui/app.py
    CRASH_TEST_KEY: every real trigger is a bug, fixed once found)."""
    (tmp_path / "one.jsonl").write_text(json.dumps(HEARTBEAT) + "\n")
    state = tmp_path / "state"
    env = {"XDG_STATE_HOME": str(state), "CELERYTOP_TEST_CRASH_KEY": "f12"}
    with Terminal([os.path.join(BIN, "celerytop"), "--replay", "one.jsonl"], cols=200, rows=30, env=env,
                  cwd=tmp_path) as term:
        term.wait_for("w1@example")
        term.press("f12")
        assert term.wait_exit() == 1
        assert term.modes_left_on() == set(), "the alternate screen, the mouse or a hidden cursor was left on"
        assert term.tty_attrs() == term.initial_tty_attrs, "the terminal was left in raw mode"
        after = bytes(term.raw).decode("utf-8", "replace").rsplit("\x1b[?1049l", 1)[-1]
    printed = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", after)  # urwid's last mode resets; the rest is text
    lines = [line for line in printed.replace("\r", "").split("\n") if line.strip()]
    assert len(lines) == 1, lines
    message = re.fullmatch(r"celerytop: internal error: RuntimeError: test hook: CELERYTOP_TEST_CRASH_KEY pressed "
                           r"\(traceback in (.+)\)", lines[0].strip())
    assert message, lines
    traceback_text = open(message.group(1), encoding="utf-8").read()
    assert traceback_text.startswith("Traceback (most recent call last):\n")
    assert "in keypress" in traceback_text and "urwid" in traceback_text
    assert traceback_text.rstrip("\n").endswith("RuntimeError: test hook: CELERYTOP_TEST_CRASH_KEY pressed")
