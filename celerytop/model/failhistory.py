"""Failures per minute of each failure group over the last hour, for the failures view's sparkline.

Kept apart from the groups themselves (failgroups.py), keyed by group id:
:class:`TrackedFailureGroups` (the model's) counts each failure in its group
as :class:`FailureGroups` does, then in that group's ring, at the failure's
timestamp (the time the group's first and last seen are in).  The groups are
bounded (``MAX_GROUPS`` and ``(other)``), so these rings are: 60 one-minute
buckets in a 4-byte array, about 350 bytes per group.  Pure: no urwid, no celery.
"""

from __future__ import annotations

from celerytop.model.buckets import Ring
from celerytop.model.failgroups import FailureGroups

BUCKET_SECONDS = 60
BUCKETS = 60  # one hour
#: The buckets the failures view draws (and batch JSON gives): the hour.
SHOWN = BUCKETS


class FailureHistory:
    """Failures per minute, per group id; not thread-safe (the model's lock)."""

    def __init__(self):
        self.rings: dict = {}  # group id -> Ring

    def failed(self, group, when) -> None:
        """A failure counted in ``group`` (a FailureGroup; None: not counted, nothing to do)."""
        if group is None:
            return
        ring = self.rings.get(group.id)
        if ring is None:
            ring = self.rings[group.id] = Ring(BUCKET_SECONDS, BUCKETS)
        ring.add(when)

    def series(self, now, count: int = SHOWN) -> dict:
        """{group id: the ``count`` minutes up to the one holding ``now``, oldest first}."""
        return {group_id: ring.series(now, count) for group_id, ring in self.rings.items()}

    def copy(self) -> dict:
        """{group id: a copy of its ring}:
        taken under the model's lock, turned to JSON after (aggregates_store.py)."""
        return {group_id: ring.copy() for group_id, ring in self.rings.items()}

    def restore(self, data, known_ids) -> None:
        """Saved rings back, for the groups in ``known_ids`` only (so the rings stay as bounded as the groups)."""
        for group_id, saved in (data.items() if isinstance(data, dict) else ()):
            if group_id in known_ids:
                ring = self.rings.get(group_id)
                if ring is None:
                    ring = self.rings[group_id] = Ring(BUCKET_SECONDS, BUCKETS)
                ring.restore(saved)


class TrackedFailureGroups(FailureGroups):
    """:class:`FailureGroups` whose every counted failure also goes in its group's ring (``history``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.history = FailureHistory()

    def add(self, uuid: str, name, hostname, timestamp, exception, traceback):
        group = super().add(uuid, name, hostname, timestamp, exception, traceback)
        self.history.failed(group, timestamp)
        return group
