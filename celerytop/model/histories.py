"""The model's histories together (per worker, per failure group) and their queries (those and the type statistics').

:class:`Histories` is what ``ClusterModel`` holds and feeds (``histories``);
:class:`HistoryQueries` is mixed into ``ClusterModel`` and reads them under its
lock with the model's clock (a replay's time during a replay).
"""

from __future__ import annotations

from celerytop.model import failhistory, typehistory, workerhistory
from celerytop.model.ratehistory import RateHistory
from celerytop.model.workerhistory import WorkerHistory


class Histories:
    """``workers`` (workerhistory.py).  The header's rate history and the per-type history are the type
    statistics' own (typestats.py, read by typehistory.py), the per-group one the failure groups' own
    (failgroups.py, read by failhistory.py): :class:`HistoryQueries` reads them all."""

    __slots__ = ("workers",)

    def __init__(self):
        self.workers = WorkerHistory()


class HistoryQueries:
    """The read side of the histories (UI thread, batch output)."""

    @property
    def rate_history(self) -> RateHistory:
        """Succeeded and failed per 10 s for the header (ratehistory.py); read it under the lock."""
        with self.lock:  # the type statistics count the moves noted when it is read
            return self.type_stats.rate

    def type_history(self, count: int = typehistory.SHOWN) -> dict:
        """{task type: finished per 10 s, the ``count`` buckets up to now, oldest first}."""
        with self.lock:
            return typehistory.series(self.type_stats, self._clock(), count)

    def worker_history(self, hostname: str, count: int = workerhistory.SHOWN):
        """(processed per 10 s, peak 1-minute load per 10 s or None), oldest first, to now; None: no heartbeat yet."""
        with self.lock:
            return self.histories.workers.series(hostname, self._clock(), count)

    def failure_history(self, count: int = failhistory.SHOWN) -> dict:
        """{failure group id: failures per minute, the ``count`` minutes up to now, oldest first}."""
        with self.lock:
            return failhistory.series(self._failures, self._clock(), count)
