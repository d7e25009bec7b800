"""Each worker's tasks processed and load average over time, from its heartbeats, for the worker detail view.

A heartbeat (or worker-online/offline) carries the worker's ``processed``
total and its ``loadavg``; the difference between two heartbeats' totals is
counted in the later one's 10-second bucket (so processed/s is a bucket over
10), and the 1-minute load average's largest value in each bucket is kept.
A total lower than the last one (the worker restarted) only becomes the new
base.  Per worker: two rings of :data:`BUCKETS` buckets (an hour) in 4-byte
arrays, about 3 KB; at most :data:`MAX_WORKERS` workers, the one heard from
longest ago forgotten first.  Pure: no urwid, no celery.
"""

from __future__ import annotations

from celerytop.model.buckets import Ring

BUCKET_SECONDS = 10
BUCKETS = 360  # one hour
MAX_WORKERS = 1000
#: The buckets worker detail draws: ten minutes.
SHOWN = 60


class WorkerTrend:
    """One worker's rings, and the last ``processed`` total seen."""

    __slots__ = ("processed", "load", "last_processed")

    def __init__(self):
        self.processed = Ring(BUCKET_SECONDS, BUCKETS)
        self.load = Ring(BUCKET_SECONDS, BUCKETS, "f")
        self.last_processed = None


class WorkerHistory:
    """Processed per 10 s and peak load per 10 s, per worker; not thread-safe (the model's lock)."""

    def __init__(self, max_workers: int = MAX_WORKERS):
        self.max_workers = max(1, int(max_workers))
        self.workers: dict = {}  # hostname -> WorkerTrend

    def _trend(self, hostname: str) -> WorkerTrend:
        trend = self.workers.get(hostname)
        if trend is None:
            if len(self.workers) >= self.max_workers:  # rare: only a new worker past the bound pays this
                oldest = min(self.workers, key=lambda h: self.workers[h].processed.newest)
                del self.workers[oldest]
            trend = self.workers[hostname] = WorkerTrend()
        return trend

    def event(self, hostname: str, event: dict) -> None:
        """A worker event (heartbeat, online, offline) at its ``local_received``."""
        processed, loadavg = event.get("processed"), event.get("loadavg")
        if processed is None and loadavg is None:
            return
        when = event.get("local_received")
        trend = self._trend(hostname)
        if type(processed) is int and processed >= 0:
            last = trend.last_processed
            if last is not None and processed >= last:
                trend.processed.add(when, processed - last)
            trend.last_processed = processed
        if isinstance(loadavg, (list, tuple)) and loadavg:
            trend.load.peak(when, loadavg[0])

    def series(self, hostname: str, now, count: int = SHOWN):
        """(processed per bucket, peak 1-minute load per bucket or None), oldest first, to now; None if unknown."""
        trend = self.workers.get(hostname)
        if trend is None:
            return None
        return trend.processed.series(now, count), trend.load.series(now, count)

    def copy(self) -> dict:
        """{hostname: (processed ring copy, load ring copy, last processed)}:
        taken under the model's lock, turned to JSON after (aggregates_store.py)."""
        return {host: (t.processed.copy(), t.load.copy(), t.last_processed) for host, t in self.workers.items()}

    def restore(self, data) -> None:
        for hostname, saved in (data.items() if isinstance(data, dict) else ()):
            if not isinstance(saved, dict):
                continue
            known = hostname in self.workers
            trend = self._trend(hostname)
            trend.processed.restore(saved.get("processed"))
            trend.load.restore(saved.get("load"))
            last = saved.get("last_processed")
            if not known and type(last) is int:
                trend.last_processed = last
