"""Events an attacker (or a broken worker) can publish: every field of every
shape, escape sequences in every string, times that are not times.

``hostile_events`` is a fixed list (for the screen and live tests);
``events()`` is the hypothesis strategy the fuzz tests draw from.
"""

import json
import unicodedata

from hypothesis import strategies as st

#: Whole escape sequences and the characters they are made of.
ESCAPES = (
    "\x1b]0;PWNED-TITLE\x07",  # OSC 0: set the window title
    "\x1b]52;c;cm0gLXJmIH4K\x07",  # OSC 52: write the clipboard
    "\x1bP+q544e\x1b\\",  # DCS: request a terminfo capability
    "\x1b[2J\x1b[31;1m",  # CSI: clear the screen, colour
    "\x9b31m",  # C1 CSI
    "\x07",  # BEL
    "\x00",  # NUL
    "\r\x08\x7f",
    "\u202e",  # right-to-left override
    "\u200b\u2028",  # zero-width space, line separator
)
#: Text a terminal draws in other widths: wide, combining, right to left.
ODD_TEXT = ("漢字テスト", "e\u0301\u0301\u0301", "שלום עולם", "مرحبا", "🙂🙂", "\U0001F1FA\U0001F1F8")
BAD_NUMBERS = (float("nan"), float("inf"), float("-inf"), 1e308, -1e308, -1, 0, 2 ** 70, "soon", True, [1], {})
KNOWN_TYPES = ("task-sent", "task-received", "task-started", "task-succeeded", "task-failed", "task-retried",
               "task-revoked", "task-rejected", "worker-online", "worker-heartbeat", "worker-offline")
TIME_FIELDS = ("timestamp", "local_received", "clock", "utcoffset", "runtime", "sent", "received", "started",
               "succeeded", "failed")
TEXT_FIELDS = ("name", "args", "kwargs", "result", "exception", "traceback", "eta", "expires", "queue",
               "exchange", "routing_key", "sw_ident", "sw_ver", "sw_sys", "state", "client")
T0 = 1_700_000_000.0


def nested(depth: int):
    value = []
    for _ in range(depth):
        value = [value]
    return value


def hostile_events(t0: float = T0) -> list:
    """A fixed set, every kind of trouble at least once, interleaved with good events."""
    evil = "evil" + "".join(ESCAPES)
    events = [
        {"type": ["worker-heartbeat"], "hostname": "w1@hostile", "timestamp": t0},  # the remote DoS
        {"type": {"a": 1}, "uuid": [1]},
        {"type": 7},
        {"type": None},
        {"hostname": "no-type"},
        {"type": "worker-heartbeat", "hostname": ["w"], "timestamp": t0},
        {"type": "worker-heartbeat", "hostname": 12, "timestamp": t0},
        {"type": "worker-heartbeat", "hostname": evil, "timestamp": t0 - 600, "local_received": t0,
         "freq": 2.0, "sw_ident": evil, "sw_ver": "\x9b2J", "loadavg": [evil, 1e308], "active": evil,
         "processed": float("nan")},  # 10 minutes of drift: celery logs a warning naming the host
        {"type": "worker-heartbeat", "hostname": "w2@hostile", "timestamp": float("nan")},
        {"type": "worker-heartbeat", "hostname": "w2@hostile", "timestamp": t0, "clock": float("inf")},
        {"type": "worker-heartbeat", "hostname": "w2@hostile", "timestamp": t0, "utcoffset": 10 ** 300},
        {"type": "worker-heartbeat", "hostname": "w3@hostile", "timestamp": t0, "local_received": t0,
         "freq": "often", "loadavg": "high"},
        {"type": "task-received", "uuid": "hostile-1e308", "hostname": "w3@hostile", "timestamp": 1e308,
         "name": "proj.far_future", "args": "()", "kwargs": "{}"},
        {"type": "task-started", "uuid": "hostile-1e308", "hostname": "w3@hostile", "timestamp": -1,
         "local_received": t0},
        {"type": "task-received", "uuid": "hostile-str", "hostname": "w3@hostile", "timestamp": "soon"},
        {"type": "task-received", "uuid": ["hostile-list"], "hostname": "w3@hostile", "timestamp": t0},
        {"type": "task-received", "uuid": "", "hostname": "w3@hostile", "timestamp": t0},
        {"type": "task-received", "uuid": "hostile-name", "hostname": "w3@hostile", "timestamp": t0,
         "local_received": t0, "name": evil, "args": evil, "kwargs": {"k": evil}, "retries": evil,
         "eta": evil, "expires": [evil], "root_id": "hostile-1e308", "parent_id": "hostile-1e308",
         "queue": [evil], "exchange": evil, "routing_key": {"r": evil}},
        {"type": "task-failed", "uuid": "hostile-name", "hostname": "w3@hostile", "timestamp": t0 + 1,
         "local_received": t0 + 1, "exception": evil, "traceback": evil + "\n" + evil},
        {"type": "task-succeeded", "uuid": "hostile-name", "hostname": "w3@hostile", "timestamp": t0 + 2,
         "local_received": t0 + 2, "result": nested(200), "runtime": 1e308},
        {"type": "task-received", "uuid": "hostile-odd", "hostname": "w3@hostile", "timestamp": t0,
         "local_received": t0, "name": "".join(ODD_TEXT), "args": "".join(ODD_TEXT) * 20, "kwargs": "{}"},
        {"type": "task-started", "uuid": "hostile-odd", "hostname": "w3@hostile", "timestamp": t0,
         "root_id": ["x"]},
        {"type": "task-started", "uuid": "hostile-odd", "hostname": "w3@hostile", "timestamp": t0,
         "state": ["SUCCESS"]},
        {"type": "task-started", "uuid": "hostile-odd", "hostname": "w3@hostile", "timestamp": t0, "runtime": "1s"},
        {"type": "task-" + evil, "uuid": "hostile-unknown", "hostname": "w3@hostile", "timestamp": t0},
        {"type": evil * 3},
        {"type": "worker-heartbeat", "hostname": "w3@hostile", "timestamp": t0, "deep": nested(500)},
        {"type": "task-received", "uuid": "hostile-big", "hostname": "w3@hostile", "timestamp": t0,
         "local_received": t0, "name": "proj.big", "args": "(" + "x" * 1_000_000 + ")", "kwargs": "{}"},
    ]
    return events


