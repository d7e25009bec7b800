"""Per task type aggregates (the ``:types`` view, batch JSON's "types", the types' sparklines), counted from events.

The model calls :meth:`TypeStats.transition` under its lock when a task's
state (or name) changes, with the state before and after the event: so a
duplicated or late event, which changes nothing, counts nothing, and a task is
in flight (RECEIVED or STARTED) once, then succeeded, failed or revoked once
(a task seen to fail and later to succeed moves from one to the other).
Retries count every move into RETRY.  Runtimes (on success) and queue waits
(sent, else received, to started) go into a bounded sketch per type
(sketch.py), :data:`PENDING` at a time (an array append per event; the
sketch's loop runs once per PENDING values, and before any value is read).
Finished and failed tasks are counted in time buckets: the window's
(``window / BUCKETS`` wide) and the history's (10 s, an hour: the types view's
sparkline, typehistory.py reads them); every task finished, named or not, in
the header's rate history (ratehistory.py), which is kept here because it is
fed by the same moves.
Nothing here reads the tasks in memory, so eviction changes none of it.

For the ingest's sake (measured in benchmarks/aggregates.py, with 1,000
types): the model's ingest only notes each move, and :meth:`TypeStats.fold`
counts up to :data:`FOLD_EVERY` of them in one loop, or whatever is noted
before anything is read (counted between the model's other work, one at a
time, the same code cost over twice as much: its data fell out of the CPU's
cache in between).  Each type has a number (its column) and every counter is
a list indexed by it; the time buckets are rows of all the types' counts
(buckets.Columns), so a move touches a few small lists and the newest rows
rather than one object per type.  A move's wait and runtime are read from the
task's record when it is counted, which for a task retried and started again
within the same few hundred moves gives its first start the second's wait.
At most ``max_types`` names are kept; the rest add up in one "(other)" row.
"""

from __future__ import annotations

from array import array
from typing import NamedTuple

from celery import states

from celerytop.model.buckets import Columns
from celerytop.model.ratehistory import RateHistory
from celerytop.model.runlog import RecentRuns
from celerytop.model.sketch import Sketch
from celerytop.model.taskfields import NUMBER_INDEX

OTHER = "(other)"
MAX_TYPES = 1000
#: The window is split in this many buckets: rates move in steps of window/BUCKETS.
BUCKETS = 30
#: Runtimes and waits held per type before they go into its sketches in one go (and when read).
PENDING = 64
#: The history of finished tasks per type: 10-second buckets, an hour of them.
HISTORY_SECONDS = 10
HISTORY_BUCKETS = 360
#: Moves noted before they are counted (fold), at most.
FOLD_EVERY = 512
#: Columns a row gains at a time as types appear.
_GROW = 64

_PENDING, _RECEIVED, _STARTED = states.PENDING, states.RECEIVED, states.STARTED
_SUCCESS, _FAILURE = states.SUCCESS, states.FAILURE
_IN, _SUCCEEDED, _FAILED, _RETRIED, _REVOKED = "in_flight", "succeeded", "failed", "retried", "revoked"
#: What leaving each state uncounts: in flight, or a final state.
_LEFT = {states.RECEIVED: _IN, states.STARTED: _IN, states.SUCCESS: _SUCCEEDED, states.FAILURE: _FAILED,
         states.REVOKED: _REVOKED}
#: What moving into each state counts.
_ACTIONS = {states.RECEIVED: _IN, states.STARTED: _IN, states.SUCCESS: _SUCCEEDED, states.FAILURE: _FAILED,
            states.RETRY: _RETRIED, states.REVOKED: _REVOKED}
#: The counters, each a list by column.
COUNTERS = (_IN, _SUCCEEDED, _FAILED, _REVOKED, _RETRIED)
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


