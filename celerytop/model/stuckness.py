"""Stuck and lost tasks, judged at query time from the tasks in memory, the workers and the task types' p95.

Lost: a task RECEIVED or STARTED on a worker that is no longer alive (a
worker-offline event, or heartbeats stopped: celery's ``Worker.alive`` against
the model's clock).  Stuck: a task STARTED (on a live worker) for longer than
``multiple`` times its type's p95 runtime (typestats.py's sketch), and never
less than ``after`` seconds; a type with no runtime yet uses ``after`` alone.

Nothing is fed per event: "now" is the model's clock (the recording's during
``--replay``), so a replayed stream gives the same answers at any speed.
Every function takes the model's lock; :func:`lost_count` is cached until the
model changes or a worker dies or comes back, for the header on every refresh.
"""

from __future__ import annotations

from dataclasses import dataclass

from celery import states

LOST, STUCK = "LOST", "STUCK"
#: --stuck-after's default (seconds) and the default multiple of a type's p95.
STUCK_AFTER = 600.0
STUCK_MULTIPLE = 5.0
_STARTED = states.STARTED
_IN_FLIGHT = frozenset((states.RECEIVED, states.STARTED))


@dataclass(frozen=True)
class Flagged:
    """One stuck or lost task, as the ``:stuck`` view and batch JSON show it; times in seconds."""

    kind: str  # LOST or STUCK
    uuid: str
    name: str
    state: str
    worker: str
    since: float | None  # LOST: when its worker was last heard from; STUCK: when it started
    duration: float | None  # now - since
    threshold: float | None  # STUCK: the runtime past which it is stuck; LOST: None
    reason: str  # "5×p95 2.0s", "--stuck-after", "worker-offline", "heartbeats stopped"

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def worker_alive(worker, now: float) -> bool:
    """celery's ``Worker.alive`` against ``now`` (the model's clock: a replay runs on the recording's)."""
    try:
        return bool(worker.heartbeats) and now < worker.heartbeat_expires
    except (TypeError, ValueError, IndexError):  # a broken heartbeat field
        return False


class StuckRules:
    """The thresholds (``after`` seconds, ``multiple`` of p95) and a cache of each type's p95 by its count."""

    def __init__(self, after: float = STUCK_AFTER, multiple: float = STUCK_MULTIPLE):
        self.after = float(after)
        self.multiple = float(multiple)
        self._p95: dict = {}  # name -> (runtimes counted, p95): read again only when the count moved
        self._lost_cache: tuple = (None, 0)

    def threshold(self, type_stats, name) -> tuple:
        """(seconds, why) past which a STARTED task of type ``name`` is stuck."""
        sketch = type_stats.runtime_sketch(name)  # the pending runtimes in it (typestats.py batches them)
        if sketch is None or not sketch.count:
            return self.after, "--stuck-after"
        cached = self._p95.get(name)
        if cached is None or cached[0] != sketch.count:
            cached = self._p95[name] = (sketch.count, sketch.quantile(0.95))
        p95 = cached[1]
        if p95 is None or self.multiple * p95 <= self.after:
            return self.after, "--stuck-after"
        return self.multiple * p95, f"{self.multiple:g}×p95 {_short(p95)}"

    def flag(self, model, task, now: float) -> str:
        """LOST, STUCK or "" for one task (under the model's lock)."""
        state = task.state
        if state not in _IN_FLIGHT:
            return ""
        worker = task.worker
        if worker is not None and not worker_alive(worker, now):
            return LOST
        if state != _STARTED:
            return ""
        started = task.started
        if not isinstance(started, (int, float)) or now - started < self.after:  # cheap: no p95 needed
            return ""
        return STUCK if now - started >= self.threshold(model.type_stats, task.name)[0] else ""


def _short(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.3g}s"
    if seconds < 3600:
        return f"{seconds / 60:.3g}m"
    return f"{seconds / 3600:.3g}h"


def flagged_tasks(model, now: float | None = None) -> list:
    """Every lost and stuck task in memory (Flagged), lost first, each kind longest first."""
    with model.lock:
        now = model.now() if now is None else now
        found = []
        judge = model.stuck_rules
        for task in model._tasks.values():
            if task.state in _IN_FLIGHT:
                kind = judge.flag(model, task, now)
                if kind:
                    found.append(_flagged(model, judge, task, kind, now))
    found.sort(key=lambda f: (f.kind != LOST, -(f.duration or 0.0), f.uuid))
    return found


def lost_tasks(model, now: float | None = None) -> list:
    """The lost tasks in memory (Flagged): RECEIVED or STARTED on a worker no longer alive."""
    return [f for f in flagged_tasks(model, now) if f.kind == LOST]


def stuck_tasks(model, now: float | None = None) -> list:
    """The stuck tasks in memory (Flagged): STARTED on a live worker for longer than their threshold."""
    return [f for f in flagged_tasks(model, now) if f.kind == STUCK]


def lost_count(model, now: float | None = None) -> int:
    """How many tasks are lost: cheap, for the header on every refresh (and alert rules).

    Nothing to count while no task is in flight or every worker is alive; otherwise one pass over the tasks, cached
    until the model changes (a task's state or the set of tasks) or another worker dies.
    """
    with model.lock:
        if not any(model.state_counts[state] for state in _IN_FLIGHT):  # nothing in flight: nothing to lose
            return 0
        now = model.now() if now is None else now
        dead = _dead_workers(model, now)
        if not dead:
            return 0
        judge = model.stuck_rules
        key = (model.version, dead)
        if judge._lost_cache[0] == key:
            return judge._lost_cache[1]
        count = sum(1 for task in model._tasks.values()
                    if task.state in _IN_FLIGHT and task.worker is not None and task.worker.hostname in dead)
        judge._lost_cache = (key, count)
        return count


def _dead_workers(model, now: float) -> frozenset:
    return frozenset(hostname for hostname, worker in model._workers.items() if not worker_alive(worker, now))


def _flagged(model, judge: StuckRules, task, kind: str, now: float) -> Flagged:
    worker = task.worker.hostname if task.worker is not None else ""
    if kind == LOST:
        since = model._last_heard(worker, task.worker)
        offline = not task.worker.heartbeats and worker in model._offline_at
        threshold, reason = None, "worker-offline" if offline else "heartbeats stopped"
    else:
        since = task.started
        threshold, reason = judge.threshold(model.type_stats, task.name)
    duration = max(0.0, now - since) if isinstance(since, (int, float)) else None
    return Flagged(kind, task.uuid, task.name if type(task.name) is str else "", task.state or "", worker,
                   since, duration, threshold, reason)


def flag_reader(model, now: float):
    """task -> "lost", "stuck" or "": what the tasks filter's ``is:`` term reads (filtering.py)."""
    judge = model.stuck_rules
    return lambda task: judge.flag(model, task, now).lower()
