"""What the screen asks of the model: the task list (filtered, sorted), rows, a task's detail, the summary.

:class:`ModelQueries` is mixed into :class:`~celerytop.model.cluster.ClusterModel`
and reads the state its ingest keeps (``_tasks``, ``_workers``, the counters);
every public method takes ``self.lock`` for the whole read, so what it
returns is one consistent snapshot (rows.py), never half an event.
"""

from __future__ import annotations

from bisect import bisect_left, insort

from celery import states

from celerytop.model.filtering import EMPTY
from celerytop.model.ratehistory import BUCKETS
from celerytop.model.rows import Summary, TaskDetail, TaskRow, WorkerRow
from celerytop.model.sorting import SORTS, hostname_of, read_text
from celerytop.model.stuckness import LOST, flag_reader, lost_count
from celerytop.model.stuckness import worker_alive as _is_alive
from celerytop.model.taskrecord import TaskRecord
from celerytop.model.taskrecord import as_text as _text

FAILURE = states.FAILURE


class ModelQueries:
    """The read side of :class:`ClusterModel` (UI thread, batch output, the snapshot camera)."""

    @property
    def version(self) -> int:
        """Changes whenever the set of tasks or any task's state changes."""
        return self._version

    def query(self, task_filter=EMPTY, sort: str = "received", descending: bool | None = None) -> list:
        """Task ids matching ``task_filter``, sorted; cached until the model changes."""
        key_fn, default_descending = SORTS[sort]
        if descending is None:
            descending = default_descending
        with self.lock:
            now = self._clock() if any(term.field == "is" for term in task_filter.terms) else None  # time tells
            cache_key = (self._version, task_filter.text, sort, descending, now)
            if self._query_cache[0] == cache_key:
                return self._query_cache[1]
            if not task_filter and key_fn is None:
                order = list(self._tasks)
            else:
                tasks = self._tasks.values()
                if task_filter:
                    flags = flag_reader(self, now) if now is not None else None
                    tasks = task_filter.narrow(tasks, lambda a: flags if a == "flag" else read_text(a))
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
                expires=task.expires, queue=_text(getattr(task, "queue", None)), exchange=_text(task.exchange),
                routing_key=_text(task.routing_key),
                root_id=_text(task.root_id), parent_id=_text(task.parent_id), children=children,
                received=task.received, started=task.started, runtime=row.runtime,
                timeline=lifecycle_order(task.steps()), worker_offline=row.worker_offline, flag=row.flag,
            )

    def task_row(self, uuid: str) -> TaskRow | None:
        with self.lock:
            task = self._tasks.get(uuid)
            if task is None:
                return None
            worker = hostname_of(task)
            runtime = task.runtime
            flag = self.stuck_rules.flag(self, task, self._clock())  # LOST, STUCK or "" (stuckness.py)
            lost = flag == LOST
            if runtime is None and task.started:
                if lost and task.state == states.STARTED:  # its clock stops when the worker was last heard from
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
                flag=flag,
            )

    def now(self) -> float:
        return self._clock()

    def task_names(self) -> list:
        """Every task type seen, sorted."""
        with self.lock:
            return sorted(self._task_types)

    def type_rows(self) -> list:
        """The task types' aggregates (typestats.TypeRow), by name, over the window ending now."""
        with self.lock:
            return self.type_stats.rows(self._clock())

    def failure_groups(self) -> list:
        """Every failure seen, grouped (model/failgroups.py): dicts, the (other) group last."""
        with self.lock:
            return self._failures.rows()

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
                        loadavg=tuple(worker.loadavg) if is_sequence(worker.loadavg) else None,
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
            rate = self._event_rate.per_second(now, total)  # sampled by sample_event_rate, not here
            self.type_stats.fold()  # the moves noted, counted: an odd one counts as a malformed event
            return Summary(
                workers_online=online,
                workers_total=len(workers),
                task_count=len(self._tasks),
                state_counts=counts,
                events_total=total,
                task_events=self.task_events,
                events_per_second=rate,
                unknown_events=self.unknown_events,
                malformed_events=self.malformed_events + self.type_stats.odd_moves,
                evicted=self.evicted,
                unknown_types=tuple(self.unknown_types),
                missed_task_events=self._gaps.missed,
                rate_history=self.rate_history.series(wall, SUMMARY_BUCKETS),
                lost_tasks=lost_count(self, wall),
            )

    def rate_series(self, count: int = BUCKETS) -> tuple[list, list]:
        """(succeeded, failed) per 10 s bucket for the last ``count`` buckets (an hour), oldest first, to now."""
        with self.lock:
            return self.rate_history.series(self._clock(), count)

    def _live_children(self, task: TaskRecord) -> list:
        """Children still in memory (celery's WeakSet forgets evicted ones the same way)."""
        return [uuid for uuid in task.children or () if uuid in self._tasks]


#: Buckets of rate history in each summary: the header draws as many of these as fit.
SUMMARY_BUCKETS = 30

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


def _in_sorted(items: list, value) -> bool:
    position = bisect_left(items, value)
    return position < len(items) and items[position] == value


def is_sequence(value) -> bool:
    return isinstance(value, (list, tuple))