def recording_text(events) -> str:
    """A recording (JSON lines) of ``events``; NaN and infinity as Python's json writes them."""
    return "".join(json.dumps(event) + "\n" for event in events)


def visible_controls(text: str) -> list:
    """Characters in ``text`` a terminal would act on, or that hide or move text."""
    return [c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")]


# -- hypothesis ---------------------------------------------------------------------------------

_escape_text = st.lists(st.sampled_from(ESCAPES + ODD_TEXT + ("a", "proj.add", " ")), max_size=6).map("".join)
hostile_text = st.one_of(_escape_text, st.text(max_size=40), st.sampled_from(ODD_TEXT))
scalars = st.one_of(hostile_text, st.sampled_from(BAD_NUMBERS), st.floats(allow_nan=True, allow_infinity=True),
                    st.integers(min_value=-2 ** 80, max_value=2 ** 80), st.booleans(), st.none())
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(hostile_text, inner, max_size=3)),
                      max_leaves=8)
#: Times mostly near T0 (so tasks run and workers are online), and sometimes anything.
times = st.one_of(st.floats(min_value=T0 - 100, max_value=T0 + 100), values)
uuids = st.one_of(st.sampled_from(["u1", "u2", "u3", "u1\x1b]0;x\x07"]), values)
hostnames = st.one_of(st.sampled_from(["w1@h", "w2@h", "evil\x1b]0;T\x07@h", "漢字@h"]), values)


@st.composite
def events(draw):
    """One event: a known type most of the time, every field possibly of any shape, some missing."""
    event = {}
    if draw(st.integers(0, 9)):
        event["type"] = draw(st.one_of(st.sampled_from(KNOWN_TYPES), st.sampled_from(KNOWN_TYPES), values))
    for name, strategy in (("uuid", uuids), ("hostname", hostnames), ("timestamp", times),
                           ("local_received", times)):
        if draw(st.integers(0, 5)):
            event[name] = draw(strategy)
    for name in draw(st.lists(st.sampled_from(TIME_FIELDS + TEXT_FIELDS + ("root_id", "parent_id", "retries",
                                                                           "freq", "active", "processed",
                                                                           "loadavg")), max_size=5)):
        event[name] = draw(times if name in TIME_FIELDS else st.one_of(hostile_text, values))
    if not draw(st.integers(0, 9)):
        event[draw(hostile_text)] = draw(values)
    return event
