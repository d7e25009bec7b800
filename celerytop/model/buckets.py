"""A small fixed ring of time buckets in a typed array: counts (or peaks) per bucket, the newest few hundred.

The per-type, per-worker and per-failure-group histories (typehistory.py,
workerhistory.py, failhistory.py) each keep one :class:`Ring` per thing.
Bucket ``b`` holds the times ``[b * width, (b + 1) * width)``; a ring of
``size`` slots keeps the buckets ``newest - size + 1 .. newest`` and forgets
older ones when newer arrive (their slots are blanked as the ring moves on),
so no per-slot stamp is stored: memory is one array of ``size`` numbers
(4 bytes each) and two ints.  A value stamped more than ``size`` buckets behind
the newest is dropped.  Pure: no urwid, no celery.
"""

from __future__ import annotations

import math
from array import array

_NAN = math.nan


class Ring:
    """``size`` buckets of ``width`` seconds: ``add`` counts, ``peak`` keeps the largest value seen per bucket."""

    __slots__ = ("width", "size", "newest", "values", "_blank")

    def __init__(self, width: float, size: int, typecode: str = "I"):
        self.width = width
        self.size = size
        self.newest = -1  # the newest bucket number seen; -1: none yet
        self._blank = 0 if typecode in "IL" else _NAN  # "f" rings (peaks) have no value as NaN
        self.values = array(typecode, [self._blank]) * size

    def slot(self, when):
        """The slot for a time, moving the ring on if it is the newest; None if too old or not a number."""
        try:
            bucket = int(when // self.width)
        except (TypeError, ValueError, OverflowError):  # NaN, None, text: not kept
            return None
        newest, size = self.newest, self.size
        if bucket > newest:
            values, blank = self.values, self._blank
            if newest < 0:  # never used: blank already
                pass
            elif bucket - newest >= size:
                values[:] = array(values.typecode, [blank]) * size
            else:
                for b in range(newest + 1, bucket + 1):
                    values[b % size] = blank
            self.newest = bucket
        elif bucket <= newest - size:
            return None
        return bucket % size

    def add(self, when, count: int = 1) -> None:
        """Count ``count`` at ``when`` (seconds since the epoch)."""
        slot = self.slot(when)
        if slot is not None:
            self.values[slot] += count

    def peak(self, when, value: float) -> None:
        """Keep ``value`` at ``when`` if it is the largest in its bucket (a "f" ring)."""
        if not (isinstance(value, (int, float)) and math.isfinite(value)):
            return
        slot = self.slot(when)
        if slot is not None:
            kept = self.values[slot]
            if not kept >= value:  # NaN (nothing yet) fails
                self.values[slot] = value

    def series(self, now, count: int) -> list:
        """The ``count`` buckets up to the one holding ``now``, oldest first; 0 (or None in a peak ring) where none."""
        count = max(0, min(int(count), self.size))
        try:
            last = int(now // self.width)
        except (TypeError, ValueError, OverflowError):
            last = self.newest
        newest, size, values, counting = self.newest, self.size, self.values, self._blank == 0
        out = []
        for bucket in range(last - count + 1, last + 1):
            value = values[bucket % size] if newest - size < bucket <= newest else self._blank
            if not counting:
                value = None if value != value else round(value, 2)
            out.append(value)
        return out

    # -- --db (aggregates_store.py) --------------------------------------------------------------
    def copy(self) -> "Ring":
        """A copy (one array copy: cheap under the model's lock; :meth:`to_dict` it after)."""
        twin = Ring.__new__(Ring)
        twin.width, twin.size, twin.newest, twin._blank = self.width, self.size, self.newest, self._blank
        twin.values = self.values[:]
        return twin

    def to_dict(self) -> dict:
        """The buckets held, by number (so their times are kept): {"width", "buckets": [[bucket, value], ...]}."""
        newest, size, counting = self.newest, self.size, self._blank == 0
        if newest < 0:
            return {"width": self.width, "buckets": []}
        # slot s holds the bucket within the last ``size`` up to newest that is s modulo size
        held = [[newest - (newest - slot) % size, value if counting else round(value, 3)]
                for slot, value in enumerate(self.values) if (value if counting else value == value)]
        held.sort()
        return {"width": self.width, "buckets": held}

    def restore(self, data) -> None:
        """Put saved buckets back (added to what is here; a peak ring keeps the larger); odd entries are skipped."""
        if not isinstance(data, dict) or data.get("width") != self.width or not isinstance(data.get("buckets"), list):
            return
        for entry in data["buckets"]:
            if not (isinstance(entry, list) and len(entry) == 2 and type(entry[0]) is int
                    and isinstance(entry[1], (int, float)) and not isinstance(entry[1], bool)):
                continue
            when = entry[0] * self.width
            if self._blank == 0:
                slot = self.slot(when)
                if slot is not None and entry[1] > 0:
                    self.values[slot] = min(self.values[slot] + int(entry[1]), 0xFFFFFFFF)
            else:
                self.peak(when, entry[1])


class Columns:
    """Counts per column (a task type's number) per time bucket, for the newest ``size`` buckets: one row per bucket.

    Slot-major, unlike a :class:`Ring` per thing: ingest touches only the newest
    bucket's row (a few KB, so it stays in the CPU's cache whatever the number of
    types) instead of one ring per type.  A row is a 4-byte array as long as the
    columns known when it was made (``capacity``); a shorter row reads 0 for the
    columns after it.  Buckets are numbered as :class:`Ring`'s.  Pure: no urwid, no celery.
    """

    __slots__ = ("width", "size", "capacity", "rows", "bucket", "row")

    def __init__(self, width: float, size: int, capacity: int = 0):
        self.width = width
        self.size = size
        self.capacity = capacity  # the columns a new row has room for
        self.rows: dict = {}  # bucket number -> array("I") of counts by column
        self.bucket = None  # the newest bucket number; its row is ``row`` (the ingest's fast path)
        self.row = None

    def grow(self, capacity: int) -> None:
        """Room for ``capacity`` columns in the rows made from now on, and in the newest row."""
        self.capacity = capacity
        row = self.row
        if row is not None and len(row) < capacity:
            row.extend(array("I", bytes(4 * (capacity - len(row)))))

    def add(self, when, column: int, count: int = 1) -> None:
        """Count ``count`` in ``column`` at ``when`` (seconds); a time older than the rows kept, or not a number, is
        dropped.  The ingest's usual case (``when`` in the newest bucket) is ``row[column] += 1`` done by the caller."""
        try:
            bucket = int(when // self.width)
        except (TypeError, ValueError, OverflowError):
            return
        self.add_bucket(bucket, column, count)

    def add_bucket(self, bucket: int, column: int, count: int = 1) -> None:
        """:meth:`add` by bucket number."""
        newest, rows = self.bucket, self.rows
        if newest is None or bucket > newest:
            row = rows[bucket] = array("I", bytes(4 * self.capacity))
            self.bucket, self.row = bucket, row
            for old in [b for b in rows if b <= bucket - self.size]:
                del rows[old]
        elif bucket <= newest - self.size:
            return
        else:
            row = rows.get(bucket)
            if row is None:
                row = rows[bucket] = array("I", bytes(4 * self.capacity))
        if column >= len(row):
            row.extend(array("I", bytes(4 * (max(column + 1, self.capacity) - len(row)))))
        row[column] = min(row[column] + count, 0xFFFFFFFF)

    def series(self, column: int, now, count: int) -> list:
        """``column``'s counts in the ``count`` buckets up to the one holding ``now``, oldest first (0 where none)."""
        count = max(0, min(int(count), self.size))
        try:
            last = int(now // self.width)
        except (TypeError, ValueError, OverflowError):
            last = self.bucket if self.bucket is not None else 0
        rows = self.rows
        out = []
        for bucket in range(last - count + 1, last + 1):
            row = rows.get(bucket)
            out.append(row[column] if row is not None and column < len(row) else 0)
        return out

    def totals(self, first: int, columns: int) -> list:
        """Per column (the first ``columns``), the counts in the buckets from ``first`` on."""
        totals = [0] * columns
        for bucket, row in self.rows.items():
            if bucket >= first:
                for column, value in enumerate(row[:columns]):
                    if value:
                        totals[column] += value
        return totals

    # -- --db (aggregates_store.py) --------------------------------------------------------------
    def copy(self) -> "Columns":
        """A copy (one array copy per row: cheap under the model's lock; :meth:`held` it after)."""
        twin = Columns(self.width, self.size, self.capacity)
        twin.rows = {bucket: row[:] for bucket, row in self.rows.items()}
        twin.bucket = self.bucket
        twin.row = twin.rows.get(self.bucket)
        return twin

    def held(self, first=None) -> dict:
        """{column: [[bucket, count], ...] oldest first, where the count is not 0}, from bucket ``first`` on:
        every column in one pass over the rows."""
        held: dict = {}
        for bucket, row in sorted(self.rows.items()):
            if first is None or bucket >= first:
                for column, value in enumerate(row):
                    if value:
                        held.setdefault(column, []).append([bucket, value])
        return held
