"""Task events that never arrive, for real: counted from the workers' heartbeats, then put right.

The events are dropped by ``--only-events workers``: the broker (RabbitMQ,
Redis) or the consumer (filesystem transport) leaves every task event out,
while the workers' heartbeats, carrying their ``processed`` counts, come
through.  For celerytop that is the same as a stream that loses task events.
"""

import pytest

from tests.live import EventCollector, wait_until
from tests.screen import cell_fg
from tests.test_live_console import command
from tests.test_live_control import audit_entries, monitor, row_with


def heard_from(term, worker):
    """The worker's own heartbeat arrived (a ping alone names no software): the count starts there."""
    return "py-celery" in row_with(term, worker.hostname[:20])


def test_task_events_dropped_on_the_way_are_counted_in_the_header(broker, workers, tmp_path):
    worker = workers("lossy")
    with monitor(broker, tmp_path, "--only-events", "workers") as term:
        term.wait_for(lambda t: heard_from(t, worker), timeout=40)
        with EventCollector(broker.app) as events:  # a heartbeat with its count, before any task
            events.wait_for("worker-heartbeat", hostname=worker.hostname, processed=0)
        results = [broker.app.send_task("tests.add", (i, i)) for i in range(3)]
        for result in results:
            result.get(timeout=30)
        term.wait_for(lambda t: "~3 task events missed (:reconcile)" in t.lines()[0], timeout=30)
        assert cell_fg(term, "missed", "~3 task") == "red"
        assert "tests.add" not in term.text(), "the task events were not dropped"
        term.press("q")
        assert term.wait_exit() == 0


@pytest.mark.parametrize("via", ["prompt", "stuck view"])
def test_reconcile_corrects_a_task_whose_succeeded_event_was_dropped(broker, workers, tmp_path, via):
    # The task is running when celerytop starts: seeding ('inspect active') shows it STARTED.
    # Its task-succeeded never comes (--only-events workers): only reconcile can tell.
    worker = workers("recon")
    running = broker.app.send_task("tests.sleep", (8,))
    wait_until(lambda: broker.app.control.inspect(destination=[worker.hostname], timeout=1).active(),
               timeout=20, message="the worker never started the task")
    short = running.id[:8]
    with monitor(broker, tmp_path, "--only-events", "workers", "--read-only") as term:
        term.wait_for(lambda t: "STARTED" in row_with(t, short), timeout=30)
        running.get(timeout=30)
        term.wait_for(lambda t: heard_from(t, worker), timeout=30)
        assert "STARTED" in row_with(term, short), "the task-succeeded event was not dropped"
        if via == "prompt":
            command(term, "reconcile")
        else:  # the stuck and lost view's r: the same reconcile, said the same way
            term.press("S")
            term.wait_for("Stuck and lost  0 lost · 0 stuck")
            term.press("r")
            term.wait_for("reconcile: corrected 1 of 1 (1 → SUCCESS)", timeout=30)
            term.press("esc")
        term.wait_for(lambda t: "SUCCESS" in row_with(t, short), timeout=30)
        assert cell_fg(term, short, "SUCCESS") == "green"
        term.wait_for("reconcile: corrected 1 of 1 (1 → SUCCESS)")
        entry = next(e for e in audit_entries(term) if e["command"] == "reconcile")
        assert entry["replies"][running.id] == {"ok": "STARTED → SUCCESS (result backend)"}
        term.press("L")
        term.wait_for("STARTED → SUCCESS (result backend)")
        term.press("esc")
        term.press("q")
        assert term.wait_exit() == 0
