"""A real worker stops: ``--batch --exit-on-alert`` reports it offline in its JSON and exits 3, on every broker."""

import json
import signal
import subprocess

from tests.live import REPO_ROOT
from tests.screen import BIN
from tests.test_live_modes import Output


def test_a_stopped_worker_fires_worker_offline_and_batch_exits_3(broker, workers):
    worker = workers("alerts")
    # silence is off: a stopped worker's last events end the stream, and only worker-offline is asked about
    proc = subprocess.Popen([BIN, "-A", "tests.liveapp", "--batch", "--format", "json", "--exit-on-alert",
                             "--delay", "2", "--iterations", "30", "--no-alert", "silence"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=broker.subprocess_env(),
                            cwd=str(REPO_ROOT), stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        output = Output(proc)
        output.wait_for(f'"hostname": "{worker.hostname}", "online": true')  # seen alive first
        assert proc.poll() is None  # nothing fires while it runs
        worker.kill(signal.SIGTERM)  # a warm shutdown: worker-offline, then no more heartbeats
        worker.proc.wait(30)
        assert proc.wait(60) == 3, proc.stderr.read().decode(errors="replace")
        output.join(5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    snapshots = [json.loads(line) for line in output.text().splitlines()]
    assert all(snapshot["alerts"] == [] for snapshot in snapshots[:-1])  # it stopped at the first that fired
    alerts = snapshots[-1]["alerts"]
    assert [(a["rule"], a["subject"], a["kind"], a["cleared_at"]) for a in alerts] == [
        ("worker-offline", worker.hostname, "worker", None)]
