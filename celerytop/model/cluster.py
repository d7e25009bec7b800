"""The cluster model's ingest: celery's ``State`` rules applied to each event, and eviction within the bounds.

The capture thread calls :meth:`ClusterModel.on_event`; the UI reads
snapshots (rows.py) through the methods mixed in from queries.py and
workflow.py, under the same lock, so it never sees a half-applied event.
History export and restore (snapshot.py) and the event rate (rates.py) are
their own modules.  No urwid here.
"""

from __future__ import annotations

import heapq
import sys
import threading
import time
from collections import Counter

from celery import states
from celery.events.state import Worker

from celerytop.events.eventcheck import problem
from celerytop.model import snapshot
from celerytop.model.eventloss import ProcessedGaps
from celerytop.model.failgroups import FailureGroups
from celerytop.model.histories import Histories, HistoryQueries
from celerytop.model.queries import ModelQueries
from celerytop.model.queuewait import QueueWaitQueries
from celerytop.model.rates import EventRate
from celerytop.model.stuckness import StuckRules
from celerytop.model.taskrecord import TaskRecord, apply_task_event
from celerytop.model.typestats import TypeStats
from celerytop.model.workflow import WorkflowQueries

#: Event types the model applies, each to the subject celery's State reads.
TASK_SUBJECTS = {f"task-{s}": s for s in
                 ("sent", "received", "started", "succeeded", "failed", "rejected", "revoked", "retried")}
WORKER_SUBJECTS = {f"worker-{s}": s for s in ("online", "heartbeat", "offline")}
KNOWN_EVENT_TYPES = frozenset(TASK_SUBJECTS) | frozenset(WORKER_SUBJECTS)
FAILURE = states.FAILURE
_intern = sys.intern

#: Finished tasks: evicted first when ``max_tasks`` is exceeded.
FINISHED_STATES = frozenset(states.READY_STATES) | {states.REJECTED}


