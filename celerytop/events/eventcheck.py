"""Whether an event is fit to apply: the one check at the entry of every event path.

Anyone who can publish on the event exchange can send anything, so every
event (from the broker, a recording or a seed) passes :func:`problem`
before anything reads it: the streams (``events/streams``) before celery's
Receiver adjusts its clock and timestamps with it, and the model before it
keeps it.  A malformed event is counted and shown (``N malformed``), never
raised.  The check is of types and ranges only, a few dictionary look-ups
per event: what a text holds (10 MB, escape sequences) the model keeps as
sent and the screen shows safely.
"""

from __future__ import annotations

#: Fields that, when present and not None, must be text: dictionary keys,
#: links between tasks, and what is sorted, counted and shown as a name.
TEXT_FIELDS = frozenset(("hostname", "uuid", "name", "state", "root_id", "parent_id", "client"))
#: Fields that, when present and not None, must be a time: a number of
#: seconds since 1970 no further than MAX_TIME either way.  The event's own
#: times, and those of task events copied onto the task: computed with,
#: compared, sorted, and turned into dates (by celery too, which cannot for
#: a time of 1e308: its clock-drift warning raised OverflowError).
TIME_FIELDS = frozenset(("timestamp", "local_received", "sent", "received", "started", "succeeded", "failed",
                         "retried", "rejected", "revoked"))
#: Seconds either side of 1970 a time may be (about the year 5138).
MAX_TIME = 1e11
#: Fields that, when present and not None, must be a finite number: a
#: duration, the Lamport clock, a time zone's offset.  A worker's other
#: fields (freq, counts, load) only describe it: each is read defensively
#: where used, and a heartbeat with one broken still shows the worker.
NUMBER_FIELDS = frozenset(("utcoffset", "clock", "runtime"))
#: Hours a sender's clock may be off UTC (time zones span -12 to +14).
MAX_UTCOFFSET = 24
_INF = float("inf")
_INT_LIMIT = 2 ** 63  # beyond any clock or count; a larger int does not even convert to a float
#: The checked fields among each set of keys seen (one per event type and
#: sender, in practice): one look-up per event instead of a set operation.
_PLANS: dict = {}
_PLANS_MAX = 1024  # broken events with ever-new keys must not grow it without bound


def problem(event) -> str | None:
    """What makes ``event`` unusable, in a few words; None for an event that may be applied."""
    if type(event) is not dict:
        return "not a JSON object"
    if type(event.get("type")) is not str:
        return "its type is not text"
    return fields_problem(event)


def fields_problem(fields: dict) -> str | None:
    """What makes the checked fields of ``fields`` unusable (an event's, or a saved task's or worker's)."""
    keys = tuple(fields)
    plan = _PLANS.get(keys)
    if plan is None:
        plan = _plan_for(keys)
    texts, times, numbers = plan
    for name in texts:
        value = fields[name]
        if type(value) is not str and value is not None:
            return f"its {name} is not text"
    for name in times:
        value = fields[name]
        if (type(value) is float or type(value) is int) and -MAX_TIME <= value <= MAX_TIME:  # NaN fails too
            continue
        if value is not None:
            return f"its {name} is not a time"
    for name in numbers:
        value = fields[name]
        if value is not None and not is_finite_number(value):
            return f"its {name} is not a finite number"
    offset = fields.get("utcoffset")
    if offset is not None and not -MAX_UTCOFFSET <= offset <= MAX_UTCOFFSET:
        return "its utcoffset is not a time zone's"  # celery's Receiver shifts the timestamp by it
    return None


def _plan_for(keys: tuple) -> tuple:
    if len(_PLANS) >= _PLANS_MAX:
        _PLANS.clear()
    plan = _PLANS[keys] = tuple(tuple(k for k in keys if k in fields)
                                for fields in (TEXT_FIELDS, TIME_FIELDS, NUMBER_FIELDS))
    return plan


def is_finite_number(value) -> bool:
    """A float other than NaN and infinity, or an int within 64 bits (bool is not a number here)."""
    kind = type(value)
    if kind is float:
        return -_INF < value < _INF
    return kind is int and -_INT_LIMIT < value < _INT_LIMIT
