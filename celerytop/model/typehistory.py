"""Tasks finished per task type over time: one ring of 10-second buckets per type, for the types view's sparkline.

Fed by the model's ingest where the header's rate history is (a task entering
SUCCESS or FAILURE, at its ``local_received``), so a replay draws its own
history.  A type has its own ring when the type statistics (typestats.py)
give it its own row; the rest count in the ``(other)`` ring, so at most
``max_types`` rings exist.  Each ring keeps :data:`BUCKETS` buckets (an hour)
in a 4-byte array: about 1.6 KB per type, 1.6 MB with 1,000 types.
Eviction of tasks changes nothing here.  Pure: no urwid, no celery.
"""

from __future__ import annotations

from celerytop.model.buckets import Ring
from celerytop.model.typestats import MAX_TYPES, OTHER

BUCKET_SECONDS = 10
BUCKETS = 360  # one hour
#: The buckets the types view draws (and batch JSON gives per type): five minutes.
SHOWN = 30


class TypeHistory:
    """Finished tasks (succeeded or failed) per 10 s, per type; not thread-safe (the model's lock)."""

    def __init__(self, known_types: dict, max_types: int = MAX_TYPES):
        self._known = known_types  # TypeStats.types: the names with a row of their own
        self.max_types = max_types
        self.rings: dict = {}  # name (or OTHER) -> Ring

    def finished(self, name, when) -> None:
        """One task of type ``name`` finished at ``when`` (seconds since the epoch)."""
        ring = self.rings.get(name)
        if ring is None:
            ring = self._ring(name)
            if ring is None:
                return
        ring.add(when)

    def _ring(self, name):
        if type(name) is not str:
            return None
        if name not in self._known:
            name = OTHER
        ring = self.rings.get(name)
        if ring is None:
            if len(self.rings) > self.max_types:  # typestats bounds the names first; this is a backstop
                return None
            ring = self.rings[name] = Ring(BUCKET_SECONDS, BUCKETS)
        return ring

    def series(self, now, count: int = SHOWN) -> dict:
        """{name: the ``count`` buckets up to the one holding ``now``, oldest first}."""
        return {name: ring.series(now, count) for name, ring in self.rings.items()}

    def copy(self) -> dict:
        """{name: a copy of its ring}: taken under the model's lock, turned to JSON after (aggregates_store.py)."""
        return {name: ring.copy() for name, ring in self.rings.items()}

    def restore(self, data) -> None:
        """Saved rings back (counts added to any already here); names typestats does not know count in (other)."""
        for name, saved in (data.items() if isinstance(data, dict) else ()):
            ring = self._ring(name)
            if ring is not None:
                ring.restore(saved)
