"""How many task events never reached us, counted from the workers' own tallies.

Every worker-heartbeat (and worker-online/offline) carries ``processed``:
celery's count of the tasks the worker's pool accepted
(``celery.worker.state.task_accepted``).  A worker counts a task there at the
moment it sends that task's task-started event, once per attempt (a retry is
a new request, counted again).  So between two heartbeats of one worker, the
rise of ``processed`` is how many task-started events it sent; every one that
did not arrive is a task whose events we lost, whatever lost them: a broken
stream, an outage, RabbitMQ dropping events older than celery's 5 s
event-queue TTL, a worker whose task events are off, or ``--only-events``
leaving them out.

A worker's event loop buffers task events and sends them soon after, but
heartbeats go out at once: a heartbeat may count a task whose task-started
arrives just after it.  Such an event is told by its timestamp (the worker's
clock, taken when the event was made: before that heartbeat's), so a
shortfall counts as missed only once the next heartbeat has given the late
events their chance; one later still takes its task back off the count.
"""

from __future__ import annotations

from collections import Counter

from celerytop.events.eventcheck import is_finite_number


class ProcessedGaps:
    """Task-started events each worker sent (its ``processed`` count) that never arrived."""

    def __init__(self):
        self.missed = 0  # all workers
        self.missed_by_worker: Counter = Counter()
        self._last: dict = {}  # hostname -> (processed, timestamp) of its last heartbeat used
        self._shortfall: Counter = Counter()  # hostname -> events the last heartbeat counted that had not come
        self._started: Counter = Counter()  # hostname -> task-started made since its last heartbeat
        self._late: Counter = Counter()  # hostname -> task-started made before it, arrived after

    def started(self, hostname: str, timestamp) -> None:
        """A task-started event from ``hostname`` arrived."""
        last = self._last.get(hostname)
        if last is not None and is_finite_number(timestamp) and timestamp <= last[1]:
            self._late[hostname] += 1
        else:
            self._started[hostname] += 1

    def beat(self, hostname: str, subject: str, processed, timestamp) -> None:
        """A worker-online, -heartbeat or -offline event (``subject``) arrived."""
        if type(processed) is not int or processed < 0 or not is_finite_number(timestamp):
            return  # says nothing we can count on
        last = self._last.get(hostname)
        if last is not None and timestamp <= last[1]:
            return  # a duplicate, or overtaken by a newer one: nothing new
        seen, late = self._started.pop(hostname, 0), self._late.pop(hostname, 0)
        self._last[hostname] = (processed, timestamp)
        if last is None or subject == "online" or processed < last[0]:
            self._shortfall[hostname] = 0  # the first heard, or a worker (re)started: its count begins anew
            return
        owed = self._shortfall[hostname]
        self._count(hostname, owed - late)  # still missing a whole heartbeat later: lost
        self._shortfall[hostname] = max(0, processed - last[0] - seen)

    def _count(self, hostname: str, lost: int) -> None:
        """Add ``lost`` to the count; a negative one: events counted lost arrived after all."""
        lost = max(lost, -self.missed_by_worker[hostname])
        self.missed += lost
        self.missed_by_worker[hostname] += lost
