"""Seeding puts each worker on screen as its ping reply arrives, not when the round ends.

Real workers on every selected broker; the statements are about order (the
worker is there while the ping, or the whole seeding round, is still
waiting), never about how long anything took.
"""

import os
import sys

from celerytop.control.control import Control
from celerytop.model import seed
from celerytop.model.cluster import ClusterModel
from tests.events import heartbeat
from tests.live import REPO_ROOT, wait_until
from tests.terminal import Terminal

BIN = os.path.join(os.path.dirname(sys.executable), "celerytop")

#: Seconds every reply round waits: long enough that "before the round ended"
#: cannot be confused with "just after it".
LONG_TIMEOUT = 10.0


class RecordingControl(Control):
    """The real Control, noting which calls have returned (the order the test asserts on)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.returned: list = []

    def ping(self, *args, **kwargs):
        replies = super().ping(*args, **kwargs)
        self.returned.append("ping")
        return replies

    def inspect(self, method, *args, **kwargs):
        replies = super().inspect(method, *args, **kwargs)
        self.returned.append(method)
        return replies


def test_a_ping_reply_puts_the_worker_in_the_model_before_the_ping_returns(broker, workers):
    worker = workers("pinged", events=False)  # nothing but its ping reply can name it
    model = ClusterModel()
    control = RecordingControl(broker.app, timeout=3.0, read_only=True)
    calls_done_when_added = {}
    model.on_new_worker = lambda hostname: calls_done_when_added.setdefault(hostname, list(control.returned))
    try:
        report = seed.seed(model, control)
    finally:
        control.close()
    assert report.workers == (worker.hostname,)
    assert calls_done_when_added == {worker.hostname: []}  # no reply round had ended yet
    row = next(row for row in model.worker_rows() if row.hostname == worker.hostname)
    # then inspect stats and active filled in what a ping does not say
    assert row.online and row.active == 0 and isinstance(row.processed, int)


def test_the_workers_own_heartbeat_during_seeding_is_not_overwritten(broker, workers):
    worker = workers("beating", events=False)
    model = ClusterModel()

    class HeartbeatDuringInspect(RecordingControl):
        """Delivers the worker's own heartbeat (made here: a real one cannot be timed
        to land between the ping and the inspects) while 'inspect stats' is out."""

        def inspect(self, method, *args, **kwargs):
            if method == "stats":
                model.on_event(heartbeat(worker.hostname, freq=2.0, processed=7))
            return super().inspect(method, *args, **kwargs)

    control = HeartbeatDuringInspect(broker.app, timeout=2.0, read_only=True)
    try:
        seed.seed(model, control)
    finally:
        control.close()
    assert model.heartbeat_freq(worker.hostname) == 2.0  # its own, not the seeded 60 s
    row = next(row for row in model.worker_rows() if row.hostname == worker.hostname)
    assert row.processed == 7 and row.software == "py-celery 5.7.0"


def test_a_worker_is_on_screen_while_the_seeding_round_still_waits(broker, workers):
    # celerytop receives failures only (--only-events), so not the worker's
    # heartbeats: the worker can only be named by its ping reply, and its running
    # task only by 'inspect active', which is asked after the ping's 10 s.  The
    # timer would refresh only every 30 s.
    worker = workers("early")
    running = broker.app.send_task("tests.sleep", (60,))
    wait_until(lambda: broker.app.control.inspect(destination=[worker.hostname], timeout=1).active(),
               timeout=20, message="the worker never started the task")
    with Terminal([BIN, "-A", "tests.liveapp", "--refresh", "30", "--timeout", str(LONG_TIMEOUT),
                   "--only-events", "failures"], cols=140, rows=40, env=broker.env, cwd=str(REPO_ROOT)) as term:
        term.wait_for(worker.hostname[:20], timeout=LONG_TIMEOUT * 0.6)
        assert running.id[:8] not in term.text()  # the seeding round has not ended
        assert "online" in next(line for line in term.lines() if worker.hostname[:20] in line)
        term.wait_for(running.id[:8], timeout=LONG_TIMEOUT * 3)  # it ends, and adds the task
        term.press("q")
        assert term.wait_exit() == 0
