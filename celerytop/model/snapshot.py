"""History export and restore: the model's tasks and workers as JSON-ready records, and back (``--db``).

:func:`export_records` is what :meth:`ClusterModel.export_changes` and
``export_all`` return to store/sqlite.py; :func:`restore_records` puts a
saved history back into a model (:meth:`ClusterModel.restore`).  Both run
under the model's lock and use its ingest internals for linking, bounds and
eviction, so restored tasks obey the same rules as live ones.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import NamedTuple

from celery import states
from celery.events.state import Worker

from celerytop.events.eventcheck import fields_problem, is_finite_number
from celerytop.model.aggregates_store import export_aggregates, restore_aggregates
from celerytop.model.queries import is_sequence
from celerytop.model.taskrecord import TIMELINE_MAX, TaskRecord

FAILURE = states.FAILURE

#: Task attributes a record keeps by name; other event fields (queue, and
#: any a worker adds) go under "extra".
TASK_FIELDS = ("name", "state", "received", "sent", "started", "rejected", "succeeded", "failed",
               "retried", "revoked", "args", "kwargs", "eta", "expires", "retries", "result",
               "exception", "timestamp", "runtime", "traceback", "exchange", "routing_key", "clock",
               "client", "root_id", "parent_id")
WORKER_FIELDS = ("hostname", "pid", "freq", "heartbeats", "clock", "active", "processed", "loadavg",
                 "sw_ident", "sw_ver", "sw_sys")


class ExportedChanges(NamedTuple):
    """One export: what a save writes."""

    tasks: list  # task records (dicts with "uuid", "seq", "state", ...) new or changed
    workers: list  # worker records (dicts with "hostname", ...) new or changed
    evicted: list  # uuids of tasks an earlier export had that the model no longer has
    #: () -> {part: dict}: rates over time and the other histories, type stats, failure groups
    #: (aggregates_store.py); copied at the export, built when called (outside the model's lock).
    aggregates: object = None


@dataclass
class ExportMemory:
    """What the previous export saw, for the next one to compare with."""

    tasks: dict = field(default_factory=dict)  # uuid -> (fingerprint, seq)
    workers: dict = field(default_factory=dict)  # hostname -> the record exported
    next_seq: int = 0


def export_records(model, everything: bool) -> ExportedChanges:
    """The tasks and workers changed since the last export (``everything``: all of them).

    Nothing is tracked per event: each export compares a cheap fingerprint
    of every task with the one the previous export saw, so ingest stays as
    fast as before and the cost (20-40 ms for 10000 tasks) is paid every
    few seconds by the snapshot camera instead.
    """
    with model.lock:
        memory = model._export_memory
        seen, fresh, tasks = memory.tasks, {}, []
        prev, next_key = -1, memory.next_seq
        for uuid, task in model._tasks.items():
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
                tasks.append(_task_record(model, uuid, task, key))
        evicted = [uuid for uuid in seen if uuid not in fresh]
        workers, known = [], {}
        for hostname, worker in list(model._workers.items()):
            record = known[hostname] = _worker_record(hostname, worker)
            if everything or memory.workers.get(hostname) != record:
                workers.append(record)
        memory.tasks, memory.workers, memory.next_seq = fresh, known, next_key
        return ExportedChanges(tasks, workers, evicted, export_aggregates(model))


def _task_record(model, uuid: str, task: TaskRecord, key: int) -> dict:
    record = {name: getattr(task, name) for name in TASK_FIELDS}
    extra = dict(task.extra or ())
    if task.queue is not None:
        extra["queue"] = task.queue
    record.update(
        uuid=uuid, seq=key, worker=task.worker.hostname if task.worker is not None else None,
        children=sorted(model._live_children(task)),
        timeline=[list(step) for step in task.steps()],
        extra=extra,
    )
    return record


def _worker_record(hostname: str, worker) -> dict:
    record = {name: getattr(worker, name, None) for name in WORKER_FIELDS}
    loadavg = record["loadavg"]
    record.update(hostname=hostname, heartbeats=list(worker.heartbeats or ()),
                  loadavg=list(loadavg) if is_sequence(loadavg) else loadavg,
                  extra=dict(getattr(worker, "__dict__", {})))
    return record


def restore_records(model, tasks: list, workers: list, aggregates=None) -> None:
    """Put exported records back into ``model``, older than anything already there.

    Not events: the event statistics stay as they are; the saved aggregates
    (``aggregates``, aggregates_store.py) are added to the model's.  Restored tasks go
    through the same bounds as live ones (failures their own), and a
    uuid or hostname already known keeps its live state.  Broken records
    are skipped: a history file must never stop the monitor.
    """
    with model.lock:
        restore_aggregates(model, aggregates)
        for record in workers:
            if isinstance(record, dict):
                _restore_worker(model, record)
        live = model._tasks
        model._tasks = {}
        restored = []
        first_seq = -len(tasks) - 1 + min((t.seq for t in live.values()), default=0)
        for index, record in enumerate(tasks):
            try:
                task = _restore_task(model, record, first_seq + index, live) if isinstance(record, dict) else None
            except (TypeError, ValueError, AttributeError):  # e.g. an unhashable name
                task = None
            if task is not None:
                restored.append((task, record.get("children")))
        model._tasks.update(live)  # restored history is older than what arrived already
        for task, children in restored:
            _link_restored(model, task, children)
        model._heaps.rebuild(model._tasks)
        model._id_index, model._id_index_seq = [], -sys.maxsize  # restored tasks sit before the newest
        failures = model.state_counts[FAILURE]
        if failures > model.max_failures or len(model._tasks) - failures > model.max_tasks:
            model._evict()
        model._version += 1


def _restore_worker(model, record: dict):
    hostname = record.get("hostname")
    if not isinstance(hostname, str) or not hostname or hostname in model._workers or fields_problem(record):
        return None
    heartbeats = [h for h in record.get("heartbeats") or () if is_finite_number(h)]
    fields = {name: record[name] for name in WORKER_FIELDS[1:] if name in record}
    fields["heartbeats"] = sorted(heartbeats)[-Worker.heartbeat_max:]
    try:
        worker = Worker(hostname, **fields)
    except (TypeError, ValueError):
        return None
    extra = record.get("extra")
    if isinstance(extra, dict):
        for key, value in extra.items():
            if isinstance(key, str) and key != "event" and key not in WORKER_FIELDS:
                worker.__dict__[key] = value
    model._workers[hostname] = worker
    return worker


def _restore_task(model, record: dict, seq: int, live: dict):
    uuid, state = record.get("uuid"), record.get("state")
    if not isinstance(uuid, str) or not uuid or uuid in live or uuid in model._tasks \
            or not isinstance(state, str) or fields_problem(record):  # as an event's fields are checked
        return None
    task = TaskRecord(uuid, seq)
    extra = record.get("extra")
    if isinstance(extra, dict):
        task.set_fields({k: v for k, v in extra.items() if k not in TASK_FIELDS})
    task.set_fields({name: record[name] for name in TASK_FIELDS if name in record})
    hostname = record.get("worker")
    if isinstance(hostname, str) and hostname:
        worker = model._workers.get(hostname)
        if worker is None:  # as celery does when a task names a worker it has not seen
            worker = model._workers[hostname] = Worker(hostname)
        task.worker = worker
    steps = record.get("timeline") if isinstance(record.get("timeline"), list) else []
    task.timeline = tuple(value for step in steps[:TIMELINE_MAX] if is_sequence(step) and len(step) == 2
                          for value in step)
    if isinstance(task.name, str):
        model._task_types.add(task.name)
    model._tasks[uuid] = task
    model.state_counts[state] += 1
    return task


def _link_restored(model, task: TaskRecord, children) -> None:
    for child_id in children if isinstance(children, list) else ():
        if isinstance(child_id, str) and child_id in model._tasks:
            task.add_child(child_id)
    if task.parent_id is None or isinstance(task.parent_id, str):
        model._link_family(task, move_parent=False)
    else:  # a broken record: its parent id names no task
        model._adopt_orphans(task)


def _fingerprint(values: tuple) -> int:
    """A hash, not the tuple: 10000 tuples kept between exports would keep waking the garbage collector."""
    try:
        return hash(values)
    except TypeError:  # a malformed event left a list where a timestamp belongs
        return hash(repr(values))
