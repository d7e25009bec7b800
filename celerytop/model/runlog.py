"""The recent runs of the task names a beat schedule names, kept per name in a small ring, fed by ingest.

The type statistics (:meth:`TypeStats.fold`, which counts the moves the
model's ingest notes, under the model's lock) call
:meth:`RecentRuns.first_seen` when a task is first seen.  Only
the names given to :meth:`watch` (the schedule's tasks) are kept: at most
``per_name`` runs each, newest last, as (when first seen, the task's record)
so the run's state and args stay readable while the record lives on, even
after eviction.  Nothing else is kept, so a monitor without a schedule pays
one comparison per new task.
"""

from __future__ import annotations

from collections import deque

#: Runs kept per task name: enough to check a few minutes of a one-second entry.
RUNS_PER_NAME = 128


class RecentRuns:
    """Per watched task name, the tasks first seen (task-sent or task-received), newest last."""

    __slots__ = ("per_name", "watched", "runs", "first")

    def __init__(self, per_name: int = RUNS_PER_NAME):
        self.per_name = max(1, int(per_name))
        self.watched: frozenset = frozenset()
        self.runs: dict = {}  # name -> deque of (time, TaskRecord)
        self.first: float | None = None  # when the first task of any name was seen

    def watch(self, names) -> None:
        """Keep runs of these task names from now on (the schedule's tasks)."""
        self.watched = frozenset(name for name in names if isinstance(name, str))

    def first_seen(self, task, now: float) -> None:
        """``task`` was seen for the first time, at ``now``: a run, if its name is watched."""
        if self.first is None:
            self.first = now
        name = task.name
        if name in self.watched:
            ring = self.runs.get(name)
            if ring is None:
                ring = self.runs[name] = deque(maxlen=self.per_name)
            ring.append((now, task))
