"""One task as the model keeps it, and how an event changes it.

celery's ``events.state.Task`` keeps every event field in a per-task
``__dict__`` and its children in a ``WeakSet``: about 2.5 KB of structure
per task before any of the task's own strings.  :class:`TaskRecord` keeps
the same attributes in ``__slots__``, except: its numbers (seq, clock, event
times, runtime) as doubles in one array; args, kwargs and result as one
string; exchange, routing key and queue as one tuple shared by the tasks
sent the same way; the attributes few tasks have in a dict made when first
needed.  Children are a list of ids, long tracebacks are compressed, and
the timeline is one shared string of event letters while no event repeats.
About 0.92 KB a task with the benchmark workload's args
(tests/test_taskrecord.py pins that every attribute still reads back as
celery holds it, type included).
:func:`apply_task_event` follows ``celery.events.state.Task.event`` rule
for rule (which event wins when they arrive out of order, which fields a
late ``task-received`` may still fill in); ``tests/test_model_equivalence.py``
replays streams through both and compares every attribute.
Where each attribute lives (slot, array, texts string, route tuple, rare
dict) is laid out in :mod:`celerytop.model.taskfields`.
"""

from __future__ import annotations

import sys
import zlib

from celery import states
from celery.events.state import TASK_EVENT_TO_STATE

from celerytop.model import taskfields
from celerytop.model.taskfields import (ARGS_KWARGS, EVENT_FIELDS, EXACT_INT, FIRST_FLOAT, HOW_KEPT, IN_RARE, IN_ROUTE,
                                        IN_SLOT, IN_TEXTS, KNOWN_KEYS, NAN, NO_NUMBERS, NO_ROUTE, NO_TEXTS, RESULT_ONLY,
                                        ROUTE_FIELDS, SETTABLE, SHARED_TEXT, TEXT_FIELDS, TEXT_INDEX, TIMESTAMP_INDEX,
                                        UNSET, fits_texts, number_property, rare_property, route_property,
                                        text_property)

#: Tracebacks longer than this many characters are kept compressed.
COMPRESS_FROM = 512

#: A task retried forever must not grow its timeline without bound.
TIMELINE_MAX = 64

# Tables whose methods are called per event, bound here as plain globals:
# CPython 3.11 compiles ``NAME.get(...)`` on a name bound by ``from ... import``
# as a module attribute load (no LOAD_METHOD), a bound method made per call.
_NUMBER_INDEX = taskfields.NUMBER_INDEX
_SEP = taskfields.SEP
#: One letter per task event, for the compact timeline.
_CODES = {"sent": "s", "received": "r", "started": "t", "succeeded": "u", "failed": "f", "rejected": "j",
          "revoked": "v", "retried": "y"}
_SUBJECTS = {code: subject for subject, code in _CODES.items()}
_EVENT_TIMES = frozenset(_CODES)  # the fields that hold each event's time

