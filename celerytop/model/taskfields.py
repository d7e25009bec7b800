"""Where each of a task's attributes is kept inside a :class:`~celerytop.model.taskrecord.TaskRecord`.

The storage layout (which field lives in a slot, the numbers array, the
joined texts string, the shared route tuple or the rare dict) and the
properties that read and write a field where it lives.  Everything here is
read on the hot path as a module global: import names, not the module.
"""

from __future__ import annotations

from array import array

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
SHARED_TEXT_FIELDS = frozenset(("name", "client"))
#: How a task was sent (its task-sent event says): one shared tuple
#: (``TaskRecord._route``) for all the tasks sent the same way.
ROUTE_FIELDS = ("exchange", "routing_key", "queue")
#: The three reprs a task carries, kept as one string (``TaskRecord._texts``):
#: one object header instead of three.  NUL between them, \x01 alone for one
#: not set; reprs escape both, so a value holding a NUL, or \x01 alone, or not
#: text, is kept as sent in ``_rare`` (its place in the string saying \x01).
TEXT_FIELDS = ("args", "kwargs", "result")

#: Numbers every task has, kept as doubles in one array (``TaskRecord._numbers``)
#: instead of a float or int object of 32 bytes and a slot of 8 each.  NaN in
#: the array stands for None, or for a value a double cannot stand for (an int
#: timestamp, a float clock, a string from a broken event), which is then kept
#: as it came in ``_rare``: what celery's Task would hold, type and all.
FLOAT_FIELDS = ("sent", "received", "started", "succeeded", "timestamp", "runtime")
INT_FIELDS = ("seq", "clock")
NUMBER_FIELDS = INT_FIELDS + FLOAT_FIELDS
#: Attributes most tasks never set (failures, retries, ETAs, custom fields):
#: kept in the ``_rare`` dict, which exists only once one of them is set.
RARE_FIELDS = ("failed", "rejected", "retried", "revoked", "exception", "_traceback", "eta", "expires", "extra")

SETTABLE = frozenset(EVENT_FIELDS)
#: Every key an event may carry that is not kept in ``extra``.
KNOWN_KEYS = SETTABLE | EVENT_ONLY_FIELDS
NAN = float("nan")
NO_NUMBERS = array("d", [NAN] * len(NUMBER_FIELDS))
NUMBER_INDEX = {name: index for index, name in enumerate(NUMBER_FIELDS)}
FIRST_FLOAT = len(INT_FIELDS)  # NUMBER_INDEX from here on holds floats
TIMESTAMP_INDEX = NUMBER_INDEX["timestamp"]
EXACT_INT = 2 ** 53  # ints below this survive a round trip through a double
SEP, UNSET = "\0", "\x01"
NO_TEXTS = SEP.join([UNSET] * len(TEXT_FIELDS))
TEXT_INDEX = {name: index for index, name in enumerate(TEXT_FIELDS)}
#: The text keys of task-succeeded and of task-sent / task-received, shared
#: tuples so that ``TaskRecord._set_texts`` tells them apart by identity.
RESULT_ONLY, ARGS_KWARGS = ("result",), ("args", "kwargs")
NO_ROUTE = (None,) * len(ROUTE_FIELDS)
# How set_fields keeps each field: a number's index in the array, or one of these.
IN_SLOT, SHARED_TEXT, IN_RARE, IN_TEXTS, IN_ROUTE = "slot", "shared", "rare", "texts", "route"
HOW_KEPT = {name: (NUMBER_INDEX[name] if name in NUMBER_INDEX else IN_TEXTS if name in TEXT_FIELDS
                   else IN_ROUTE if name in ROUTE_FIELDS else SHARED_TEXT if name in SHARED_TEXT_FIELDS
                   else IN_RARE if name == "traceback" or name in RARE_FIELDS else IN_SLOT)
            for name in EVENT_FIELDS}


def number_property(name: str) -> property:
    index = NUMBER_INDEX[name]
    convert = int if name in INT_FIELDS else float

    def get(self):
        value = self._numbers[index]
        return convert(value) if value == value else self._kept_apart(name)

    def set(self, value) -> None:
        self._set_number(name, value)

    return property(get, set, doc=f"celery Task's {name!r}, kept in the numbers array")


def rare_property(name: str) -> property:
    def get(self):
        return self._kept_apart(name)

    def set(self, value) -> None:
        self._set_rare(name, value)

    return property(get, set, doc=f"celery Task's {name.lstrip('_')!r}, kept in the rare dict")


def text_property(name: str) -> property:
    index = TEXT_FIELDS.index(name)
    assert len(TEXT_FIELDS) == 3, "the getter below reads three parts"

    def get(self):
        texts = self._texts  # args NUL kwargs NUL result
        if index == 0:
            value = texts[:texts.index(SEP)]
        elif index == 1:
            value = texts[texts.index(SEP) + 1:texts.rindex(SEP)]
        else:
            value = texts[texts.rindex(SEP) + 1:]
        return value if value != UNSET else self._kept_apart(name)

    def set(self, value) -> None:
        self._set_texts({name: value}, (name,))

    return property(get, set, doc=f"celery Task's {name!r}, kept in the texts string")


def route_property(name: str) -> property:
    index = ROUTE_FIELDS.index(name)

    def get(self):
        return self._route[index]

    def set(self, value) -> None:
        self._set_route({name: value})

    return property(get, set, doc=f"celery Task's {name!r}, kept in the shared route tuple")


def fits_texts(value) -> bool:
    """Whether ``value`` can sit in the joined texts string and read back as itself."""
    return type(value) is str and SEP not in value and value != UNSET
