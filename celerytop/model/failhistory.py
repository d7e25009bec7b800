"""Failures per minute of each failure group over the last hour, for the failures view's sparkline.

Each group (failgroups.py) keeps its ring (``FailureGroup.minutes``, made by
:func:`minute_ring`) and counts every failure it counts there, at the
failure's timestamp (the time the group's first and last seen are in); this
module reads them.  The groups are bounded (``MAX_GROUPS`` and ``(other)``),
so these rings are: 60 one-minute buckets in a 4-byte array, about 350 bytes
per group.  Pure: no urwid, no celery.
"""

from __future__ import annotations

from celerytop.model.buckets import Ring

BUCKET_SECONDS = 60
BUCKETS = 60  # one hour
#: The buckets the failures view draws (and batch JSON gives): the hour.
SHOWN = BUCKETS


def minute_ring() -> Ring:
    """A group's failures per minute over the hour."""
    return Ring(BUCKET_SECONDS, BUCKETS)


def _groups(failures) -> list:
    """Every group of a FailureGroups, (other) included."""
    return list(failures.groups.values()) + ([failures.other] if failures.other is not None else [])


def series(failures, now, count: int = SHOWN) -> dict:
    """{group id: the ``count`` minutes up to the one holding ``now``, oldest first}, for every group."""
    return {group.id: group.minutes.series(now, count) for group in _groups(failures)}


def copy(failures) -> dict:
    """{group id: a copy of its ring}: taken under the model's lock, turned to JSON after (aggregates_store.py)."""
    return {group.id: group.minutes.copy() for group in _groups(failures)}


def restore(failures, data) -> None:
    """Saved rings back into the groups with those ids (restored first: the saved groups' rings come back with
    them, and the rings stay as bounded as the groups)."""
    if not isinstance(data, dict):
        return
    for group in _groups(failures):
        saved = data.get(group.id)
        if saved is not None:
            group.minutes.restore(saved)
