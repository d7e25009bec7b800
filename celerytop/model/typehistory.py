"""Tasks finished per task type over time, for the types view's sparkline: the reading side of typestats' history.

The model's type statistics (typestats.py) count each task entering SUCCESS
or FAILURE, at its ``local_received``, in 10-second buckets kept for an hour
(one row of all the types' counts per bucket: buckets.Columns), so a replay
draws its own history.  A type has its own sparkline when it has its own
type row; the rest count in ``(other)``'s.  About 4 KB per bucket with 1,000
types, 1.4 MB for the hour.  Eviction of tasks changes nothing here.  Pure:
no urwid, no celery.
"""

from __future__ import annotations

from celerytop.model.typestats import HISTORY_SECONDS, TypeStats

BUCKET_SECONDS = HISTORY_SECONDS

#: The buckets the types view draws (and batch JSON gives per type): five minutes.
SHOWN = 30


def series(stats: TypeStats, now, count: int = SHOWN) -> dict:
    """{name: the ``count`` buckets up to the one holding ``now``, oldest first}, for every type counted."""
    stats.fold()
    history = stats.history
    return {name: history.series(column, now, count) for name, column in stats.ids.items()}


def copy(stats: TypeStats) -> tuple:
    """({name: column}, a copy of the history's rows): taken under the model's lock, turned to JSON after by
    :func:`to_dicts` (aggregates_store.py)."""
    stats.fold()
    return dict(stats.ids), stats.history.copy()


def to_dicts(copied: tuple) -> dict:
    """{name: its history as --db saves it (the format of buckets.Ring.to_dict)}, from a :func:`copy`."""
    ids, history = copied
    held = history.held()
    return {name: {"width": HISTORY_SECONDS, "buckets": held.get(column, [])} for name, column in ids.items()}


def restore(stats: TypeStats, data) -> None:
    """Saved histories back (counts added to any already here), after the type statistics (their names: a
    history whose type has no statistics, because that part of the file was unreadable, is skipped)."""
    stats.fold()
    history = stats.history
    for name, saved in (data.items() if isinstance(data, dict) else ()):
        column = stats.ids.get(name) if type(name) is str else None
        if column is None or not (isinstance(saved, dict) and saved.get("width") == HISTORY_SECONDS
                                  and isinstance(saved.get("buckets"), list)):
            continue
        for entry in sorted(e for e in saved["buckets"] if isinstance(e, list) and len(e) == 2
                            and type(e[0]) is int and type(e[1]) is int and e[1] > 0):
            history.add_bucket(entry[0], column, entry[1])
