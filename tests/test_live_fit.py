"""A long reply from several real workers, on every selected broker, as a person reads
it at 80 columns: the worker that did the work is named first, the rest are counted,
and the whole text is in the L view, wrapped rather than cut."""

from tests.test_live_control import monitor, row_with, select_task
from tests.test_screen_fit import flowing


def test_a_multi_worker_reply_names_the_worker_that_acted_first(broker, workers, tmp_path):
    # 'zbusy' sorts after 'idle': listed in name order, its reply was cut off at 80 columns
    workers("idle", concurrency=1)
    busy = workers("zbusy", concurrency=1, extra_args=("-Q", f"q-{broker.ns},busy-{broker.ns}"))
    with monitor(broker, tmp_path, cols=80, rows=24) as term:
        term.wait_for("Workers 2/2 online")  # (at 80 columns an amqp URL leaves only '● connec')
        long = broker.app.send_task("tests.sleep", (120,), queue=f"busy-{broker.ns}")
        term.wait_for(lambda t: "STARTED" in row_with(t, long.id[:8]), timeout=30)
        select_task(term, long.id)
        term.press("C")
        term.wait_for("signal (TERM")
        term.press("enter")
        term.wait_for("Revoke and terminate (SIGTERM) 1 task(s)?")
        term.press("y")
        term.wait_for(lambda t: "answered" in t.lines()[-1], timeout=30)
        status = term.lines()[-1]
        assert f"revoke: 2 answered, {busy.hostname}: terminate: {long.id[:8]}" in status, term.describe()
        assert status.rstrip().endswith("L for all"), status
        term.press("L")
        term.wait_for("Commands sent")
        text = flowing(term.lines())
        assert f"{busy.hostname} ok: terminate: {long.id}" in text, term.describe()
        assert "ok: terminate: tasks unknown" in text
