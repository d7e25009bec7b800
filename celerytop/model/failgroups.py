"""Failure groups: every failure seen, grouped by task name, exception type and normalised message.

``invoice 42 not found`` and ``invoice 97 not found`` are one group, and so
are ``KeyError('abc')`` and ``KeyError('xyz')``: :func:`normalise` puts a
placeholder for numbers (``<n>``), uuids (``<uuid>``), hex (``<hex>``),
timestamps (``<time>``) and quoted values (``<str>``); a quoted path keeps its
shape (only the numbers and ids in it are replaced), so it stays readable.

:class:`FailureGroups` is fed by the model's ingest (``ClusterModel``, under
its lock) once per task-failed event and never by eviction, so the groups
count every failure seen, not only those still in memory.  Memory is bounded:
at most :data:`MAX_GROUPS` groups (then one ``(other)`` group counts the
rest), a few workers' names each, one example traceback each, capped.
Pure: no urwid, no celery.
"""

from __future__ import annotations

import hashlib
import re

from celerytop.model.failhistory import minute_ring

MAX_GROUPS = 1000
#: The workers' names kept per group (a count of how many more were seen follows them).
MAX_WORKERS = 8
#: Characters of an example traceback kept (its end: the error is there); longer ones are cut.
TRACEBACK_MAX = 6000
#: Characters of an exception's text read; of a normalised message kept.
EXCEPTION_MAX = 1000
MESSAGE_MAX = 300
#: Task ids remembered as counted, so a task-failed event that comes twice counts once.
RECENT_MAX = 8192
OTHER = "(other)"

_QUOTED = r"""(?<!\w)(?:'(?:[^'\\\n]|\\.){0,400}'|"(?:[^"\\\n]|\\.){0,400}")(?!\w)"""
_UUID = r"\b[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\b"
_TIME = r"\b\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?"
_HEX = r"\b0[xX][0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b"
_NUMBER = r"(?<![A-Za-z])\d+(?:\.\d+)?"
_TOKENS = re.compile(f"(?P<q>{_QUOTED})|(?P<u>{_UUID})|(?P<t>{_TIME})|(?P<h>{_HEX})|(?P<n>{_NUMBER})")
_IDS = re.compile(f"(?P<u>{_UUID})|(?P<t>{_TIME})|(?P<h>{_HEX})|(?P<n>{_NUMBER})")
_PLACEHOLDERS = {"u": "<uuid>", "t": "<time>", "h": "<hex>", "n": "<n>"}
#: ``Type(args)``: how celery's task-failed event carries the exception (its repr).
_REPR = re.compile(r"([A-Za-z_][\w.]*)\((.*)\)\s*", re.S)
_ONE_STRING = re.compile(r"'(?:[^'\\]|\\.)*'" '|' r'"(?:[^"\\]|\\.)*"', re.S)


def _placeholder(match) -> str:
    kind = match.lastgroup
    if kind != "q":
        return _PLACEHOLDERS[kind]
    quoted = match.group()
    inner = quoted[1:-1]
    if ("/" in inner or "\\" in inner) and " " not in inner:  # a path: keep it readable
        return quoted[0] + _IDS.sub(_placeholder, inner) + quoted[-1]
    return "<str>"


def normalise(message: str) -> str:
    """``message`` with numbers, uuids, hex, timestamps and quoted values replaced by placeholders."""
    return _TOKENS.sub(_placeholder, message)


def split_exception(exception) -> tuple:
    """(type, message) of a task-failed event's exception text, the message as ``str(exc)`` would give it.

    ``ValueError('invoice 42 not found')`` -> ('ValueError', 'invoice 42 not found');
    ``KeyError('abc')`` -> ('KeyError', "'abc'") (str() of a KeyError is its key's repr);
    text not in that shape -> ('', the text), or ``Type: message`` split at the colon.
    """
    text = exception if type(exception) is str else ("" if exception is None else str(exception))
    text = text[:EXCEPTION_MAX]
    match = _REPR.fullmatch(text)
    if match is not None:
        kind, args = match.groups()
        if kind != "KeyError" and _ONE_STRING.fullmatch(args):
            args = args[1:-1]
        return kind, args
    kind, colon, rest = text.partition(": ")
    if colon and re.fullmatch(r"[A-Za-z_][\w.]*", kind):
        return kind, rest
    return "", text


def group_key(name, exception) -> tuple:
    """(task name, exception type, normalised message): what makes two failures one group."""
    return (name if type(name) is str else "",) + _exception_key(exception)


def _exception_key(exception) -> tuple:
    """(exception type, normalised message): the part of a group's key that depends on the exception."""
    kind, message = split_exception(exception)
    return kind, normalise(message)[:MESSAGE_MAX]


