"""Per task type aggregates (the ``:types`` view and batch JSON's "types"), counted from events as they apply.

The model calls :meth:`TypeStats.transition` under its lock when a task's
state (or name) changes, with the state before and after the event: so a
duplicated or late event, which changes nothing, counts nothing, and a task is
in flight (RECEIVED or STARTED) once, then succeeded, failed or revoked once
(a task seen to fail and later to succeed moves from one to the other).
Retries count every move into RETRY.  Runtimes (on success) and queue waits
(sent, else received, to started) go into a bounded sketch per type
(sketch.py), PENDING at a time (an array append per event; the sketch's
loop runs once per PENDING values, and before any row is read); completions
and failures into time buckets covering the window.
Nothing here reads the tasks in memory, so eviction changes none of it.
At most ``max_types`` names are kept; the rest add up in one "(other)" row.
"""

from __future__ import annotations

from array import array
from collections import deque
from typing import NamedTuple

from celery import states

from celerytop.model.runlog import RecentRuns
from celerytop.model.sketch import Sketch
from celerytop.model.taskfields import NUMBER_INDEX

OTHER = "(other)"
MAX_TYPES = 1000
#: The window is split in this many buckets: rates move in steps of window/BUCKETS.
BUCKETS = 30
#: Runtimes and waits held per type before they go into its sketches in one go (and when read).
PENDING = 64

_IN_FLIGHT = frozenset((states.RECEIVED, states.STARTED))
_FINAL = {states.SUCCESS: "succeeded", states.FAILURE: "failed", states.REVOKED: "revoked"}
_STARTED = states.STARTED
_IN, _SUCCEEDED, _FAILED, _RETRIED, _REVOKED = "in", "succeeded", "failed", "retried", "revoked"
#: What leaving each state uncounts: in flight, or a final state (_leave).
_LEFT = {states.RECEIVED: _IN, states.STARTED: _IN, states.SUCCESS: _SUCCEEDED, states.FAILURE: _FAILED,
         states.REVOKED: _REVOKED}
#: What moving into each state counts.
_ACTIONS = {states.RECEIVED: _IN, states.STARTED: _IN, states.SUCCESS: _SUCCEEDED, states.FAILURE: _FAILED,
            states.RETRY: _RETRIED, states.REVOKED: _REVOKED}
# The task record's numbers array, read directly on the ingest path (taskfields.py); NaN is None.
_SENT_AT, _RECEIVED_AT, _STARTED_AT, _RUNTIME = (NUMBER_INDEX[f] for f in ("sent", "received", "started", "runtime"))


class TypeRow(NamedTuple):
    """One task type as the view and batch show it; times in seconds, None where unknown."""

    name: str
    in_flight: int
    succeeded: int
    failed: int
    retried: int
    revoked: int
    failure_pct: float | None  # over the window
    rate_per_min: float  # tasks finished (succeeded or failed) per minute over the window
    runtime_p50: float | None
    runtime_p95: float | None
    runtime_p99: float | None
    runtime_max: float | None
    wait_p50: float | None
    wait_p95: float | None
    last_failure: float | None


class _Type:
    __slots__ = ("in_flight", "succeeded", "failed", "revoked", "retried", "last_failure", "runtime", "wait",
                 "runtimes", "waits", "recent", "bucket", "done", "bad")

    def __init__(self):
        self.in_flight = self.succeeded = self.failed = self.revoked = self.retried = 0
        self.last_failure = None
        self.runtime = Sketch()
        self.wait = Sketch()
        # Values not in the sketches yet (at most PENDING each): appending is cheaper than a sketch's add.
        self.runtimes = array("d")
        self.waits = array("d")
        self.recent = deque()  # (bucket number, finished, failed) before the newest bucket, oldest first
        self.bucket = None  # the newest bucket number: done finished in it, bad of them failed
        self.done = self.bad = 0

    def flush(self) -> None:
        """Put the pending runtimes and waits in the sketches."""
        if self.runtimes:
            self.runtime.add_all(self.runtimes)
            del self.runtimes[:]
        if self.waits:
            self.wait.add_all(self.waits)
            del self.waits[:]


def _leave(entry: _Type, state) -> None:
    """A task of ``entry``'s type leaves ``state``: in flight, or a final state, counts one less."""
    if state in _IN_FLIGHT:
        entry.in_flight -= 1
    else:
        field = _FINAL.get(state)
        if field is not None:
            setattr(entry, field, getattr(entry, field) - 1)