class TypeStats:
    """The aggregates of every task type, fed by the model's ingest (not thread-safe: the model's lock)."""

    def __init__(self, window: float = 300.0, max_types: int = MAX_TYPES):
        self.window = float(window)
        self.width = self.window / BUCKETS
        self.max_types = max(2, int(max_types))  # rows at most, "(other)" included
        self.ids: dict = {}  # name -> column
        self.names: list = []  # column -> name
        self.in_flight, self.succeeded, self.failed, self.retried, self.revoked = [], [], [], [], []
        self.last_failure: list = []
        self.runtime: list = []  # column -> Sketch
        self.wait: list = []
        self.runtimes: list = []  # column -> array of runtimes not in the sketch yet (at most PENDING)
        self.waits: list = []
        self.history = Columns(HISTORY_SECONDS, HISTORY_BUCKETS)  # finished per 10 s (typehistory.py)
        # The window's buckets, finished (succeeded or failed) and failed; with the default window they
        # are the history's 10 s, and its rows serve for both.
        self.finished = self.history if self.width == HISTORY_SECONDS else Columns(self.width, BUCKETS + 1)
        self.failures = Columns(self.width, BUCKETS + 1)
        self._rate = RateHistory()  # every task (named or not) succeeded and failed per 10 s: the header's
        self.folded_names = 0  # state changes of tasks counted in OTHER because the table was full
        self._runs = RecentRuns()  # the beat schedule's tasks as first seen (runlog.py, read by beat.py)
        self._moves: list = []  # (task, its name then, name before, state before, after, time): not counted yet
        self.odd_moves = 0  # moves that raised (an odd value) and counted nothing

    # What is read from outside counts the moves noted first: these properties and the reading methods do, and
    # typehistory.py and aggregates_store.py, which read the counters themselves, call fold() first.
    @property
    def rate(self) -> RateHistory:
        self.fold()
        return self._rate

    @property
    def runs(self) -> RecentRuns:
        self.fold()
        return self._runs

    def column(self, name: str) -> int:
        """``name``'s column, made if new (or OTHER's, past ``max_types``)."""
        column = self.ids.get(name)
        if column is None:
            if name != OTHER and len(self.ids) >= self.max_types - (OTHER not in self.ids):
                self.folded_names += 1
                return self.column(OTHER)
            column = self.ids[name] = len(self.names)
            self.names.append(name)
            for counter in (self.in_flight, self.succeeded, self.failed, self.retried, self.revoked):
                counter.append(0)
            self.last_failure.append(None)
            self.runtime.append(Sketch())
            self.wait.append(Sketch())
            self.runtimes.append(array("d"))
            self.waits.append(array("d"))
            if column >= self.history.capacity:
                for columns in (self.finished, self.failures, self.history):  # (finished may be history: no matter)
                    columns.grow(column + _GROW)
        return column

    def transition(self, task, name_before, before, after, now: float) -> None:
        """``task`` went from ``before`` (None: not counted yet) to ``after`` with this event.

        ``name_before``: its name before the event; a task that gains (or changes) its name
        leaves the old name's counts and enters the new one's as if first seen.
        On the ingest path, so it only notes the move (with the task's name now); the moves are
        counted :data:`FOLD_EVERY` at a time, or before anything is read (:meth:`fold`).
        """
        moves = self._moves
        moves.append((task, task.name, name_before, before, after, now))
        if len(moves) >= FOLD_EVERY:
            self.fold()

    def forget_in_flight(self, name, state) -> None:
        """A task in flight was evicted: its final event will find no name to count under (noted in turn with the
        moves, so a move noted before it counts first)."""
        if type(name) is str and state in (_RECEIVED, _STARTED):
            self._moves.append((None, name, None, state, None, None))

    def fold(self) -> None:
        """Count the moves noted.  A task's usual moves (received, started, succeeded or failed, with the
        constants celery's states are) are taken here, in a few list operations; the rest go through
        :meth:`_move`.  In one loop, the counters stay in the CPU's cache: counted per event, between the
        model's other work, they cost over twice as much (benchmarks/aggregates.py)."""
        moves = self._moves
        if not moves:
            return
        self._moves = []
        ids, in_flight, runs = self.ids, self.in_flight, self._runs
        for task, name, name_before, before, after, now in moves:
            try:
                if name_before is name and before is not None:
                    column = ids.get(name)
                    if column is not None:
                        if after is _STARTED and before is _RECEIVED:
                            self._waited(task, column)
                            continue
                        if before is _STARTED and (after is _SUCCESS or after is _FAILURE):
                            in_flight[column] -= 1
                            self._finished(task, column, after is _FAILURE, now)
                            self._rate.add(after is _FAILURE, now)
                            continue
                        if after is _RECEIVED and before is _PENDING:
                            in_flight[column] += 1
                            continue
                elif task is None:
                    self._forget(name)
                    continue
                elif before is None and name_before is None:  # first seen
                    if runs.first is None or name in runs.watched:
                        runs.first_seen(task, now)
                    if after is _PENDING:  # task-sent: nothing counts yet
                        continue
                self._move(task, name, name_before, before, after, now)
            except Exception:  # noqa: BLE001 - an odd value counts nothing, and stops nothing
                self.odd_moves += 1

    def _move(self, task, name, name_before, before, after, now: float) -> None:
        """The general case of :meth:`fold`."""
        if before != after and (after == _SUCCESS or after == _FAILURE):  # every task, named or not
            self._rate.add(after == _FAILURE, now)
        if name_before is not name and (name_before is None or name_before != name):
            if type(name_before) is str:
                self._leave(self.column(name_before), before)
            before = None
        elif before == after:
            return
        action = _ACTIONS.get(after)
        if type(name) is not str or (action is None and before is None):
            return
        column = self.column(name)
        if before is not None:
            self._leave(column, before)
        if action is _IN:
            self.in_flight[column] += 1
            if after == _STARTED:
                self._waited(task, column)
        elif action is _RETRIED or action is _REVOKED:
            counter = getattr(self, action)
            counter[column] += 1
        elif action is not None:
            self._finished(task, column, action is _FAILED, now)

    def _forget(self, name: str) -> None:
        column = self.ids.get(name, self.ids.get(OTHER))
        if column is not None and self.in_flight[column] > 0:
            self.in_flight[column] -= 1

    def _leave(self, column: int, state) -> None:
        """A task of the type in ``column`` leaves ``state``: in flight, or a final state, counts one less."""
        left = _LEFT.get(state)
        if left is not None:
            getattr(self, left)[column] -= 1

    def _waited(self, task, column: int) -> None:
        """The task started: its queue wait (sent, else received, to started) into the type's sketch."""
        numbers = task._numbers
        origin = numbers[_SENT_AT]
        if origin != origin:  # NaN: no task-sent seen
            origin = numbers[_RECEIVED_AT]
        wait = numbers[_STARTED_AT] - origin
        if wait >= 0:  # NaN fails
            waits = self.waits[column]
            waits.append(wait)
            if len(waits) >= PENDING:
                self.wait[column].add_all(waits)
                del waits[:]

    def _finished(self, task, column: int, failed: bool, now: float) -> None:
        """The task succeeded (or ``failed``) at ``now``: its counts, runtime and time buckets."""
        if failed:
            self.failed[column] += 1
            self.last_failure[column] = now
            self.failures.add(now, column)
        else:
            self.succeeded[column] += 1
            runtime = task._numbers[_RUNTIME]
            if runtime == runtime:
                runtimes = self.runtimes[column]
                runtimes.append(runtime)
                if len(runtimes) >= PENDING:
                    self.runtime[column].add_all(runtimes)
                    del runtimes[:]
        history = self.history
        if now // HISTORY_SECONDS == history.bucket:  # the usual case: the newest bucket, inline
            history.row[column] += 1
        else:
            history.add(now, column)
        if self.finished is not history:
            self.finished.add(now, column)

    # -- reading -------------------------------------------------------------------------
    def flush(self, column: int) -> None:
        """Put a type's pending runtimes and waits in its sketches."""
        for pending, sketch in ((self.runtimes[column], self.runtime[column]), (self.waits[column], self.wait[column])):
            if pending:
                sketch.add_all(pending)
                del pending[:]

    def runtime_sketch(self, name) -> Sketch | None:
        """``name``'s runtime sketch, the pending runtimes in it; None for a name not counted."""
        self.fold()
        column = self.ids.get(name) if type(name) is str else None
        if column is None:
            return None
        self.flush(column)
        return self.runtime[column]

    def window_counts(self, now: float) -> list:
        """(name, finished, failed) over the window ending now, per type: the failure % alone, without
        the percentiles (the alert rules read this at every refresh)."""
        self.fold()
        first = int(now // self.width) - BUCKETS + 1  # the buckets inside the window ending now
        count = len(self.names)
        return list(zip(self.names, self.finished.totals(first, count), self.failures.totals(first, count)))

    def rows(self, now: float) -> list:
        """One TypeRow per type, by name (OTHER last)."""
        self.fold()
        rows = []
        for name, finished, failed in sorted(self.window_counts(now), key=lambda c: (c[0] == OTHER, c[0])):
            column = self.ids[name]
            self.flush(column)
            runtime, wait = self.runtime[column], self.wait[column]
            rows.append(TypeRow(
                name, self.in_flight[column], self.succeeded[column], self.failed[column], self.retried[column],
                self.revoked[column], 100.0 * failed / finished if finished else None,
                finished * 60.0 / self.window,
                runtime.quantile(0.5), runtime.quantile(0.95), runtime.quantile(0.99),
                runtime.max if runtime.count else None,
                wait.quantile(0.5), wait.quantile(0.95), self.last_failure[column]))
        return rows
