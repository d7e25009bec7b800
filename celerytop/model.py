"""The cluster model: celery's ``State`` plus what the screen needs around it.

The capture thread calls :meth:`ClusterModel.on_event`; the UI reads
snapshots (:class:`Summary`, :class:`WorkerRow`, :class:`TaskRow`) under the
same lock, so it never sees a half-applied event.  No urwid here.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from celery import states
from celery.events.state import State

from celerytop.filtering import EMPTY

KNOWN_EVENT_TYPES = frozenset(
    {
        "task-sent",
        "task-received",
        "task-started",
        "task-succeeded",
        "task-failed",
        "task-rejected",
        "task-revoked",
        "task-retried",
        "worker-online",
        "worker-heartbeat",
        "worker-offline",
    }
)

#: Finished tasks: evicted first when ``max_tasks`` is exceeded.
FINISHED_STATES = frozenset(states.READY_STATES) | {states.REJECTED}

#: Window over which events per second are averaged.
RATE_WINDOW = 5.0


@dataclass(frozen=True)
class WorkerRow:
    hostname: str
    online: bool
    active: int | None
    processed: int | None
    loadavg: tuple | None
    heartbeat_age: float | None
    software: str


@dataclass(frozen=True)
class TaskRow:
    uuid: str
    name: str
    state: str
    worker: str
    received: float | None
    started: float | None
    runtime: float | None
    args: str
    kwargs: str


@dataclass(frozen=True)
class TaskDetail:
    """Everything known about one task, for the detail view."""

    uuid: str
    name: str
    state: str
    worker: str
    client: str
    args: str
    kwargs: str
    result: str
    exception: str
    traceback: str
    retries: object
    eta: object
    expires: object
    queue: str
    exchange: str
    routing_key: str
    root_id: str
    parent_id: str
    children: tuple
    received: float | None
    started: float | None
    runtime: float | None
    timeline: tuple  # ((event, timestamp), ...) in arrival order


#: Sort columns: how to read the key, and whether it starts descending.
SORTS = {
    "received": (None, True),  # arrival order; newest first
    "name": (lambda t: (t.name or "").lower(), False),
    "state": (lambda t: t.state or "", False),
    "worker": (lambda t: t.worker.hostname if t.worker is not None else "", False),
    "runtime": (lambda t: t.runtime if t.runtime is not None else -1.0, True),
    "uuid": (lambda t: t.uuid, False),
}
SORT_ORDER = tuple(SORTS)


def _text(value) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


class filter_values:  # noqa: N801 - used like a function returning a mapping
    """The strings a filter reads from a task, computed only when read."""

    __slots__ = ("task",)

    def __init__(self, task):
        self.task = task

    def __getitem__(self, field: str) -> str:
        task = self.task
        if field == "worker":
            return task.worker.hostname if task.worker is not None else ""
        return _text(getattr(task, field))


@dataclass(frozen=True)
class Summary:
    workers_online: int
    workers_total: int
    task_count: int
    state_counts: dict
    events_total: int
    task_events: int
    events_per_second: float
    unknown_events: int
    malformed_events: int
    evicted: int
    unknown_types: tuple = field(default=())


class ClusterModel:
    """Thread-safe holder of everything known about the cluster."""

    def __init__(self, max_tasks: int = 10000, max_failures: int = 1000, clock=time.time,
                 monotonic=time.monotonic):
        self.max_tasks = max(1, int(max_tasks))
        self.max_failures = max(0, int(max_failures))
        self.lock = threading.RLock()
        self._clock = clock
        self._monotonic = monotonic
        # celery's own LRU bound sits above ours, so celery never evicts a
        # task behind our back; ours prefers finished tasks.
        self.state = State(max_tasks_in_memory=(self.max_tasks + self.max_failures) * 2 + 16)
        self._tasks = self.state.tasks.data  # insertion order = first seen
        self.state_counts: Counter = Counter()
        self.events_total = 0
        self.task_events = 0
        self.unknown_events = 0
        self.unknown_types: Counter = Counter()
        self.malformed_events = 0
        self.evicted = 0
        self._version = 0
        self._query_cache: tuple = (None, [])
        self._timelines: dict = {}
        self._rate_samples: deque = deque()

    # -- ingest (capture thread) -------------------------------------------
    def on_event(self, event: dict, counted: bool = True) -> None:
        """Apply one event as received from celery's ``Receiver``.

        ``counted=False`` is for events celerytop made up itself (seeding
        from remote-control replies): they update the picture but not the
        event statistics.
        """
        with self.lock:
            if counted:
                self.events_total += 1
            try:
                event_type = event["type"]
            except (KeyError, TypeError):
                self.malformed_events += 1
                return
            if event_type not in KNOWN_EVENT_TYPES:
                self.unknown_events += 1
                if len(self.unknown_types) < 100 or event_type in self.unknown_types:
                    self.unknown_types[str(event_type)[:80]] += 1
                return
            if event_type.startswith("task-"):
                self._apply_task_event(event, counted)
            else:
                self._apply_worker_event(event)

    def _apply_task_event(self, event: dict, counted: bool = True) -> None:
        uuid = event.get("uuid")
        if not isinstance(uuid, str) or not uuid:
            self.malformed_events += 1
            return
        if not isinstance(event.get("hostname"), str):
            self.malformed_events += 1
            return
        event.setdefault("clock", 0)
        event.setdefault("local_received", self._clock())
        event.setdefault("timestamp", event["local_received"])
        task = self._tasks.get(uuid)
        before = task.state if task is not None else None
        try:
            self.state.event(event)
        except Exception:  # noqa: BLE001 - a broken event must never stop capture
            self.malformed_events += 1
        task = self._tasks.get(uuid)
        if task is None:
            return
        if counted:
            self.task_events += 1
        timeline = self._timelines.get(uuid)
        if timeline is None:
            timeline = self._timelines[uuid] = []
        if len(timeline) < 64:  # a task retried forever must not grow without bound
            timeline.append((event["type"][5:], event.get("timestamp")))
        after = task.state
        if before is None:
            self._version += 1
        if before != after:
            if before is not None:
                self.state_counts[before] -= 1
            self.state_counts[after] += 1
            self._version += 1
        failures = self.state_counts[states.FAILURE]
        if failures > self.max_failures or len(self._tasks) - failures > self.max_tasks:
            self._evict(failures)

    def _apply_worker_event(self, event: dict) -> None:
        hostname = event.get("hostname")
        if not isinstance(hostname, str) or not hostname:
            self.malformed_events += 1
            return
        event.setdefault("local_received", self._clock())
        event.setdefault("timestamp", event["local_received"])
        try:
            self.state.event(event)
        except Exception:  # noqa: BLE001
            self.malformed_events += 1

    def _evict(self, failures: int) -> None:
        """Drop tasks over the bounds.

        Failures have their own bound (``max_failures``), so a flood of
        successes never pushes the failures a person came to read out of
        memory; other tasks go oldest finished first, then oldest.
        """
        excess_failures = failures - self.max_failures
        excess_others = len(self._tasks) - failures - self.max_tasks
        doomed = []
        for uuid, task in self._tasks.items():
            if excess_failures <= 0 and excess_others <= 0:
                break
            if task.state == states.FAILURE:
                if excess_failures > 0:
                    doomed.append(uuid)
                    excess_failures -= 1
            elif excess_others > 0 and task.state in FINISHED_STATES:
                doomed.append(uuid)
                excess_others -= 1
        if excess_others > 0:
            chosen = set(doomed)
            for uuid, task in self._tasks.items():
                if excess_others <= 0:
                    break
                if uuid not in chosen and task.state != states.FAILURE:
                    doomed.append(uuid)
                    excess_others -= 1
        for uuid in doomed:
            task = self._tasks.pop(uuid)
            self._timelines.pop(uuid, None)
            self.state_counts[task.state] -= 1
        self.evicted += len(doomed)
        self._version += 1

    # -- snapshots (UI thread) -----------------------------------------------
    @property
    def version(self) -> int:
        """Changes whenever the set of tasks or any task's state changes."""
        return self._version

    def task_order(self) -> list:
        """Task ids, newest first (by when each was first seen)."""
        return self.query()

    def query(self, task_filter=EMPTY, sort: str = "received", descending: bool | None = None) -> list:
        """Task ids matching ``task_filter``, sorted; cached until the model changes."""
        key_fn, default_descending = SORTS[sort]
        if descending is None:
            descending = default_descending
        with self.lock:
            cache_key = (self._version, task_filter.text, sort, descending)
            if self._query_cache[0] == cache_key:
                return self._query_cache[1]
            if not task_filter and key_fn is None:
                order = list(self._tasks)
            else:
                tasks = self._tasks.values()
                if task_filter:
                    tasks = [t for t in tasks if task_filter.matches(filter_values(t))]
                if key_fn is not None:
                    tasks = sorted(tasks, key=key_fn)
                order = [t.uuid for t in tasks]
            if descending:
                order.reverse()
            self._query_cache = (cache_key, order)
            return order

    def task_detail(self, uuid: str) -> TaskDetail | None:
        with self.lock:
            task = self._tasks.get(uuid)
            if task is None:
                return None
            row = self.task_row(uuid)
            children = tuple(sorted(child.uuid for child in list(task.children)))
            return TaskDetail(
                uuid=uuid, name=row.name, state=row.state, worker=row.worker,
                client=_text(task.client), args=row.args, kwargs=row.kwargs,
                result=_text(task.result), exception=_text(task.exception),
                traceback=_text(task.traceback), retries=task.retries, eta=task.eta,
                expires=task.expires, queue=_text(getattr(task, "queue", None)), exchange=_text(task.exchange), routing_key=_text(task.routing_key),
                root_id=_text(task.root_id), parent_id=_text(task.parent_id), children=children,
                received=task.received, started=task.started, runtime=row.runtime,
                timeline=tuple(self._timelines.get(uuid, ())),
            )

    def workflow(self, uuid: str) -> list:
        """The tree of tasks sharing ``uuid``'s root, depth first.

        Returns [(depth, uuid, TaskRow or None)]: None marks a task named as a
        parent or root but never seen (a placeholder).  Siblings are ordered
        by when they were first seen.
        """
        with self.lock:
            task = self._tasks.get(uuid)
            root = (task.root_id if task is not None else None) or uuid
            members = [u for u, t in self._tasks.items() if u == root or t.root_id == root]
            if uuid not in members:
                members.append(uuid)
            children: dict = {}
            known = set(members)
            for member in members:
                if member == root:
                    continue
                member_task = self._tasks.get(member)
                parent = (member_task.parent_id if member_task is not None else None) or root
                if parent not in known:  # a parent we never saw hangs off the root
                    known.add(parent)
                    children.setdefault(root, []).append(parent)
                children.setdefault(parent, []).append(member)
            out, seen = [], set()

            def walk(node, depth):
                if node in seen:  # a malformed parent cycle must not loop forever
                    return
                seen.add(node)
                out.append((depth, node, self.task_row(node)))
                for child in children.get(node, ()):
                    walk(child, depth + 1)

            walk(root, 0)
            return out

    def task_row(self, uuid: str) -> TaskRow | None:
        with self.lock:
            task = self._tasks.get(uuid)
            if task is None:
                return None
            worker = task.worker.hostname if task.worker is not None else ""
            runtime = task.runtime
            if runtime is None and task.state == states.STARTED and task.started:
                runtime = max(0.0, self._clock() - task.started)
            return TaskRow(
                uuid=uuid,
                name=task.name or "",
                state=task.state or "",
                worker=worker or "",
                received=task.received or task.sent or task.timestamp,
                started=task.started,
                runtime=runtime,
                args=task.args if task.args is not None else "",
                kwargs=task.kwargs if task.kwargs is not None else "",
            )

    def now(self) -> float:
        return self._clock()

    def task_names(self) -> list:
        """Every task type seen, sorted."""
        with self.lock:
            return sorted(self.state.task_types())

    def has_worker(self, hostname: str) -> bool:
        with self.lock:
            return hostname in self.state.workers

    def has_task(self, uuid: str) -> bool:
        with self.lock:
            return uuid in self._tasks

    def worker_rows(self) -> list:
        """Every known worker, online ones first, each group by hostname."""
        now = self._clock()
        rows = []
        with self.lock:
            for hostname, worker in list(self.state.workers.items()):
                last = worker.heartbeats[-1] if worker.heartbeats else None
                software = " ".join(str(p) for p in (worker.sw_ident, worker.sw_ver) if p)
                rows.append(
                    WorkerRow(
                        hostname=hostname,
                        online=_is_alive(worker, now),
                        active=worker.active,
                        processed=worker.processed,
                        loadavg=tuple(worker.loadavg) if _is_sequence(worker.loadavg) else None,
                        heartbeat_age=(now - last) if last else None,
                        software=software,
                    )
                )
        rows.sort(key=lambda r: (not r.online, r.hostname))
        return rows

    def summary(self) -> Summary:
        now = self._monotonic()
        with self.lock:
            workers = list(self.state.workers.values())
            wall = self._clock()
            online = sum(1 for w in workers if _is_alive(w, wall))
            counts = {k: v for k, v in self.state_counts.items() if v > 0}
            total = self.events_total
            self._rate_samples.append((now, total))
            while len(self._rate_samples) > 2 and now - self._rate_samples[0][0] > RATE_WINDOW:
                self._rate_samples.popleft()
            first_t, first_n = self._rate_samples[0]
            rate = (total - first_n) / (now - first_t) if now > first_t else 0.0
            return Summary(
                workers_online=online,
                workers_total=len(workers),
                task_count=len(self._tasks),
                state_counts=counts,
                events_total=total,
                task_events=self.task_events,
                events_per_second=rate,
                unknown_events=self.unknown_events,
                malformed_events=self.malformed_events,
                evicted=self.evicted,
                unknown_types=tuple(self.unknown_types),
            )

    # -- history: export and restore (celerytop/store.py) -------------------
    #: Task attributes a record keeps by name; the rest of a task's ``__dict__``
    #: (event fields such as queue, hostname, pid, utcoffset) goes under "extra".
    _TASK_FIELDS = ("name", "state", "received", "sent", "started", "rejected", "succeeded", "failed",
                    "retried", "revoked", "args", "kwargs", "eta", "expires", "retries", "result",
                    "exception", "timestamp", "runtime", "traceback", "exchange", "routing_key", "clock",
                    "client", "root_id", "parent_id")
    #: Never in "extra": named fields, and references celery's ``Task`` rebuilds itself.
    _TASK_SKIP = frozenset(_TASK_FIELDS) | frozenset(
        ("uuid", "worker", "children", "cluster_state", "_serializer_handlers", "parent", "root"))
    _WORKER_FIELDS = ("hostname", "pid", "freq", "heartbeats", "clock", "active", "processed", "loadavg",
                      "sw_ident", "sw_ver", "sw_sys")

    def export_changes(self) -> tuple:
        """(task records, worker records, evicted uuids) changed since the last export.

        Nothing is tracked per event: each export compares a cheap fingerprint
        of every task with the one the previous export saw, so ingest stays as
        fast as before and the cost (20-40 ms for 10000 tasks) is paid every
        few seconds by the snapshot camera instead.
        """
        return self._export(everything=False)

    def export_all(self) -> tuple:
        """Like :meth:`export_changes` but every task and worker: a full snapshot."""
        return self._export(everything=True)

    def _export(self, everything: bool) -> tuple:
        with self.lock:
            base = self.__dict__.get("_export_base")
            if base is None:
                base = self._export_base = {"tasks": {}, "workers": {}, "next": 0}
            seen, fresh, tasks = base["tasks"], {}, []
            prev, next_key, timelines = -1, base["next"], self._timelines
            for uuid, task in self._tasks.items():
                timeline = timelines.get(uuid, ())
                d = task.__dict__
                fingerprint = _fingerprint((task.state, len(timeline), len(task.children), d.get("clock"),
                                            d.get("timestamp"), d.get("received"), d.get("started"),
                                            d.get("sent")))
                old = seen.get(uuid)
                # "seq" follows the model's order, which is first seen except that
                # celery moves a parent to the end when a child's event names it:
                # a task keeps its seq while it stays in order, else takes a new one.
                if old is not None and old[1] > prev:
                    key = old[1]
                else:
                    key, next_key = next_key, next_key + 1
                fresh[uuid] = (fingerprint, key)
                prev = key
                if everything or old != (fingerprint, key):
                    tasks.append(self._task_record(uuid, task, timeline, key))
            evicted = [uuid for uuid in seen if uuid not in fresh]
            workers, known = [], {}
            for hostname, worker in list(self.state.workers.data.items()):
                record = known[hostname] = self._worker_record(hostname, worker)
                if everything or base["workers"].get(hostname) != record:
                    workers.append(record)
            base.update(tasks=fresh, workers=known, next=next_key)
            return tasks, workers, evicted

    def _task_record(self, uuid: str, task, timeline, key: int) -> dict:
        record = {name: getattr(task, name, None) for name in self._TASK_FIELDS}
        record.update(
            uuid=uuid, seq=key, worker=task.worker.hostname if task.worker is not None else None,
            children=sorted(child.uuid for child in list(task.children)) if len(task.children) else [],
            timeline=[list(step) for step in timeline],
            extra={k: v for k, v in task.__dict__.items() if k not in self._TASK_SKIP},
        )
        return record

    def _worker_record(self, hostname: str, worker) -> dict:
        record = {name: getattr(worker, name, None) for name in self._WORKER_FIELDS}
        loadavg = record["loadavg"]
        record.update(hostname=hostname, heartbeats=list(worker.heartbeats or ()),
                      loadavg=list(loadavg) if _is_sequence(loadavg) else loadavg,
                      extra=dict(getattr(worker, "__dict__", {})))
        return record

    def restore(self, tasks: list, workers: list) -> None:
        """Put exported records back, older than anything already here.

        Not events: the statistics stay as they are.  Restored tasks go
        through the same bounds as live ones (failures their own), and a
        uuid or hostname already known keeps its live state.  Broken records
        are skipped: a history file must never stop the monitor.
        """
        with self.lock:
            for record in workers:
                if isinstance(record, dict):
                    self._restore_worker(record)
            live = list(self._tasks)
            restored = []
            for record in tasks:
                try:
                    task = self._restore_task(record) if isinstance(record, dict) else None
                except (TypeError, ValueError, AttributeError):  # e.g. an unhashable name
                    task = None
                if task is not None:
                    restored.append((task, record.get("children")))
            for uuid in live:  # restored history is older than what arrived already
                self._tasks.move_to_end(uuid)
            for task, children in restored:
                self._link_restored(task, children)
            failures = self.state_counts[states.FAILURE]
            if failures > self.max_failures or len(self._tasks) - failures > self.max_tasks:
                self._evict(failures)
            self._version += 1

    def _restore_worker(self, record: dict):
        hostname = record.get("hostname")
        workers = self.state.workers
        if not isinstance(hostname, str) or not hostname or hostname in workers.data:
            return None
        heartbeats = [h for h in record.get("heartbeats") or () if isinstance(h, (int, float))]
        fields = {name: record[name] for name in self._WORKER_FIELDS[1:] if name in record}
        fields["heartbeats"] = sorted(heartbeats)[-self.state.Worker.heartbeat_max:]
        try:
            worker = self.state.Worker(hostname, **fields)
        except (TypeError, ValueError):
            return None
        extra = record.get("extra")
        if isinstance(extra, dict):
            for key, value in extra.items():
                if isinstance(key, str) and key != "event" and key not in self._WORKER_FIELDS:
                    worker.__dict__[key] = value
        workers[hostname] = worker
        return worker

    def _restore_task(self, record: dict):
        uuid, state = record.get("uuid"), record.get("state")
        if not isinstance(uuid, str) or not uuid or uuid in self._tasks or not isinstance(state, str):
            return None
        task = self.state.Task(uuid, cluster_state=self.state)
        extra = record.get("extra")
        if isinstance(extra, dict):
            skip = self._TASK_SKIP
            task.__dict__.update((k, v) for k, v in extra.items() if isinstance(k, str) and k not in skip)
        task.__dict__.update((name, record[name]) for name in self._TASK_FIELDS if name in record)
        hostname = record.get("worker")
        if isinstance(hostname, str) and hostname:
            worker = self.state.workers.data.get(hostname)
            if worker is None:  # as celery does when a task names a worker it has not seen
                worker = self.state.workers[hostname] = self.state.Worker(hostname)
            task.worker = worker
        steps = record.get("timeline") if isinstance(record.get("timeline"), list) else []
        timeline = [tuple(step) for step in steps[:64] if _is_sequence(step) and len(step) == 2]
        name, sender = task.name, task.__dict__.get("hostname") or hostname
        if isinstance(name, str):
            self.state._seen_types.add(name)  # what task_names() reads; celery has no public way in
            self.state.tasks_by_type[name].add(task)
            if isinstance(sender, str):
                self.state.tasks_by_worker[sender].add(task)
        self._timelines[uuid] = timeline
        self._tasks[uuid] = task  # not through the LRU: celery's bound must not drop history silently
        self.state_counts[state] += 1
        return task

    def _link_restored(self, task, children) -> None:
        """Parent and child links, which celery's ``Task`` keeps as a WeakSet of objects."""
        for child_id in children if isinstance(children, list) else ():
            child = self._tasks.get(child_id) if isinstance(child_id, str) else None
            if child is not None:
                task.children.add(child)
        waiting = getattr(self.state, "_tasks_to_resolve", {})  # live children that named this parent
        if task.uuid in waiting:
            task.children.update(waiting.pop(task.uuid))
        parent_id = task.parent_id
        if isinstance(parent_id, str) and parent_id:
            parent = self._tasks.get(parent_id)
            if parent is not None:
                parent.children.add(task)
            elif hasattr(self.state, "_add_pending_task_child"):  # linked when the parent shows up
                self.state._add_pending_task_child(task)


def _fingerprint(values: tuple) -> int:
    """A hash, not the tuple: 10000 tuples kept between exports would keep waking the garbage collector."""
    try:
        return hash(values)
    except TypeError:  # a malformed event left a list where a timestamp belongs
        return hash(repr(values))


def _is_sequence(value) -> bool:
    return isinstance(value, (list, tuple))


def _is_alive(worker, now: float) -> bool:
    """celery's ``Worker.alive`` against the model's clock (a replay runs on the recording's)."""
    try:
        return bool(worker.heartbeats) and now < worker.heartbeat_expires
    except (TypeError, ValueError, IndexError):  # a broken heartbeat field
        return False