class TypeStats:
    """The aggregates of every task type, fed by the model's ingest (not thread-safe: the model's lock)."""

    def __init__(self, window: float = 300.0, max_types: int = MAX_TYPES):
        self.window = float(window)
        self.width = self.window / BUCKETS
        self.max_types = max(2, int(max_types))  # rows at most, "(other)" included
        self.types: dict = {}
        self.folded_names = 0  # state changes of tasks counted in OTHER because the table was full
        self.runs = RecentRuns()  # the beat schedule's tasks as first seen (runlog.py, read by beat.py)

    def _entry(self, name: str) -> _Type:
        entry = self.types.get(name)
        if entry is None:
            if name != OTHER and len(self.types) >= self.max_types - (OTHER not in self.types):
                self.folded_names += 1
                return self._entry(OTHER)
            entry = self.types[name] = _Type()
        return entry

    def transition(self, task, name_before, before, after, now: float) -> None:
        """``task`` went from ``before`` (None: not counted yet) to ``after`` with this event.

        ``name_before``: its name before the event; a task that gains (or changes) its name
        leaves the old name's counts and enters the new one's as if first seen.
        On the ingest path: kept to a few look-ups and additions.
        """
        name = task.name
        if before is None and name_before is None:
            self.runs.first_seen(task, now)
        if name_before is not name and (name_before is None or name_before != name):
            if type(name_before) is str:
                _leave(self._entry(name_before), before)
            before = None
        elif before == after:
            return
        if type(name) is not str:
            return
        entry = self.types.get(name)
        if entry is None:
            entry = self._entry(name)
        if before is not None:
            left = _LEFT.get(before)
            if left is _IN:  # the usual move, inline
                entry.in_flight -= 1
            elif left is not None:
                _leave(entry, before)
        action = _ACTIONS.get(after)
        if action is None:
            return
        if action is _IN:
            entry.in_flight += 1
            if after == _STARTED:
                numbers = task._numbers
                origin = numbers[_SENT_AT]
                if origin != origin:  # NaN: no task-sent seen
                    origin = numbers[_RECEIVED_AT]
                wait = numbers[_STARTED_AT] - origin
                if wait >= 0:  # NaN fails
                    waits = entry.waits
                    waits.append(wait)
                    if len(waits) >= PENDING:
                        entry.wait.add_all(waits)
                        del waits[:]
        elif action is _RETRIED:
            entry.retried += 1
        elif action is _REVOKED:
            entry.revoked += 1
        else:
            failed = action is _FAILED
            if failed:
                entry.failed += 1
                entry.last_failure = now
            else:
                entry.succeeded += 1
                runtime = task._numbers[_RUNTIME]
                if runtime == runtime:
                    runtimes = entry.runtimes
                    runtimes.append(runtime)
                    if len(runtimes) >= PENDING:
                        entry.runtime.add_all(runtimes)
                        del runtimes[:]
            bucket = now // self.width
            if entry.bucket == bucket:  # the usual case: the same bucket as the last finish
                entry.done += 1
                if failed:
                    entry.bad += 1
            else:
                if entry.bucket is not None:
                    recent = entry.recent
                    recent.append((entry.bucket, entry.done, entry.bad))
                    if len(recent) > BUCKETS:
                        recent.popleft()
                entry.bucket, entry.done, entry.bad = bucket, 1, int(failed)

    def forget_in_flight(self, name, state) -> None:
        """A task in flight was evicted: its final event will find no name to count under."""
        if type(name) is str and state in _IN_FLIGHT:
            entry = self.types.get(name) or self.types.get(OTHER)
            if entry is not None and entry.in_flight > 0:
                entry.in_flight -= 1

    # -- reading -------------------------------------------------------------------------
    def window_counts(self, now: float) -> list:
        """(name, finished, failed) over the window ending now, per type: the failure % alone, without
        the percentiles (the alert rules read this at every refresh)."""
        first = int(now // self.width) - BUCKETS + 1
        return [(name, *_in_window(entry, first)) for name, entry in self.types.items()]

    def rows(self, now: float) -> list:
        """One TypeRow per type, by name (OTHER last)."""
        first = int(now // self.width) - BUCKETS + 1  # the buckets inside the window ending now
        rows = []
        for name in sorted(self.types, key=lambda n: (n == OTHER, n)):
            entry = self.types[name]
            entry.flush()
            finished, failed = _in_window(entry, first)
            runtime, wait = entry.runtime, entry.wait
            rows.append(TypeRow(
                name, entry.in_flight, entry.succeeded, entry.failed, entry.retried, entry.revoked,
                100.0 * failed / finished if finished else None, finished * 60.0 / self.window,
                runtime.quantile(0.5), runtime.quantile(0.95), runtime.quantile(0.99),
                runtime.max if runtime.count else None,
                wait.quantile(0.5), wait.quantile(0.95), entry.last_failure))
        return rows


def _in_window(entry: _Type, first: int) -> tuple:
    """(finished, failed) in ``entry``'s buckets from ``first`` on."""
    finished = failed = 0
    for bucket, done, bad in (*entry.recent, (entry.bucket, entry.done, entry.bad)):  # the newest is kept apart
        if bucket is not None and bucket >= first:
            finished += done
            failed += bad
    return finished, failed
