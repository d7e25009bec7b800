"""Lost tasks, for real: a worker killed with SIGKILL mid-task leaves its task LOST in the monitor (screen and the
S view), on the filesystem broker, Redis and RabbitMQ; the view's r reconciles and says what it changed."""

import json

from tests.screen import cell_fg
from tests.test_live_control import monitor, row_with


def test_a_worker_killed_mid_task_leaves_its_task_lost(broker, workers, tmp_path):
    doomed = workers("doomed")
    with monitor(broker, tmp_path, "--read-only") as term:  # read-only: reconcile changes nothing in the cluster
        term.wait_for(lambda t: "online" in row_with(t, doomed.hostname[:20]), timeout=40)
        running = broker.app.send_task("tests.sleep", (120,))
        short = running.id[:8]
        term.wait_for(lambda t: "STARTED" in row_with(t, short).split(), timeout=30)
        assert "lost" not in term.lines()[1]
        doomed.kill()  # SIGKILL to the worker and its pool: no task-failed, no worker-offline, heartbeats stop
        doomed.proc.wait()
        term.wait_for(lambda t: "LOST" in row_with(t, short).split(), timeout=30)  # two heartbeat intervals on
        assert cell_fg(term, short, "LOST") == "red"
        assert "worker offline: " + doomed.hostname[:10] in row_with(term, short)
        term.wait_for(lambda t: "lost 1" in t.lines()[1])
        assert cell_fg(term, "Workers", "lost 1") == "red"
        term.press("S")
        term.wait_for("Stuck and lost  1 lost · 0 stuck")
        row = next(line for line in term.lines() if line.startswith(" LOST "))
        assert row.split()[1:3] == ["tests.sleep", short] and "STARTED" in row.split(), row
        assert "heartbeats stopped" in row
        term.press("r")  # nobody holds it and the result backend never heard of it: nothing to correct
        term.wait_for("reconcile: 1 task(s) asked about, none changed", timeout=30)
        assert "LOST" in next(line for line in term.lines() if line.startswith(" LOST "))
        entry = [json.loads(line) for line in term.audit_path.read_text().splitlines()][-1]
        assert entry["command"] == "reconcile" and running.id in entry["replies"]
        term.press("enter")
        term.wait_for("match 'is:lost'")
        assert "LOST" in row_with(term, short).split()
        term.press("q")
        assert term.wait_exit() == 0
