"""Live: a real ``celery beat`` with a one-second entry runs, is stopped, and celerytop's batch JSON reports a missed run.

On every broker of tests/live.py (filesystem, Redis, RabbitMQ): celerytop
(``-A tests.beatapp:live``, batch JSON every half second) watches while beat
sends ``tests.add(2, 3)`` every second to a real worker; once a few runs are
seen, beat is stopped (SIGTERM) and the entry must show a missed run after
the last run seen, within the tolerance of 5 s plus a period.
"""

import json
import os
import signal
import subprocess
import sys
import threading

from tests.live import REPO_ROOT, wait_until
from tests.screen import BIN


class Snapshots(threading.Thread):
    """The batch JSON snapshots as they come, so the test waits for one instead of sleeping."""

    def __init__(self, proc):
        super().__init__(daemon=True)
        self.proc, self.lines = proc, []
        self.start()

    def run(self):
        for line in iter(self.proc.stdout.readline, b""):
            self.lines.append(line)

    def entry(self):
        """The every-second entry in the latest snapshot, or None before the first."""
        if not self.lines:
            return None
        beat = json.loads(self.lines[-1])["beat"]
        assert beat["note"] == "", beat
        (row,) = beat["entries"]
        return row


def until(predicate, snapshots, timeout, what):
    """wait_until, failing with the entry as it is at the end of the wait (not as it was at its start)."""
    try:
        wait_until(predicate, timeout=timeout)
    except AssertionError:
        raise AssertionError(f"{what}: {snapshots.entry()}") from None


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_a_stopped_beat_shows_a_missed_run(broker, workers, tmp_path):
    env = broker.subprocess_env(CELERYTOP_TEST_BEAT_DB=str(tmp_path / "beat-schedule"))
    worker = workers("w1")
    monitor = subprocess.Popen([BIN, "-A", "tests.beatapp:live", "--batch", "--format", "json", "--delay", "0.5",
                                "--iterations", "400"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               cwd=str(REPO_ROOT), stdin=subprocess.DEVNULL, start_new_session=True)
    beat = None
    beat_log = open(tmp_path / "beat.log", "wb")
    try:
        snapshots = Snapshots(monitor)
        wait_until(lambda: snapshots.entry() is not None, timeout=30, message="no batch snapshot")
        assert snapshots.entry()["schedule"] == "every 1 s" and snapshots.entry()["runs_seen"] == 0
        beat = subprocess.Popen([sys.executable, "-m", "celery", "-A", "tests.beatapp:live", "beat", "-l", "info",
                                 "-s", str(tmp_path / "beat-schedule"), "--pidfile", ""],
                                stdout=beat_log, stderr=subprocess.STDOUT, env=env,
                                cwd=str(REPO_ROOT), stdin=subprocess.DEVNULL, start_new_session=True)
        until(lambda: snapshots.entry()["runs_seen"] >= 1, snapshots, 60,
              f"beat's runs not seen (beat log: {tmp_path / 'beat.log'})")
        # beat takes a while to start, and a first run later than a period after the monitor started is
        # missed; once it runs, runs on time add none
        before_first = snapshots.entry()["missed"]
        until(lambda: snapshots.entry()["runs_seen"] >= 4 and snapshots.entry()["last_state"] == "SUCCESS",
              snapshots, 30, f"the worker's runs not seen (worker log: {worker.log_path})")
        assert snapshots.entry()["missed"] == before_first
        stop(beat)
        last_run = snapshots.entry()["last_run"]
        until(lambda: (snapshots.entry()["last_missed"] or 0) > snapshots.entry()["last_run"], snapshots, 30,
              "no missed run reported after beat stopped")
        missed = snapshots.entry()
        assert missed["missed"] >= 1 and missed["runs_seen"] >= 4
        assert missed["last_run"] >= last_run and missed["last_missed"] > missed["last_run"]
        assert missed["tolerance"] == 5.0
    finally:
        if beat is not None:
            stop(beat)
        stop(monitor)
        beat_log.close()
