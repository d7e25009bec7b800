"""The read-only records the model hands to the screen: worker and task rows, a task's detail, the summary, a workflow.

Each is a frozen snapshot built under the model's lock (see queries.py and
workflow.py), so the UI never holds a reference into the model's live state.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
    worker_offline: bool = False  # RECEIVED or STARTED on a worker now offline: lost
    flag: str = ""  # "LOST", "STUCK" or "" (model/stuckness.py)


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
    timeline: tuple  # ((event, timestamp), ...) in lifecycle order (see queries.lifecycle_order)
    worker_offline: bool = False
    flag: str = ""  # "LOST", "STUCK" or "" (model/stuckness.py)


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
    rate_history: tuple = ((), ())  # (succeeded, failed) per 10 s bucket, oldest first, to now (ratehistory.py)
    lost_tasks: int = 0  # RECEIVED or STARTED on a worker no longer alive (stuckness.py)


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
