"""The cluster model: celery's ``State`` plus what the screen needs around it.

The capture thread calls :meth:`ClusterModel.on_event`; the UI reads
snapshots (:class:`Summary`, :class:`WorkerRow`, :class:`TaskRow`) under the
same lock, so it never sees a half-applied event.  No urwid here.
"""

from __future__ import annotations

import heapq
import re
import sys
import threading
import time
from bisect import bisect_left, insort
from collections import Counter, deque
from dataclasses import dataclass, field
from operator import attrgetter

from celery import states
from celery.events.state import Worker

from celerytop.events.eventcheck import fields_problem, is_finite_number, problem
from celerytop.model.eventloss import ProcessedGaps
from celerytop.model.filtering import EMPTY
from celerytop.model.taskrecord import TIMELINE_MAX, TaskRecord, apply_task_event
from celerytop.model.taskrecord import as_text as _text

#: Event types the model applies, each to the subject celery's State reads.
TASK_SUBJECTS = {f"task-{s}": s for s in
                 ("sent", "received", "started", "succeeded", "failed", "rejected", "revoked", "retried")}
WORKER_SUBJECTS = {f"worker-{s}": s for s in ("online", "heartbeat", "offline")}
KNOWN_EVENT_TYPES = frozenset(TASK_SUBJECTS) | frozenset(WORKER_SUBJECTS)
FAILURE = states.FAILURE
_intern = sys.intern

#: Finished tasks: evicted first when ``max_tasks`` is exceeded.
FINISHED_STATES = frozenset(states.READY_STATES) | {states.REJECTED}

#: Window over which events per second are averaged.
RATE_WINDOW = 5.0


@dataclass(frozen=True)
class WorkerRow:
    hostname: str
    online: bool
    active: int | None  # None when offline: the last count is not what runs now
    processed: int | None
    loadavg: tuple | None
    heartbeat_age: float | None  # since the worker was last heard from
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
    worker_offline: bool = False  # STARTED on a worker now offline: possibly lost


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
    timeline: tuple  # ((event, timestamp), ...) in lifecycle order (see lifecycle_order)
    worker_offline: bool = False


#: Workflow node ids for groups: never a task uuid.
_GROUP = "group:"
#: Seconds around a parentless task in which another parentless task may be
#: a member of the same group (asked of the result backend).
GROUP_WINDOW = 5.0
#: At most this many tasks are asked about in one result-backend lookup.
GROUP_LOOKUP_MAX = 100


@dataclass(frozen=True)
class WorkflowNode:
    depth: int
    uuid: str  # a task's uuid, or a group's id (rows are read when drawn: task_row)
    kind: str  # "task", "missing" (named as parent or root, never seen) or "group"
    size: int = 0  # a group's members shown under it


@dataclass(frozen=True)
class Workflow:
    nodes: list
    tasks: int  # tasks seen (placeholders and groups not counted)
    missing_parents: int  # placeholders: tasks named as parent or root, never seen
    lookup: tuple  # tasks whose group the result backend may tell


