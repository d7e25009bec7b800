"""Alerts against real brokers and workers: a stopped worker makes ``--batch --exit-on-alert`` exit 3; a queue
left to fill fires the queue-depth alert on the screen (its own sampling, the queues view never opened) and
clears when purged."""

import json
import signal
import subprocess

from celerytop.control.queues.probe import DepthProbe
from tests.live import REPO_ROOT
from tests.screen import BIN
from tests.test_live_control import monitor
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


def test_a_deep_queue_fires_on_the_screen_with_the_queues_view_never_opened(broker, workers, tmp_path):
    queue = f"qa-{broker.ns}"
    worker = workers("w1", extra_args=("-Q", queue, "--prefetch-multiplier", "1"))
    try:
        with monitor(broker, tmp_path, "--alert-queue-depth", "3", "--no-alert", "silence", cols=160, rows=30) as term:
            term.wait_for(" Workers 1/1 online")
            # the worker runs one 60 s task at a time and prefetches one: the other 6 wait in the queue
            for _ in range(8):
                broker.app.send_task("tests.sleep", args=(60,), queue=queue)
            # the queues view ('u') was never opened: the queue rule's own sampling measured it
            term.wait_for(f"ALERT queue deep: {queue}", timeout=30)
            assert term.fg("ALERT queue deep", bright=False) == "red"
            purge(broker, queue)
            term.wait_for(lambda t: "ALERT queue deep" not in t.text(), timeout=30)  # it clears
            fired = [(line["event"], line["rule"], line["subject"]) for line in alert_lines(term)]
            assert fired == [("fired", "queue-depth", queue), ("cleared", "queue-depth", queue)]
            assert alert_lines(term)[0]["message"].endswith("messages (more than 3)")
    finally:
        worker.kill()


def alert_lines(term):
    path = term.audit_path.parent / "alerts.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def purge(broker, queue):
    probe = DepthProbe(broker.app)
    try:
        probe.purge(queue)
    finally:
        probe.close()