#: One tuple per distinct route, shared by the tasks that took it.
_ROUTES: dict = {}
_ROUTES_MAX = 4096  # queues named per task must not grow it without bound
#: What set_fields does with each set of event keys seen (one per event type and
#: sender, in practice), so each event costs one lookup instead of set operations.
_PLANS: dict = {}
_PLANS_MAX = 1024  # broken events with ever-new keys must not grow it without bound
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

    __slots__ = tuple(f for f in EVENT_FIELDS if HOW_KEPT[f] in (IN_SLOT, SHARED_TEXT)) + (
        "uuid", "worker", "children", "timeline", "_texts", "_route", "_numbers", "_rare")

    def __init__(self, uuid: str, seq: int):
        self.uuid = uuid
        self._numbers = numbers = NO_NUMBERS[:]  # NUMBER_FIELDS, NaN for None
        self._rare = None  # {RARE_FIELDS name or odd number's name: value}, once one is set
        numbers[0] = seq  # first-seen order, for eviction: the model's counter, an int well below 2**53
        numbers[1] = 0  # clock
        self.state = states.PENDING
        self.name = self.retries = self.root_id = self.parent_id = self.client = None
        self._texts = NO_TEXTS  # TEXT_FIELDS
        self._route = NO_ROUTE  # ROUTE_FIELDS
        self.worker = None  # celery's events.state.Worker, shared by its tasks
        self.children = None  # [uuid, ...] once a child names this task
        # In arrival order: while no event came twice, the events' letters
        # (one shared string per sequence, e.g. "srtu"), their times being
        # the fields named after them; else (event, time, event, time, ...).
        self.timeline = ""

    # NUMBER_FIELDS, kept in the numbers array
    seq = number_property("seq")  # first-seen order
    clock = number_property("clock")
    sent = number_property("sent")
    received = number_property("received")
    started = number_property("started")
    succeeded = number_property("succeeded")
    timestamp = number_property("timestamp")
    runtime = number_property("runtime")
    # RARE_FIELDS, kept in the rare dict
    failed = rare_property("failed")
    rejected = rare_property("rejected")
    retried = rare_property("retried")
    revoked = rare_property("revoked")
    exception = rare_property("exception")
    _traceback = rare_property("_traceback")  # read through traceback, which decompresses it
    eta = rare_property("eta")
    expires = rare_property("expires")
    extra = rare_property("extra")  # {event field celery's Task has no name for: value}
    # TEXT_FIELDS, kept in the texts string
    args = text_property("args")
    kwargs = text_property("kwargs")
    result = text_property("result")
    # ROUTE_FIELDS, kept in the shared route tuple
    exchange = route_property("exchange")
    routing_key = route_property("routing_key")
    queue = route_property("queue")

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

    def _set_number(self, name: str, value) -> None:
        """Set one of NUMBER_FIELDS: in the array when a double holds it exactly, else in ``_rare``."""
        index = _NUMBER_INDEX[name]
        if (type(value) is float and value == value) if index >= FIRST_FLOAT else (
                type(value) is int and -EXACT_INT < value < EXACT_INT):
            self._numbers[index] = value
            if self._rare is not None:
                self._rare.pop(name, None)
        else:
            self._numbers[index] = NAN
            self._set_rare(name, value)

    def _set_texts(self, fields, names: tuple) -> None:
        """Set ``names`` (some of TEXT_FIELDS) from ``fields`` in the one string they share."""
        texts = self._texts
        if self._rare is None:  # what workers send, without splitting
            if names is RESULT_ONLY:  # task-succeeded
                result = fields["result"]
                if fits_texts(result):
                    self._texts = texts[:texts.rindex(_SEP) + 1] + result
                    return
            elif names is ARGS_KWARGS:  # task-sent, task-received
                args, kwargs = fields["args"], fields["kwargs"]
                if fits_texts(args) and fits_texts(kwargs):
                    self._texts = _SEP.join((args, kwargs, texts[texts.rindex(_SEP) + 1:]))
                    return
        parts = texts.split(_SEP)
        for name in names:
            value = fields[name]
            if fits_texts(value):
                parts[TEXT_INDEX[name]] = value
                if self._rare is not None:
                    self._set_rare(name, None)
            else:
                parts[TEXT_INDEX[name]] = UNSET
                self._set_rare(name, value)
        self._texts = _SEP.join(parts)

    def _set_route(self, fields) -> None:
        """Set what ``fields`` has of ROUTE_FIELDS; the tuple is shared with every task sent the same way."""
        exchange, routing_key, queue = self._route  # ROUTE_FIELDS' order
        route = (fields.get("exchange", exchange), fields.get("routing_key", routing_key),
                 fields.get("queue", queue))
        try:
            shared = _ROUTES.get(route)
        except TypeError:  # a broken event sent a list for a queue: keep it, unshared
            shared = route
        if shared is None:
            if len(_ROUTES) >= _ROUTES_MAX:
                _ROUTES.clear()
            shared = _ROUTES[route] = route
        self._route = shared

    def change_key(self) -> tuple:
        """Values of which at least one changes with every event the task takes (for incremental exports)."""
        rare = self._rare
        return (self.state, len(self.timeline), len(self.children or ()), self._numbers.tobytes(),
                tuple(rare.items()) if rare else None)

    def search_text(self) -> str:
        """uuid, name, args, kwargs, result and exception as text, NULs between: what free text searches."""
        texts = self._texts
        if UNSET in texts:
            texts = _SEP.join([as_text(getattr(self, name)) for name in TEXT_FIELDS])
        name = self.name
        return _SEP.join((self.uuid, name if type(name) is str else as_text(name), texts,
                          as_text(self._kept_apart("exception"))))

    def _kept_apart(self, name: str):
        """A value kept in ``_rare`` (None when there is none)."""
        rare = self._rare
        return None if rare is None else rare.get(name)

    def _set_rare(self, name: str, value) -> None:
        rare = self._rare
        if value is None:
            if rare is not None:
                rare.pop(name, None)
        elif rare is None:
            self._rare = {name: value}
        else:
            rare[name] = value

    def __lt__(self, other: "TaskRecord") -> bool:  # eviction heaps order tasks by first seen
        return self._numbers[0] < other._numbers[0]  # seq

    def copy(self, seq: int) -> "TaskRecord":
        twin = TaskRecord.__new__(TaskRecord)
        for name in self.__slots__:
            setattr(twin, name, getattr(self, name))
        twin._numbers = self._numbers[:]
        twin._rare = dict(self._rare) if self._rare is not None else None
        twin.children = list(self.children) if self.children is not None else None
        twin.seq = seq
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
        plan = _plan_for(fields.keys())
        if plan.sets_an_event_time and type(self.timeline) is str:
            self.timeline = self._flat_timeline()  # an event that sets another event's time: keep the times
        numbers = self._numbers
        for key, kind in plan.copied:
            value = fields[key]
            if kind is IN_SLOT:
                setattr(self, key, value)
            elif kind is SHARED_TEXT:
                setattr(self, key, _intern(value) if type(value) is str else value)
            elif kind is IN_RARE:
                if value is not None or self._rare is not None:  # e.g. eta=None on every task-sent: nothing to do
                    setattr(self, key, value)
            elif self._rare is None and (type(value) is float and kind >= FIRST_FLOAT and value == value or
                                         type(value) is int and kind < FIRST_FLOAT and -EXACT_INT < value < EXACT_INT):
                numbers[kind] = value  # the usual case (a float time, an int clock) inline
            else:
                self._set_number(key, value)
        if plan.text_keys:
            self._set_texts(fields, plan.text_keys)
        if plan.sets_route:
            self._set_route(fields)
        if plan.extra_keys:
            extra = self.extra
            if extra is None:
                extra = self.extra = {}
            for key in plan.extra_keys:
                extra[key] = fields[key]

    def add_child(self, uuid: str) -> None:
        children = self.children
        if children is None:
            self.children = [uuid]
        elif uuid not in children:
            children.append(uuid)