class _WorkflowLinks:
    """Who is linked to whom, by root id, parent id and group id (one scan of the tasks)."""

    def __init__(self, tasks: dict, group_of: dict, group_members: dict):
        self.tasks, self.group_of, self.group_members = tasks, group_of, group_members
        self.by_root: dict = {}
        self.by_parent: dict = {}
        self.parentless: list = []  # (time, uuid) of tasks that are their own root
        self.unlock_of: dict = {}  # celery.chord_unlock uuid -> the group it waits for
        self.unlocks: dict = {}  # group id -> [celery.chord_unlock uuid]
        for uuid, task in tasks.items():
            root, parent = _link(task.root_id, uuid), _link(task.parent_id, uuid)
            if root:
                self.by_root.setdefault(root, []).append(uuid)
            if parent:
                self.by_parent.setdefault(parent, []).append(uuid)
            elif not root:
                self.parentless.append((_first_time(task), uuid))
            if task.name == CHORD_UNLOCK:
                group_id = _chord_unlock_group(task.args)
                if group_id:
                    self.unlock_of[uuid] = group_id
                    self.unlocks.setdefault(group_id, []).append(uuid)
        self.groups_used: list = []
        self._placeholder_parent: dict = {}

    def component(self, start: str) -> set:
        """Every id linked to ``start``: tasks, and ids named but never seen."""
        found, queue = {start}, deque([start])
        while queue:
            node = queue.popleft()
            for other in self._neighbours(node):
                if other not in found:
                    found.add(other)
                    queue.append(other)
        return found

    def _neighbours(self, node: str):
        task = self.tasks.get(node)
        if task is not None:
            root, parent = _link(task.root_id, node), _link(task.parent_id, node)
            if root:
                yield root
            if parent:
                yield parent
                if parent not in self.tasks and root and root != parent:
                    self._placeholder_parent.setdefault(parent, root)
            group_id = self.group_of.get(node) or self.unlock_of.get(node)
            if group_id is not None:
                yield from self.group_members.get(group_id, ())
                yield from self.unlocks.get(group_id, ())
        yield from self.by_root.get(node, ())
        yield from self.by_parent.get(node, ())

    def parent_of(self, member: str, members: set):
        """The node ``member`` hangs under in the tree; None at the top."""
        task = self.tasks.get(member)
        if task is None:  # a placeholder hangs off the root of the task that named it
            return self._placeholder_parent.get(member)
        parent = _link(task.parent_id, member)
        if parent:
            return parent
        unlocks = self.unlock_of.get(member)  # chord_unlock hangs under the group it waits for
        group_id = unlocks if unlocks and self.group_members.get(unlocks) else self.group_of.get(member)
        if group_id is not None and (len(self.group_members.get(group_id, ())) > 1 or self.unlocks.get(group_id)):
            if group_id not in self.groups_used:
                self.groups_used.append(group_id)
            return _GROUP + group_id
        return _link(task.root_id, member)

    def lookup_candidates(self, members: set) -> list:
        """Parentless tasks whose group is not known yet: the members, then tasks seen near them."""
        unknown = [(t, u) for t, u in self.parentless if u not in self.group_of]
        mine = [u for t, u in unknown if u in members]
        times = sorted(t for t, u in self.parentless if u in members and t is not None)
        if not times:
            return mine[:GROUP_LOOKUP_MAX]

        def distance(item):
            t, _u = item
            return 0.0 if times[0] <= t <= times[-1] else min(abs(t - times[0]), abs(t - times[-1]))

        near = sorted((item for item in unknown if item[0] is not None and item[1] not in members
                       and distance(item) <= GROUP_WINDOW), key=distance)
        return (mine + [u for _t, u in near])[:GROUP_LOOKUP_MAX]


#: The task celery sends to wait for a chord's header where the result
#: backend cannot join chords itself; its first argument is the header's group id.
CHORD_UNLOCK = "celery.chord_unlock"
_FIRST_ARGUMENT = re.compile(r"""\(\s*['"]([^'"]+)['"]""")


def _chord_unlock_group(args):
    match = _FIRST_ARGUMENT.match(args) if type(args) is str else None
    return match.group(1) if match else None


def _link(value, own: str):
    """A root or parent id worth following: a non-empty string naming another task."""
    return value if type(value) is str and value and value != own else None


def _first_time(task):
    for value in (task.sent, task.received, task.timestamp):
        if isinstance(value, (int, float)):
            return float(value)
    return None


#: Where each event falls in one attempt of a task; the rest (started and
#: what ends the attempt) keep their arrival order after these.
_LIFECYCLE_RANK = {"sent": 0, "received": 1}


def lifecycle_order(steps) -> tuple:
    """``steps`` ((event, time), ...) in lifecycle order: sent, received, started, then the outcome.

    Events come in arrival order, and the client's task-sent often arrives
    after the worker's task-received.  Each attempt (up to a retried) is
    ordered on its own, so a retried task reads as its attempts in turn.
    """
    ordered, attempt, next_attempt = [], [], []
    started = False
    for step in steps:
        if step[0] == "sent" and started:  # a retry sends the task again before its task-retried
            next_attempt.append(step)
            continue
        attempt.append(step)
        started = started or step[0] == "started"
        if step[0] == "retried":
            ordered += sorted(attempt, key=_lifecycle_rank)
            attempt, next_attempt, started = next_attempt, [], False
    ordered += sorted(attempt + next_attempt, key=_lifecycle_rank)
    return tuple(ordered)


def _lifecycle_rank(step) -> int:
    return _LIFECYCLE_RANK.get(step[0], 2)


def _hostname(task) -> str:
    """The name of the worker a task ran on, "" before one took it."""
    return task.worker.hostname if task.worker is not None else ""


#: Sort columns: how to read the key, and whether it starts descending.
SORTS = {
    "received": (None, True),  # arrival order; newest first
    "name": (lambda t: (t.name or "").lower(), False),
    "state": (lambda t: t.state or "", False),
    "worker": (_hostname, False),
    "runtime": (lambda t: t.runtime if t.runtime is not None else -1.0, True),
    "uuid": (lambda t: t.uuid, False),
}
SORT_ORDER = tuple(SORTS)


