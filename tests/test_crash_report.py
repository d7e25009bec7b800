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
    assert re.fullmatch(r"crash-\d{8}-\d{6}\.log", os.path.basename(crash_file))

    with open(crash_file, encoding="utf-8") as fh:
        traceback_text = fh.read()
    assert traceback_text.startswith("Traceback (most recent call last):\n")
    # the whole way down: celerytop's front door, its camera mode, the camera's line
    assert 'celerytop/cli.py", line' in traceback_text and "in execute" in traceback_text
    assert 'celerytop/modes.py", line' in traceback_text and "in run_camera" in traceback_text
    assert 'crashcam.py", line 7, in on_shutter\n    return len(state.workers) / 0' in traceback_text
    assert traceback_text.rstrip("\n").endswith("ZeroDivisionError: division by zero")