class ClusterModel(ModelQueries, WorkflowQueries, QueueWaitQueries, HistoryQueries):
    """Thread-safe holder of everything known about the cluster; every public method takes ``self.lock``."""

    def __init__(self, max_tasks: int = 10000, max_failures: int = 1000, clock=time.time,
                 monotonic=time.monotonic, window: float = 300.0):
        self.max_tasks = max(1, int(max_tasks))
        self.max_failures = max(0, int(max_failures))
        self.lock = threading.RLock()
        self._clock, self._monotonic = clock, monotonic
        self._tasks: dict = {}  # uuid -> TaskRecord, in first-seen order
        self._workers: dict = {}  # hostname -> celery's events.state.Worker
        self._task_types: set = set()
        self._orphans: dict = {}  # parent uuid -> [child uuid]: children seen before their parent
        self._group_of: dict = {}  # uuid -> group id, as the result backend told (note_groups)
        self._group_members: dict = {}  # group id -> {uuid}
        self._offline_at: dict = {}  # hostname -> when its worker-offline came (celery forgets its heartbeats)
        self._next_seq = 0
        self._heaps = EvictionHeaps()
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
        self._event_rate = EventRate()  # sampled by sample_event_rate, read by summary
        self._export_memory = snapshot.ExportMemory()  # what the last export_changes saw
        self._gaps = ProcessedGaps()
        self._failures = FailureGroups()  # every failure seen, grouped (and per minute); eviction leaves it
        self.type_stats = TypeStats(window)  # per task type, from events (typestats.py): eviction leaves it
        self.histories = Histories()  # per worker (histories.py); per type and the header's: type_stats
        self.stuck_rules = StuckRules()  # what makes a task stuck (stuckness.py; launch.py sets --stuck-after)
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
            before = name_before = None
        else:
            before, name_before = task.state, task.name
        try:
            self._update_task(task, subject, hostname, timestamp, local_received, event)
        except Exception:  # noqa: BLE001 - a broken event must never stop capture
            self.malformed_events += 1
        if counted:
            self.task_events += 1
            if subject == "started":
                self._gaps.started(hostname, timestamp)
        after = task.state
        if subject == "failed" and after == FAILURE and before != FAILURE:
            self._failures.add(uuid, task.name, hostname, timestamp, event.get("exception"), event.get("traceback"))
        if before != after or name_before is not task.name:
            self.type_stats.transition(task, name_before, before, after, local_received)
        if before != after:
            counts = self.state_counts
            if before is not None:
                counts[before] -= 1
            counts[after] += 1
            self._version += 1
            self._heaps.remember(task, before, after)
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
            self._heaps.remember(task, None, task.state)
            self._heaps.trim(tasks)
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
            self.histories.workers.event(hostname, event)

    def _worker_added(self, hostname: str) -> None:
        if self.on_new_worker is not None:
            self.on_new_worker(hostname)

    def _evict(self) -> None:
        """Drop tasks over the bounds.

        Failures have their own bound (``max_failures``), so a flood of
        successes never pushes the failures a person came to read out of
        memory; other tasks go oldest finished first, then oldest.
        "Oldest" is first seen.
        """
        doomed = []
        counts, heaps = self.state_counts, self._heaps
        excess_failures = counts[FAILURE] - self.max_failures
        if excess_failures > 0:
            doomed += heaps.pop_oldest(heaps.failures, excess_failures, self._tasks)
        excess_others = len(self._tasks) - counts[FAILURE] - self.max_tasks
        if excess_others > 0:
            finished = heaps.pop_oldest(heaps.finished, excess_others, self._tasks)
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
            self.type_stats.forget_in_flight(task.name, task.state)
        self.evicted += len(doomed)
        self._version += 1
        heaps.trim(self._tasks)

    # -- refresh, and history (store/sqlite.py) --------------------------------
    def sample_event_rate(self) -> None:
        """Note the events so far, for :meth:`summary`'s events per second: once per refresh, before it."""
        now = self._monotonic()
        with self.lock:
            self._event_rate.sample(now, self.events_total)

    def export_changes(self) -> snapshot.ExportedChanges:
        """The task and worker records changed, and the tasks evicted, since the last export."""
        return snapshot.export_records(self, everything=False)

    def export_all(self) -> snapshot.ExportedChanges:
        """Like :meth:`export_changes` but every task and worker: a full snapshot."""
        return snapshot.export_records(self, everything=True)

    def restore(self, tasks: list, workers: list, aggregates=None) -> None:
        """Put exported records (and aggregates) back, older than anything here (see snapshot.restore_records)."""
        snapshot.restore_records(self, tasks, workers, aggregates)


class EvictionHeaps:
    """Eviction candidates as heaps of tasks, oldest first seen (lowest seq) on top: failures, other finished tasks.

    An entry whose task has since changed or gone is skipped when popped.
    """

    __slots__ = ("finished", "failures")

    def __init__(self):
        self.finished: list = []
        self.failures: list = []

    def heap_for(self, state):
        """The heap a task in ``state`` belongs in; None for unfinished tasks."""
        if state == FAILURE:
            return self.failures
        if state in FINISHED_STATES:
            return self.finished
        return None

    def remember(self, task: TaskRecord, before, after) -> None:
        """Index a task that became a failure or finished (``before`` None: index it anew)."""
        heap = self.heap_for(after)
        if heap is not None and (before is None or heap is not self.heap_for(before)):
            heapq.heappush(heap, task)

    def pop_oldest(self, heap: list, count: int, tasks: dict) -> list:
        """Up to ``count`` uuids off ``heap``, skipping entries gone stale (evicted, moved, changed kind)."""
        found = []
        while heap and len(found) < count:
            task = heapq.heappop(heap)
            if tasks.get(task.uuid) is task and self.heap_for(task.state) is heap:
                found.append(task.uuid)
        return found

    def trim(self, tasks: dict) -> None:
        """Rebuild the heaps once stale entries (tasks gone, changed or copied) pass 5 %: they hold memory."""
        if len(self.finished) + len(self.failures) > 1.05 * len(tasks) + 1024:
            self.rebuild(tasks)

    def rebuild(self, tasks: dict) -> None:
        self.finished, self.failures = [], []
        for task in tasks.values():
            heap = self.heap_for(task.state)
            if heap is not None:
                heap.append(task)
        heapq.heapify(self.finished)
        heapq.heapify(self.failures)