def read_text(attribute: str | None):
    """A function task -> the text a filter reads for ``attribute`` (see filtering.Term.test)."""
    if attribute is None:  # free text: filtering.FREE_TEXT_FIELDS, one string per task
        return lambda task: task.search_text() + "\0" + _hostname(task)
    if attribute == "worker":
        return _hostname
    get = attrgetter(attribute)
    return lambda task: value if type(value := get(task)) is str else _text(value)


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
    missed_task_events: int = 0  # estimated from the workers' processed counts (ProcessedGaps)


class ClusterModel:
    """Thread-safe holder of everything known about the cluster."""

    def __init__(self, max_tasks: int = 10000, max_failures: int = 1000, clock=time.time,
                 monotonic=time.monotonic):
        self.max_tasks = max(1, int(max_tasks))
        self.max_failures = max(0, int(max_failures))
        self.lock = threading.RLock()
        self._clock = clock
        self._monotonic = monotonic
        self._tasks: dict = {}  # uuid -> TaskRecord, in first-seen order
        self._workers: dict = {}  # hostname -> celery's events.state.Worker
        self._task_types: set = set()
        self._orphans: dict = {}  # parent uuid -> [child uuid]: children seen before their parent
        self._group_of: dict = {}  # uuid -> group id, as the result backend told (note_groups)
        self._group_members: dict = {}  # group id -> {uuid}
        self._offline_at: dict = {}  # hostname -> when its worker-offline came (celery forgets its heartbeats)
        self._next_seq = 0
        # Eviction candidates as heaps of tasks, oldest first seen (lowest seq)
        # on top; an entry whose task has since changed or gone is skipped
        # when popped.
        self._finished_heap: list = []
        self._failure_heap: list = []
        self.state_counts: Counter = Counter()
        self.events_total = 0
        self.task_events = 0
        self.unknown_events = 0
        self.unknown_types: Counter = Counter()
        self.malformed_events = 0
        self.evicted = 0
        self._version = 0
        self._query_cache: tuple = (None, [])
        # Task ids sorted, for prefix look-ups; brought up to date when read (never on ingest),
        # with the tasks first seen (or moved) from seq _id_index_seq on.
        self._id_index: list = []
        self._id_index_seq = 0
        self._rate_samples: deque = deque()
        self._gaps = ProcessedGaps()
        #: Called (with the hostname, on the ingesting thread, under the lock)
        #: when a worker first appears: the screen shows it at once instead of
        #: at its next refresh.  Only on that rare path, never per event.
        self.on_new_worker = None

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
            if problem(event) is not None:
                self.malformed_events += 1
                return
            event_type = event["type"]
            subject = TASK_SUBJECTS.get(event_type)
            if subject is not None:
                self._apply_task_event(event, subject, counted)
            elif event_type in WORKER_SUBJECTS:
                self._apply_worker_event(event, WORKER_SUBJECTS[event_type], counted)
            else:
                self.unknown_events += 1
                if len(self.unknown_types) < 100 or event_type in self.unknown_types:
                    self.unknown_types[str(event_type)[:80]] += 1

    def reconcile(self, corrections) -> list:
        """Put right what lost events left wrong (celerytop/reconcile.py): the one way in for it.

        ``corrections``: [(uuid, state shown when the cluster was asked, the event a worker
        would have sent)], each applied uncounted, as seeding's are, and only if the task
        still shows that state (an event that arrived meanwhile knows better).
        Returns [(uuid, state before, state after)] for the tasks that changed.
        """
        changed = []
        with self.lock:
            for uuid, shown, event in corrections:
                task = self._tasks.get(uuid)
                if task is None or task.state != shown:
                    continue
                self.on_event(event, counted=False)
                task = self._tasks.get(uuid)
                if task is not None and task.state != shown:
                    changed.append((uuid, shown, task.state))
        return changed

    def _apply_task_event(self, event: dict, subject: str, counted: bool = True) -> None:
        uuid = event.get("uuid")
        hostname = event.get("hostname")
        if type(uuid) is not str or not uuid or not isinstance(hostname, str):
            self.malformed_events += 1
            return
        local_received = event.get("local_received")
        if local_received is None:
            local_received = event["local_received"] = self._clock()
        timestamp = event.get("timestamp")
        if timestamp is None:
            timestamp = event["timestamp"] = local_received
        event.setdefault("clock", 0)
        tasks = self._tasks
        task = tasks.get(uuid)
        created = task is None
        if created:
            task = tasks[uuid] = TaskRecord(uuid, self._next_seq)
            self._next_seq += 1
            before = None
        else:
            before = task.state
        try:
            self._update_task(task, subject, hostname, timestamp, local_received, event)
        except Exception:  # noqa: BLE001 - a broken event must never stop capture
            self.malformed_events += 1
        if counted:
            self.task_events += 1
            if subject == "started":
                self._gaps.started(hostname, timestamp)
        after = task.state
        if before != after:
            counts = self.state_counts
            if before is not None:
                counts[before] -= 1
            counts[after] += 1
            self._version += 1
            self._remember_for_eviction(task, before, after)
        elif created:
            self._version += 1
        failures = self.state_counts[FAILURE]
        if failures > self.max_failures or len(tasks) - failures > self.max_tasks:
            self._evict()

    def _update_task(self, task: TaskRecord, subject: str, hostname: str, timestamp, local_received,
                     event: dict) -> None:
        """celery's ``State`` for one task event: the worker, the task, its family."""
        if subject == "sent":  # sent by the client, not a worker
            task.client = _intern(hostname)
        else:
            worker = self._workers.get(hostname)
            if worker is None:
                worker = self._workers[hostname] = Worker(hostname)
                self._worker_added(hostname)
            task.worker = worker
            if local_received:  # a task event is a sign of life (celery's argument order)
                worker.event(None, local_received, timestamp)
        apply_task_event(task, subject, timestamp, event)
        if "root_id" in event:
            self._share_ids(task)
        if type(task.name) is str:
            self._task_types.add(task.name)
        self._link_family(task, move_parent=True)

    def _link_family(self, task: TaskRecord, move_parent: bool) -> None:
        """Link ``task`` to its parent, and to children seen before it (kept in ``_orphans``).

        ``move_parent``: as celery's LRU does when a child's event looks its parent up.
        A parent id that cannot be a key raises TypeError, as in celery.
        """
        parent_id = task.parent_id
        if parent_id:
            parent = self._tasks.get(parent_id)
            if parent is not None:
                parent.add_child(task.uuid)
                if move_parent and parent is not task:
                    self._move_to_newest(parent)
            else:
                self._add_orphan(parent_id, task.uuid)
        self._adopt_orphans(task)

    def _adopt_orphans(self, task: TaskRecord) -> None:
        orphans = self._orphans.pop(task.uuid, None) if self._orphans else None
        for child in orphans or ():
            task.add_child(child)

    def _share_ids(self, task: TaskRecord) -> None:
        """Point root and parent ids at the uuid strings already kept (a root is its own root_id)."""
        tasks = self._tasks
        for name in ("root_id", "parent_id"):
            value = getattr(task, name)
            if type(value) is str:
                known = task if value == task.uuid else tasks.get(value)
                if known is not None:
                    setattr(task, name, known.uuid)

    def _move_to_newest(self, task: TaskRecord) -> None:
        """What celery's LRU does to a parent each time a child's event looks it up.

        Kept so that the order on screen (and in a saved history) stays what
        it was when the model was celery's State.
        """
        tasks = self._tasks
        del tasks[task.uuid]
        if task.state in FINISHED_STATES:
            # A copy, not the same record with a new seq: the record sits in
            # an eviction heap, whose order must not change under it.
            task = task.copy(seq=self._next_seq)
            self._remember_for_eviction(task, None, task.state)
            self._trim_heaps()
        else:
            task.seq = self._next_seq
        tasks[task.uuid] = task
        self._next_seq += 1

    def _add_orphan(self, parent_id: str, child: str) -> None:
        waiting = self._orphans.get(parent_id)
        if waiting is None:
            if len(self._orphans) >= self.max_tasks:  # celery bounds these like its tasks
                del self._orphans[next(iter(self._orphans))]
            self._orphans[parent_id] = [child]
        elif child not in waiting:
            waiting.append(child)

    def _apply_worker_event(self, event: dict, subject: str, counted: bool = True) -> None:
        hostname = event.get("hostname")
        if not isinstance(hostname, str) or not hostname:
            self.malformed_events += 1
            return
        event.setdefault("local_received", self._clock())
        event.setdefault("timestamp", event["local_received"])
        try:
            worker = self._workers.get(hostname)
            if worker is None:
                worker = Worker(hostname)
                if subject != "offline":  # as celery: an unknown worker going offline is not kept
                    self._workers[hostname] = worker
                    self._worker_added(hostname)
            elif subject == "offline":
                self._offline_at[hostname] = event["local_received"]
            worker.event(subject, event["timestamp"], event["local_received"], event)
        except Exception:  # noqa: BLE001
            self.malformed_events += 1
        if counted:
            self._gaps.beat(hostname, subject, event.get("processed"), event.get("timestamp"))

    def _worker_added(self, hostname: str) -> None:
        if self.on_new_worker is not None:
            self.on_new_worker(hostname)

    def _heap_for(self, state):
        """The eviction heap a task in ``state`` belongs in; None for unfinished tasks."""
        if state == FAILURE:
            return self._failure_heap
        if state in FINISHED_STATES:
            return self._finished_heap
        return None

    def _remember_for_eviction(self, task: TaskRecord, before, after) -> None:
        """Index a task that became a failure or finished (``before`` None: index it anew)."""
        heap = self._heap_for(after)
        if heap is not None and (before is None or heap is not self._heap_for(before)):
            heapq.heappush(heap, task)

    def _evict(self) -> None:
        """Drop tasks over the bounds.

        Failures have their own bound (``max_failures``), so a flood of
        successes never pushes the failures a person came to read out of
        memory; other tasks go oldest finished first, then oldest.
        "Oldest" is first seen.
        """
        doomed = []
        counts = self.state_counts
        excess_failures = counts[FAILURE] - self.max_failures
        if excess_failures > 0:
            doomed += self._pop_oldest(self._failure_heap, excess_failures)
        excess_others = len(self._tasks) - counts[FAILURE] - self.max_tasks
        if excess_others > 0:
            finished = self._pop_oldest(self._finished_heap, excess_others)
            doomed += finished
            excess_others -= len(finished)
            if excess_others > 0:
                chosen = set(doomed)
                for uuid, task in self._tasks.items():
                    if excess_others <= 0:
                        break
                    if uuid not in chosen and task.state != FAILURE:
                        doomed.append(uuid)
                        excess_others -= 1
        for uuid in doomed:
            task = self._tasks.pop(uuid)
            counts[task.state] -= 1
        self.evicted += len(doomed)
        self._version += 1
        self._trim_heaps()

    def _trim_heaps(self) -> None:
        """Rebuild the heaps once stale entries (tasks gone, changed or copied) pass 5 %: they hold memory."""
        if len(self._finished_heap) + len(self._failure_heap) > 1.05 * len(self._tasks) + 1024:
            self._rebuild_heaps()

    def _pop_oldest(self, heap: list, count: int) -> list:
        """Up to ``count`` uuids off ``heap``, skipping entries gone stale (evicted, moved, changed kind)."""
        found = []
        tasks = self._tasks
        while heap and len(found) < count:
            task = heapq.heappop(heap)
            if tasks.get(task.uuid) is task and self._heap_for(task.state) is heap:
                found.append(task.uuid)
        return found

    def _rebuild_heaps(self) -> None:
        self._finished_heap, self._failure_heap = [], []
        for task in self._tasks.values():
            heap = self._heap_for(task.state)
            if heap is not None:
                heap.append(task)
        heapq.heapify(self._finished_heap)
        heapq.heapify(self._failure_heap)

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
                    tasks = task_filter.narrow(tasks, read_text)
                if key_fn is not None:
                    tasks = sorted(tasks, key=key_fn)
                order = [t.uuid for t in tasks]
            if descending:
                order.reverse()
            self._query_cache = (cache_key, order)
            return order

    def task_ids_starting(self, prefix: str, limit: int = 10) -> tuple:
        """(how many task ids in memory start with ``prefix``, the first ``limit`` of them, sorted)."""
        with self.lock:
            index, tasks = self._sorted_task_ids(), self._tasks
            found, count = [], 0
            for position in range(bisect_left(index, prefix), len(index)):
                uuid = index[position]
                if not uuid.startswith(prefix):
                    break
                if uuid in tasks:  # the index still holds ids evicted since it was read
                    count += 1
                    if len(found) < limit:
                        found.append(uuid)
            return count, found

    def _sorted_task_ids(self) -> list:
        """Every task id in memory, sorted, plus some evicted since (dropped once they pile up).

        Ingest pays nothing for it: the tasks added since the last read are
        those from seq ``_id_index_seq`` on, and the dict keeps tasks in seq
        order, so they are read off its end; sorting them into the list is an
        insertion each or a merge of two runs (timsort), not a full sort.
        """
        index, tasks = self._id_index, self._tasks
        fresh = []
        for task in reversed(tasks.values()):
            if task.seq < self._id_index_seq:
                break
            fresh.append(task.uuid)
        fresh = [uuid for uuid in fresh if not _in_sorted(index, uuid)]  # a parent moved to newest
        if len(fresh) < 64:
            for uuid in fresh:
                insort(index, uuid)
        else:
            index.extend(fresh)
            index.sort()
        self._id_index_seq = self._next_seq
        if len(index) > 2 * len(tasks) + 1024:
            index = self._id_index = [uuid for uuid in index if uuid in tasks]
        return index

    def task_detail(self, uuid: str) -> TaskDetail | None:
        with self.lock:
            task = self._tasks.get(uuid)
            if task is None:
                return None
            row = self.task_row(uuid)
            children = tuple(sorted(self._live_children(task)))
            return TaskDetail(
                uuid=uuid, name=row.name, state=row.state, worker=row.worker,
                client=_text(task.client), args=row.args, kwargs=row.kwargs,
                result=_text(task.result), exception=_text(task.exception),
                traceback=_text(task.traceback), retries=task.retries, eta=task.eta,
                expires=task.expires, queue=_text(getattr(task, "queue", None)), exchange=_text(task.exchange), routing_key=_text(task.routing_key),
                root_id=_text(task.root_id), parent_id=_text(task.parent_id), children=children,
                received=task.received, started=task.started, runtime=row.runtime,
                timeline=lifecycle_order(task.steps()), worker_offline=row.worker_offline,
            )

    def workflow(self, uuid: str) -> list:
        """The tree of tasks linked to ``uuid``, depth first, as [(depth, id, TaskRow or None)].

        None marks a task named as a parent or root but never seen (a
        placeholder) or, with group ids known, a group; :meth:`workflow_tree`
        tells them apart and says whether the tree may be incomplete.
        """
        with self.lock:
            return [(node.depth, node.uuid, self.task_row(node.uuid) if node.kind == "task" else None)
                    for node in self.workflow_tree(uuid).nodes]

    def workflow_tree(self, uuid: str) -> "Workflow":
        """Every task linked to ``uuid`` by root ids, parent ids and known group ids.

        celery gives each task of a group (and each header task of a chord)
        its own root id and no parent, so events alone cannot join them: the
        group ids read from the result backend (:meth:`note_groups`) do.
        A task hangs under its parent; a task without one under its group;
        a parent never seen is a placeholder under the root.  Siblings are in
        first-seen order.  Walked without recursion: a chain of 10,000 tasks
        is 10,000 levels deep.
        """
        with self.lock:
            links = _WorkflowLinks(self._tasks, self._group_of, self._group_members)
            members = links.component(uuid)
            order = {u: i for i, u in enumerate(u for u in self._tasks if u in members)}
            parents = {member: links.parent_of(member, members) for member in members}
            for member, parent in parents.items():  # a placeholder sits where its first child was seen
                if parent in members and parent not in order and member in order:
                    order[parent] = min(order.get(parent, order[member]), order[member] - 0.5)
            children: dict = {}
            for member in sorted(members, key=lambda u: order.get(u, -1)):
                children.setdefault(parents[member], []).append(member)
            for group_id in links.groups_used:
                children.setdefault(None, []).insert(0, _GROUP + group_id)
            nodes = self._walk_workflow(children, members, order)
            placeholders = sum(1 for node in nodes if node.kind == "missing")
            return Workflow(nodes=nodes, tasks=sum(1 for node in nodes if node.kind == "task"),
                            missing_parents=placeholders, lookup=tuple(links.lookup_candidates(members)))

    def _walk_workflow(self, children: dict, members: set, order: dict) -> list:
        """Depth first from the tops (parent None); members in a parent cycle are shown as tops."""
        nodes, seen = [], set()
        tops = children.get(None, [])
        leftovers = sorted((m for m in members), key=lambda u: order.get(u, -1))
        for start in (*tops, *leftovers):
            if start in seen:
                continue
            stack = [(start, 0)]
            while stack:
                node, depth = stack.pop()
                if node in seen:  # a malformed parent cycle must not loop forever
                    continue
                seen.add(node)
                nodes.append(self._workflow_node(node, depth, children))
                stack.extend((child, depth + 1) for child in reversed(children.get(node, ())))
        return nodes

    def _workflow_node(self, node: str, depth: int, children: dict) -> "WorkflowNode":
        if node.startswith(_GROUP):
            return WorkflowNode(depth, node[len(_GROUP):], "group", len(children.get(node, ())))
        return WorkflowNode(depth, node, "task" if node in self._tasks else "missing")

    def note_groups(self, group_ids: dict) -> None:
        """Remember which group each task is in ({uuid: group id}, from the result backend)."""
        with self.lock:
            for uuid, group_id in group_ids.items():
                if type(uuid) is not str or type(group_id) is not str or not group_id:
                    continue
                old = self._group_of.get(uuid)
                if old == group_id:
                    continue
                if old is not None:
                    self._group_members[old].discard(uuid)
                self._group_of[uuid] = group_id
                self._group_members.setdefault(group_id, set()).add(uuid)
            if len(self._group_of) > 2 * self.max_tasks:  # forget evicted tasks' groups
                for uuid in [u for u in self._group_of if u not in self._tasks]:
                    group_id = self._group_of.pop(uuid)
                    members = self._group_members[group_id]
                    members.discard(uuid)
                    if not members:
                        del self._group_members[group_id]

    def group_of(self, uuid: str):
        with self.lock:
            return self._group_of.get(uuid)

    def task_row(self, uuid: str) -> TaskRow | None:
        with self.lock:
            task = self._tasks.get(uuid)
            if task is None:
                return None
            worker = _hostname(task)
            runtime = task.runtime
            lost = task.state == states.STARTED and task.worker is not None and \
                not _is_alive(task.worker, self._clock())
            if runtime is None and task.started:
                if lost:  # its clock stops when the worker was last heard from
                    last = self._last_heard(task.worker.hostname, task.worker)
                    runtime = max(0.0, last - task.started) if last is not None else None
                elif task.state == states.STARTED:
                    runtime = max(0.0, self._clock() - task.started)
                elif task.state == FAILURE and isinstance(task.failed, (int, float)):
                    runtime = max(0.0, task.failed - task.started)  # task-failed carries no runtime
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
                worker_offline=lost,
            )

    def now(self) -> float:
        return self._clock()

    def task_names(self) -> list:
        """Every task type seen, sorted."""
        with self.lock:
            return sorted(self._task_types)

    def has_worker(self, hostname: str) -> bool:
        with self.lock:
            return hostname in self._workers

    def heartbeat_freq(self, hostname: str):
        """The heartbeat interval the worker's latest heartbeat announced (None: unknown worker)."""
        with self.lock:
            worker = self._workers.get(hostname)
            return worker.freq if worker is not None else None

    def has_task(self, uuid: str) -> bool:
        with self.lock:
            return uuid in self._tasks

    def worker_rows(self) -> list:
        """Every known worker, online ones first, each group by hostname."""
        now = self._clock()
        rows = []
        with self.lock:
            for hostname, worker in list(self._workers.items()):
                last = self._last_heard(hostname, worker)
                software = " ".join(str(p) for p in (worker.sw_ident, worker.sw_ver) if p)
                online = _is_alive(worker, now)
                rows.append(
                    WorkerRow(
                        hostname=hostname,
                        online=online,
                        active=worker.active if online else None,
                        processed=worker.processed,
                        loadavg=tuple(worker.loadavg) if _is_sequence(worker.loadavg) else None,
                        heartbeat_age=(now - last) if last else None,
                        software=software,
                    )
                )
        rows.sort(key=lambda r: (not r.online, r.hostname))
        return rows

    def _last_heard(self, hostname: str, worker):
        """When the worker was last heard from (a worker-offline empties celery's heartbeats)."""
        if worker.heartbeats:
            return worker.heartbeats[-1]
        return self._offline_at.get(hostname)

    def summary(self) -> Summary:
        now = self._monotonic()
        with self.lock:
            workers = list(self._workers.values())
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
                missed_task_events=self._gaps.missed,
            )

    def _live_children(self, task: TaskRecord) -> list:
        """Children still in memory (celery's WeakSet forgets evicted ones the same way)."""
        return [uuid for uuid in task.children or () if uuid in self._tasks]

    # -- history: export and restore (celerytop/store.py) -------------------
    #: Task attributes a record keeps by name; other event fields (queue, and
    #: any a worker adds) go under "extra".
    _TASK_FIELDS = ("name", "state", "received", "sent", "started", "rejected", "succeeded", "failed",
                    "retried", "revoked", "args", "kwargs", "eta", "expires", "retries", "result",
                    "exception", "timestamp", "runtime", "traceback", "exchange", "routing_key", "clock",
                    "client", "root_id", "parent_id")
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
            prev, next_key = -1, base["next"]
            for uuid, task in self._tasks.items():
                fingerprint = _fingerprint(task.change_key())
                old = seen.get(uuid)
                # "seq" follows the model's order (first seen, restored history
                # first): a task keeps its seq while it stays in order, else takes a new one.
                if old is not None and old[1] > prev:
                    key = old[1]
                else:
                    key, next_key = next_key, next_key + 1
                fresh[uuid] = (fingerprint, key)
                prev = key
                if everything or old != (fingerprint, key):
                    tasks.append(self._task_record(uuid, task, key))
            evicted = [uuid for uuid in seen if uuid not in fresh]
            workers, known = [], {}
            for hostname, worker in list(self._workers.items()):
                record = known[hostname] = self._worker_record(hostname, worker)
                if everything or base["workers"].get(hostname) != record:
                    workers.append(record)
            base.update(tasks=fresh, workers=known, next=next_key)
            return tasks, workers, evicted

    def _task_record(self, uuid: str, task: TaskRecord, key: int) -> dict:
        record = {name: getattr(task, name) for name in self._TASK_FIELDS}
        extra = dict(task.extra or ())
        if task.queue is not None:
            extra["queue"] = task.queue
        record.update(
            uuid=uuid, seq=key, worker=task.worker.hostname if task.worker is not None else None,
            children=sorted(self._live_children(task)),
            timeline=[list(step) for step in task.steps()],
            extra=extra,
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
            live = self._tasks
            self._tasks = {}
            restored = []
            first_seq = -len(tasks) - 1 + min((t.seq for t in live.values()), default=0)
            for index, record in enumerate(tasks):
                try:
                    task = self._restore_task(record, first_seq + index, live) if isinstance(record, dict) else None
                except (TypeError, ValueError, AttributeError):  # e.g. an unhashable name
                    task = None
                if task is not None:
                    restored.append((task, record.get("children")))
            self._tasks.update(live)  # restored history is older than what arrived already
            for task, children in restored:
                self._link_restored(task, children)
            self._rebuild_heaps()
            self._id_index, self._id_index_seq = [], -sys.maxsize  # restored tasks sit before the newest
            failures = self.state_counts[FAILURE]
            if failures > self.max_failures or len(self._tasks) - failures > self.max_tasks:
                self._evict()
            self._version += 1

    def _restore_worker(self, record: dict):
        hostname = record.get("hostname")
        if not isinstance(hostname, str) or not hostname or hostname in self._workers or fields_problem(record):
            return None
        heartbeats = [h for h in record.get("heartbeats") or () if is_finite_number(h)]
        fields = {name: record[name] for name in self._WORKER_FIELDS[1:] if name in record}
        fields["heartbeats"] = sorted(heartbeats)[-Worker.heartbeat_max:]
        try:
            worker = Worker(hostname, **fields)
        except (TypeError, ValueError):
            return None
        extra = record.get("extra")
        if isinstance(extra, dict):
            for key, value in extra.items():
                if isinstance(key, str) and key != "event" and key not in self._WORKER_FIELDS:
                    worker.__dict__[key] = value
        self._workers[hostname] = worker
        return worker

    def _restore_task(self, record: dict, seq: int, live: dict):
        uuid, state = record.get("uuid"), record.get("state")
        if not isinstance(uuid, str) or not uuid or uuid in live or uuid in self._tasks \
                or not isinstance(state, str) or fields_problem(record):  # as an event's fields are checked
            return None
        task = TaskRecord(uuid, seq)
        extra = record.get("extra")
        if isinstance(extra, dict):
            task.set_fields({k: v for k, v in extra.items() if k not in self._TASK_FIELDS})
        task.set_fields({name: record[name] for name in self._TASK_FIELDS if name in record})
        hostname = record.get("worker")
        if isinstance(hostname, str) and hostname:
            worker = self._workers.get(hostname)
            if worker is None:  # as celery does when a task names a worker it has not seen
                worker = self._workers[hostname] = Worker(hostname)
            task.worker = worker
        steps = record.get("timeline") if isinstance(record.get("timeline"), list) else []
        task.timeline = tuple(value for step in steps[:TIMELINE_MAX] if _is_sequence(step) and len(step) == 2
                              for value in step)
        if isinstance(task.name, str):
            self._task_types.add(task.name)
        self._tasks[uuid] = task
        self.state_counts[state] += 1
        return task

    def _link_restored(self, task: TaskRecord, children) -> None:
        for child_id in children if isinstance(children, list) else ():
            if isinstance(child_id, str) and child_id in self._tasks:
                task.add_child(child_id)
        if task.parent_id is None or isinstance(task.parent_id, str):
            self._link_family(task, move_parent=False)
        else:  # a broken record: its parent id names no task
            self._adopt_orphans(task)


def _fingerprint(values: tuple) -> int:
    """A hash, not the tuple: 10000 tuples kept between exports would keep waking the garbage collector."""
    try:
        return hash(values)
    except TypeError:  # a malformed event left a list where a timestamp belongs
        return hash(repr(values))


def _in_sorted(items: list, value) -> bool:
    position = bisect_left(items, value)
    return position < len(items) and items[position] == value


def _is_sequence(value) -> bool:
    return isinstance(value, (list, tuple))


def _is_alive(worker, now: float) -> bool:
    """celery's ``Worker.alive`` against the model's clock (a replay runs on the recording's)."""
    try:
        return bool(worker.heartbeats) and now < worker.heartbeat_expires
    except (TypeError, ValueError, IndexError):  # a broken heartbeat field
        return False
