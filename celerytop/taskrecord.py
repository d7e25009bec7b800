"""One task as the model keeps it, and how an event changes it.

celery's ``events.state.Task`` keeps every event field in a per-task
``__dict__`` and its children in a ``WeakSet``: about 2.5 KB of structure
per task before any of the task's own strings.  :class:`TaskRecord` keeps
the same attributes in ``__slots__``, children as a list of ids, long
tracebacks compressed and the timeline as one shared string of event
letters (while no event repeats), so 100,000 tasks fit in a fraction of the
memory.  :func:`apply_task_event` follows ``celery.events.state.Task.event``
rule for rule (which event wins when they arrive out of order, which fields
a late ``task-received`` may still fill in); ``tests/test_model_equivalence.py``
replays streams through both and compares every attribute.
"""

from __future__ import annotations

import sys
import zlib

from celery import states
from celery.events.state import TASK_EVENT_TO_STATE

#: Attributes celery's ``Task`` shows by name, each a slot here.
EVENT_FIELDS = (
    "name", "state", "sent", "received", "started", "rejected", "succeeded", "failed", "retried",
    "revoked", "args", "kwargs", "eta", "expires", "retries", "result", "exception", "timestamp",
    "runtime", "traceback", "exchange", "routing_key", "clock", "client", "root_id", "parent_id", "queue",
)
#: Event fields that describe the event, not the task (the worker and the
#: client are kept as references): celery copies them onto the task, we
#: do not, which is most of the memory saved.
EVENT_ONLY_FIELDS = frozenset(("type", "local_received", "utcoffset", "pid", "hostname", "uuid"))
#: Fields that repeat across tasks: one shared string each.
SHARED_TEXT_FIELDS = frozenset(("name", "exchange", "routing_key", "queue", "client"))

#: Tracebacks longer than this many characters are kept compressed.
COMPRESS_FROM = 512

#: A task retried forever must not grow its timeline without bound.
TIMELINE_MAX = 64

_SETTABLE = frozenset(EVENT_FIELDS)
#: One letter per task event, for the compact timeline.
_CODES = {"sent": "s", "received": "r", "started": "t", "succeeded": "u", "failed": "f", "rejected": "j",
          "revoked": "v", "retried": "y"}
_SUBJECTS = {code: subject for subject, code in _CODES.items()}
_EVENT_TIMES = frozenset(_CODES)  # the fields that hold each event's time
_SETTABLE_UNSHARED = _SETTABLE - SHARED_TEXT_FIELDS
_KNOWN = _SETTABLE | EVENT_ONLY_FIELDS
_MERGE_RULES = {states.RECEIVED: frozenset(("name", "args", "kwargs", "parent_id", "root_id", "retries",
                                            "eta", "expires"))}
_PRECEDENCE = states.PRECEDENCE_LOOKUP
_NONE_PRECEDENCE = states.NONE_PRECEDENCE
_RETRY = states.RETRY
_intern = sys.intern


class _Compressed(bytes):
    """A compressed traceback, told apart from a worker that sent bytes."""

    __slots__ = ()