def as_text(value) -> str:
    """None as "", text as itself, anything else as str() of it."""
    return "" if value is None else value if type(value) is str else str(value)


class _Plan:
    """What set_fields does with one set of event keys (slots: read once per event, on the hot path)."""

    __slots__ = ("copied", "text_keys", "sets_route", "extra_keys", "sets_an_event_time")

    def __init__(self, copied: tuple, text_keys: tuple, sets_route: bool, extra_keys: tuple,
                 sets_an_event_time: bool):
        self.copied = copied  # ((key, how it is kept), ...) for the keys kept one by one
        self.text_keys = text_keys  # the keys of TEXT_FIELDS (RESULT_ONLY, ARGS_KWARGS shared)
        self.sets_route = sets_route  # whether there are keys of ROUTE_FIELDS
        self.extra_keys = extra_keys  # the keys kept in ``extra``
        self.sets_an_event_time = sets_an_event_time  # whether one is an event's time (a field of _CODES)


def _plan_for(keys) -> _Plan:
    """What set_fields does with these keys (made once per set of keys, then looked up)."""
    signature = tuple(keys)
    plan = _PLANS.get(signature)
    if plan is None:
        signature_texts = tuple(key for key in signature if key in TEXT_INDEX)
        if len(_PLANS) >= _PLANS_MAX:
            _PLANS.clear()
        plan = _PLANS[signature] = _Plan(
            tuple((key, HOW_KEPT[key]) for key in signature
                  if key in SETTABLE and HOW_KEPT[key] not in (IN_TEXTS, IN_ROUTE)),
            {RESULT_ONLY: RESULT_ONLY, ARGS_KWARGS: ARGS_KWARGS}.get(signature_texts, signature_texts),
            any(key in ROUTE_FIELDS for key in signature),
            tuple(key for key in signature if isinstance(key, str) and key not in KNOWN_KEYS),
            not _EVENT_TIMES.isdisjoint(signature),
        )
    return plan


def apply_task_event(task: TaskRecord, subject: str, timestamp, event: dict) -> None:
    """``celery.events.state.Task.event`` for one event (``subject``: 'received', ...)."""
    task.add_step(subject, timestamp)  # first: a compact timeline reads the earlier time from the field
    state = TASK_EVENT_TO_STATE.get(subject)
    clean_time = type(timestamp) is float and timestamp == timestamp and task._rare is None
    if state is not None:  # e.g. task.received = the event's time
        index = _NUMBER_INDEX.get(subject)
        if clean_time and index is not None:
            task._numbers[index] = timestamp
        else:
            setattr(task, subject, timestamp)
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
        if clean_time and task._rare is None:  # set_fields may have kept an odd value apart meanwhile
            task._numbers[TIMESTAMP_INDEX] = timestamp
        else:
            task._set_number("timestamp", timestamp)