def group_id(key: tuple) -> str:
    """A short id for a group, the same in every session (the tasks filter's ``failgroup:`` term)."""
    return hashlib.blake2b("\0".join(key).encode("utf-8", "surrogatepass"), digest_size=5).hexdigest()


def task_group_id(name, exception) -> str:
    """The id of the group a failed task with this name and exception belongs in."""
    return group_id(group_key(name, exception))


class FailureGroup:
    """One group: how many failures, when, on which workers, and the latest one's traceback."""

    __slots__ = ("id", "name", "exception", "message", "count", "first_seen", "last_seen", "workers",
                 "more_workers", "example_task_id", "example_exception", "example_traceback", "minutes")

    def __init__(self, key: tuple, group_id_: str):
        self.id = group_id_
        self.name, self.exception, self.message = key
        self.count = 0
        self.first_seen = self.last_seen = None
        self.workers: list = []  # at most MAX_WORKERS names, first seen first
        self.more_workers = False  # whether other workers failed it too (their names not kept)
        self.example_task_id = ""
        self.example_exception = ""
        self.example_traceback = ""
        self.minutes = minute_ring()  # its failures per minute over the hour (failhistory.py)

    def add(self, uuid: str, hostname, timestamp, exception, traceback) -> None:
        self.count += 1
        if self.first_seen is None or timestamp < self.first_seen:
            self.first_seen = timestamp
        if self.last_seen is None or timestamp >= self.last_seen:
            self.last_seen = timestamp
            self.example_task_id = uuid
            self.example_exception = exception if type(exception) is str else repr(exception)
            self.example_traceback = _capped(traceback)
        if hostname not in self.workers:
            if len(self.workers) < MAX_WORKERS:
                self.workers.append(hostname)
            else:
                self.more_workers = True

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "exception": self.exception, "message": self.message,
                "count": self.count, "first_seen": self.first_seen, "last_seen": self.last_seen,
                "workers": list(self.workers), "more_workers": self.more_workers,
                "example_task_id": self.example_task_id}


def _capped(traceback) -> str:
    if type(traceback) is not str:
        return "" if traceback is None else repr(traceback)[-TRACEBACK_MAX:]
    if len(traceback) <= TRACEBACK_MAX:
        return traceback
    cut = len(traceback) - TRACEBACK_MAX
    return f"… ({cut} characters cut)\n" + traceback[cut:]


class FailureGroups:
    """Every failure seen, grouped; the model calls :meth:`add` under its lock."""

    def __init__(self, max_groups: int = MAX_GROUPS):
        self.max_groups = max(1, int(max_groups))
        self.groups: dict = {}  # group_key -> FailureGroup, at most max_groups of them
        self.other = None  # the (other) group, once a failure found no room
        self.total = 0
        self._recent: dict = {}  # uuid -> None: the failures counted lately, oldest first
        self._keys: dict = {}  # exception text -> (type, normalised message): normalising once per distinct text

    def add(self, uuid: str, name, hostname, timestamp, exception, traceback):
        """Count one task-failed event (a second one for the same task is not counted); the group, else None."""
        recent = self._recent
        if uuid in recent:
            return None
        if len(recent) >= RECENT_MAX:
            del recent[next(iter(recent))]
        recent[uuid] = None
        text = exception if type(exception) is str else repr(exception)
        parts = self._keys.get(text)
        if parts is None:  # the same exception text fails many tasks, of many types: normalised once
            parts = _exception_key(exception)
            if len(self._keys) >= 4 * self.max_groups:
                self._keys.clear()
            self._keys[text] = parts
        key = (name if type(name) is str else "",) + parts
        group = self.groups.get(key)
        if group is None:
            if len(self.groups) < self.max_groups:
                group = self.groups[key] = FailureGroup(key, group_id(key))
            else:
                if self.other is None:
                    self.other = FailureGroup((OTHER, "", f"more than {self.max_groups} groups: the rest "
                                                             "are counted here"), "other")
                group = self.other
        group.minutes.add(timestamp)  # (a time that is not a number is not counted there)
        if not isinstance(timestamp, (int, float)) or timestamp != timestamp:
            timestamp = 0.0
        group.add(uuid, hostname, timestamp, exception, traceback)
        self.total += 1
        return group

    def rows(self) -> list:
        """Every group as a dict (as_dict, plus the example's exception and traceback), (other) last."""
        groups = list(self.groups.values()) + ([self.other] if self.other is not None else [])
        return [dict(g.as_dict(), example_exception=g.example_exception, example_traceback=g.example_traceback)
                for g in groups]