class TaskRecord:
    """What is known about one task; ``None`` for anything not yet reported."""

    # The traceback is kept compressed (see the property below).
    __slots__ = tuple(f for f in EVENT_FIELDS if f != "traceback") + (
        "_traceback", "uuid", "seq", "worker", "children", "timeline", "extra")

    def __init__(self, uuid: str, seq: int):
        self.uuid = uuid
        self.seq = seq  # first-seen order, for eviction
        self.state = states.PENDING
        self.clock = 0
        self.name = self.sent = self.received = self.started = self.rejected = None
        self.succeeded = self.failed = self.retried = self.revoked = None
        self.args = self.kwargs = self.eta = self.expires = self.retries = None
        self.result = self.exception = self.timestamp = self.runtime = self._traceback = None
        self.exchange = self.routing_key = self.client = self.root_id = self.parent_id = None
        self.queue = None
        self.worker = None  # celery's events.state.Worker, shared by its tasks
        self.children = None  # [uuid, ...] once a child names this task
        # In arrival order: while no event came twice, the events' letters
        # (one shared string per sequence, e.g. "srtu"), their times being
        # the fields named after them; else (event, time, event, time, ...).
        self.timeline = ""
        self.extra = None  # {field: value} for event fields celery's Task has no name for

    @property
    def traceback(self):
        value = self._traceback
        return zlib.decompress(value).decode("utf-8", "surrogatepass") if type(value) is _Compressed else value

    @traceback.setter
    def traceback(self, value) -> None:
        # About 2 KB each, read only when a person opens the task: kept
        # compressed (about a third of the size) once they are that long.
        if type(value) is str and len(value) > COMPRESS_FROM:
            value = _Compressed(zlib.compress(value.encode("utf-8", "surrogatepass"), 1))
        self._traceback = value

    def __lt__(self, other: "TaskRecord") -> bool:  # eviction heaps order tasks by first seen
        return self.seq < other.seq

    def copy(self, seq: int) -> "TaskRecord":
        twin = TaskRecord.__new__(TaskRecord)
        for name in self.__slots__:
            setattr(twin, name, getattr(self, name))
        twin.seq = seq
        twin.children = list(self.children) if self.children is not None else None
        return twin

    def steps(self) -> tuple:
        """The timeline as ((event, timestamp), ...)."""
        flat = self._flat_timeline()
        return tuple(zip(flat[0::2], flat[1::2]))

    def add_step(self, subject: str, timestamp) -> None:
        timeline = self.timeline
        if type(timeline) is str:
            code = _CODES.get(subject)
            if code is not None and code not in timeline:
                self.timeline = _intern(timeline + code)
                return
            timeline = self._flat_timeline()
        if len(timeline) < 2 * TIMELINE_MAX:
            timeline += (subject, timestamp)
        self.timeline = timeline

    def _flat_timeline(self) -> tuple:
        timeline = self.timeline
        if type(timeline) is not str:
            return timeline
        return tuple(value for code in timeline for value in (_SUBJECTS[code], getattr(self, _SUBJECTS[code])))

    def set_fields(self, fields) -> None:
        """Copy event fields onto the task as celery's ``Task.__dict__.update`` would."""
        keys = fields.keys()
        if type(self.timeline) is str and not keys.isdisjoint(_EVENT_TIMES):
            self.timeline = self._flat_timeline()  # an event that sets another event's time: keep the times
        for key in keys & _SETTABLE_UNSHARED:  # set operations run in C: most event fields are skipped there
            setattr(self, key, fields[key])
        for key in keys & SHARED_TEXT_FIELDS:
            value = fields[key]
            setattr(self, key, _intern(value) if type(value) is str else value)
        if not keys <= _KNOWN:
            extra = self.extra
            if extra is None:
                extra = self.extra = {}
            for key in keys - _KNOWN:
                if isinstance(key, str):
                    extra[key] = fields[key]

    def add_child(self, uuid: str) -> None:
        children = self.children
        if children is None:
            self.children = [uuid]
        elif uuid not in children:
            children.append(uuid)


def apply_task_event(task: TaskRecord, subject: str, timestamp, event: dict) -> None:
    """``celery.events.state.Task.event`` for one event (``subject``: 'received', ...)."""
    task.add_step(subject, timestamp)  # first: a compact timeline reads the earlier time from the field
    state = TASK_EVENT_TO_STATE.get(subject)
    if state is not None:
        setattr(task, subject, timestamp)  # e.g. task.received = the event's time
    else:
        state = subject.upper()
    if (state != _RETRY and task.state != _RETRY
            and _PRECEDENCE.get(state, _NONE_PRECEDENCE) > _PRECEDENCE.get(task.state, _NONE_PRECEDENCE)):
        # The event happened before the state we have: merge, do not move back.
        keep = _MERGE_RULES.get(state)
        task.set_fields(event if keep is None else {k: v for k, v in event.items() if k in keep})
    else:
        task.set_fields(event)
        task.state = state
        task.timestamp = timestamp
