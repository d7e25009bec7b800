"""--batch, --dump and --camera never import urwid: they run where only the
text is wanted (cron, CI, a pipe), and urwid is the screen's alone."""

import os
import subprocess
import sys

from tests.events import heartbeat, task_lifecycle
from tests.hostile import recording_text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

RUN_EVERY_TEXT_MODE = """
import sys

import celerytop.modes.batch, celerytop.modes.camera, celerytop.modes.dump, celerytop.modes.sources
from celerytop import cli

recording = sys.argv[1]
for mode in (["--batch"], ["--batch", "--format", "json"], ["--dump"],
             ["--camera", "celery.events.snapshot.Polaroid"]):
    try:
        cli.main([*mode, "--replay", recording, "--speed", "0"])
    except SystemExit as exc:
        assert exc.code == 0, (mode, exc.code)
print("urwid imported" if "urwid" in sys.modules else "no urwid")
"""


def test_batch_dump_and_camera_run_a_recording_without_importing_urwid(tmp_path):
    uuid, events = task_lifecycle(name="proj.add", hostname="w1@host")
    path = tmp_path / "recorded.jsonl"
    path.write_text(recording_text([heartbeat("w1@host"), *events]))
    env = dict(os.environ, PYTHONPATH=ROOT, XDG_STATE_HOME=str(tmp_path / "state"))
    result = subprocess.run([sys.executable, "-c", RUN_EVERY_TEXT_MODE, str(path)], capture_output=True,
                            text=True, timeout=120, cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert uuid[:8] in result.stdout and "proj.add" in result.stdout  # the modes did run
    assert "Taking snapshots" in result.stdout
    assert result.stdout.splitlines()[-1] == "no urwid"
