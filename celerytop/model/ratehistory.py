"""Tasks succeeded and failed over time: a bounded ring of 10-second buckets, fed by ingest, read by the header.

Each bucket is ``int(t // BUCKET_SECONDS)`` of the event's ``local_received``,
so a replayed recording draws its own history.  The ring holds ``BUCKETS``
buckets (one hour); an event older than that, behind the newest bucket seen,
is dropped; memory stays the same whatever the rate.
"""

from __future__ import annotations

import math

BUCKET_SECONDS = 10
BUCKETS = 360  # one hour


class RateHistory:
    """Succeeded and failed counts per bucket, for the last ``BUCKETS`` buckets.

    ``add`` is on the ingest path: a few list operations, no allocation.
    """

    __slots__ = ("_stamps", "_succeeded", "_failed", "newest")

    def __init__(self):
        self._stamps = [-1] * BUCKETS  # the bucket number each slot holds now
        self._succeeded = [0] * BUCKETS
        self._failed = [0] * BUCKETS
        self.newest = -1  # the newest bucket number seen

    def add(self, failed: bool, when) -> None:
        """Count one task finished (succeeded, or ``failed``) at ``when`` (seconds since the epoch)."""
        newest = self.newest
        try:
            bucket = when // BUCKET_SECONDS
            if bucket == newest:  # the usual case: the newest bucket, whose slot holds it
                if failed:
                    self._failed[newest % BUCKETS] += 1
                else:
                    self._succeeded[newest % BUCKETS] += 1
                return
            bucket = int(bucket)
        except (TypeError, ValueError, OverflowError):  # not a finite number: not counted
            return
        if bucket > newest:
            self.newest = newest = bucket
        elif bucket <= newest - BUCKETS:
            return  # older than the ring: its slot holds a newer bucket
        slot = bucket % BUCKETS
        if self._stamps[slot] != bucket:
            self._stamps[slot] = bucket
            self._succeeded[slot] = self._failed[slot] = 0
        if failed:
            self._failed[slot] += 1
        else:
            self._succeeded[slot] += 1

    def series(self, now: float, count: int = BUCKETS) -> tuple[list, list]:
        """(succeeded, failed): the ``count`` buckets up to the one holding ``now``, oldest first, 0 where none.

        At most ``BUCKETS``; buckets after ``now`` (events stamped ahead of it) are left out.
        """
        count = max(0, min(int(count), BUCKETS))
        try:
            last = int(now // BUCKET_SECONDS)
        except (TypeError, ValueError, OverflowError):
            last = self.newest
        succeeded, failed = [0] * count, [0] * count
        stamps, ok, bad = self._stamps, self._succeeded, self._failed
        for i, bucket in enumerate(range(last - count + 1, last + 1)):
            slot = bucket % BUCKETS
            if stamps[slot] == bucket:
                succeeded[i], failed[i] = ok[slot], bad[slot]
        return succeeded, failed


def per_second(series: list, bucket_seconds: float = BUCKET_SECONDS) -> float:
    """The rate over the newest full bucket (the one before the newest, which is still filling); 0 without one."""
    if len(series) < 2:
        return 0.0
    rate = series[-2] / bucket_seconds
    return rate if math.isfinite(rate) else 0.0
