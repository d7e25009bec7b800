"""The task filter language of the ``/`` prompt.

    billing                 free text: uuid, name, worker, args, kwargs, result
                            or exception contains it (case-insensitive)
    state:FAILURE           a field matches a glob (* and ?), case-insensitive
    name:billing.*  worker:alpha*
    failgroup:3f2a91bc07    a failed task in that failure group (the failures view's Enter)
    is:lost  is:stuck       a lost or stuck task (model/stuckness.py; the :stuck view's Enter)
    queue:billing*          a task routed to that queue (its task-sent event's queue, else its
                            routing key when no queue is known; the queues view's Enter)
    !term  -term            excludes what term matches
    a b c                   every term must hold (AND)
    "two words"             quotes keep spaces in one term

Pure: no urwid, no celery; the model applies a compiled filter to its tasks.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from dataclasses import dataclass
from typing import Callable

#: Fields a term may name, and the task attribute each reads.
FIELDS = {
    "uuid": "uuid",
    "id": "uuid",
    "name": "name",
    "state": "state",
    "worker": "worker",
    "args": "args",
    "kwargs": "kwargs",
    "result": "result",
    "exception": "exception",
    "failgroup": "failgroup",
    "is": "flag",  # "lost", "stuck" or "": read at query time (model/stuckness.py)
    "queue": "route_queue",  # the queue the task was sent to, else its routing key (model/sorting.py)
}
FREE_TEXT_FIELDS = ("uuid", "name", "worker", "args", "kwargs", "result", "exception")


class FilterError(ValueError):
    """A filter that does not parse; the message says how to write it."""


@dataclass(frozen=True)
class Term:
    field: str | None  # None: free text
    pattern: str
    negated: bool

    def test(self, read) -> Callable[[object], bool]:
        """This term, negation aside, as a function of one task.

        ``read(attribute)`` gives a function task -> text for an attribute
        named in FIELDS' values, and ``read(None)`` one giving every field
        of FREE_TEXT_FIELDS joined by NULs.  Built once per filtering, so
        the work per task is a few calls into C.
        """
        if self.field is not None:
            return _then(read(FIELDS[self.field]), _glob_test(self.pattern))
        needle = self.pattern.lower()
        if "\0" in needle:  # could span two fields of the joined text: look one field at a time
            readers = [read(FIELDS[f]) for f in FREE_TEXT_FIELDS]
            return lambda task: any(needle in r(task).lower() for r in readers)
        joined = read(None)
        return lambda task: needle in joined(task).lower()


def _then(read, test):
    return lambda task: test(read(task))


def _glob_test(pattern: str) -> Callable[[str], bool]:
    """text -> whether all of it matches the glob, ignoring case (both sides lowercased).

    The shapes people type (``FAILURE``, ``proj.*``, ``*.charge``, ``*card*``)
    are string operations.  Anything else is fnmatch's regular expression,
    searched for when the glob starts with ``*`` (a leading ``.*`` would
    backtrack across every long args repr), and run on lowercased text
    because re.IGNORECASE cannot use its fast scan for a literal.
    """
    pattern = pattern.lower()
    core = pattern.strip("*")
    if core and not any(c in core for c in "*?["):
        leading, trailing = pattern.startswith("*"), pattern.endswith("*")
        if leading and trailing:
            return lambda text: core in text.lower()
        if leading:
            return lambda text: text.lower().endswith(core)
        if trailing:
            return lambda text: text.lower().startswith(core)
        return lambda text: text.lower() == core
    unanchored = pattern.lstrip("*")
    if unanchored != pattern:  # "*x?y": some end of the text matches "x?y"
        search = _glob_regex(unanchored).search
        return lambda text: search(text.lower()) is not None
    match = _glob_regex(pattern).match
    return lambda text: match(text.lower()) is not None


def _glob_regex(pattern: str):
    regex = _GLOB_CACHE.get(pattern)
    if regex is None:
        regex = _GLOB_CACHE[pattern] = re.compile(fnmatch.translate(pattern), re.S)
    return regex


_GLOB_CACHE: dict = {}


def _read_mapping(field: str | None):
    if field is None:
        return lambda values: "\0".join(values[f] for f in FREE_TEXT_FIELDS)
    return lambda values: values[field]


def _narrow(terms, tasks, read) -> list:
    for term in terms:
        test = term.test(read)
        tasks = [t for t in tasks if not test(t)] if term.negated else [t for t in tasks if test(t)]
    return tasks


@dataclass(frozen=True)
class TaskFilter:
    text: str
    terms: tuple

    def narrow(self, tasks, read) -> list:
        """The tasks every term holds for, in their order; ``read`` as in :meth:`Term.test`."""
        return _narrow(self.terms, list(tasks), read)

    def matches(self, values: dict) -> bool:
        """Whether one task, given as {field: text}, passes."""
        return bool(_narrow(self.terms, [values], _read_mapping))

    def __bool__(self) -> bool:
        return bool(self.terms)


def _terms(text: str, example: str):
    """(negated, word) for each word of ``text`` (quotes keep spaces; a leading ``!`` or ``-`` negates)."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise FilterError(f"{exc} (close the quote)") from None
    for word in words:
        negated = word[:1] in ("!", "-")
        if negated:
            word = word[1:]
        if not word:
            raise FilterError(f"'!' and '-' need a term after them, e.g. {example}")
        yield negated, word


def parse(text: str) -> TaskFilter:
    """Compile ``text``; raise FilterError with a one-line explanation."""
    terms = []
    for negated, word in _terms(text, "!state:SUCCESS"):
        field, sep, pattern = word.partition(":")
        if sep and field.lower() in FIELDS:
            if not pattern:
                raise FilterError(f"'{field}:' needs a value, e.g. {field}:something*")
            terms.append(Term(field.lower(), pattern, negated))
        elif sep and field.isidentifier():
            known = ", ".join(sorted(set(FIELDS) - {"id"}))
            raise FilterError(f"unknown field {field!r}: use {known}")
        else:
            terms.append(Term(None, word, negated))
    return TaskFilter(text.strip(), tuple(terms))


EMPTY = TaskFilter("", ())


@dataclass(frozen=True)
class HostFilter:
    """The workers pane's filter: hostname globs, all must hold, ``!``/``-`` excludes.

    A term without ``*``, ``?`` or ``[`` matches anywhere in the hostname
    (``beta`` finds ``beta@vm``), as free text does in the task filter.
    """

    text: str
    terms: tuple  # (glob test, negated)

    def narrow(self, rows, hostname=lambda row: row.hostname) -> list:
        return [row for row in rows
                if all(test(hostname(row)) != negated for test, negated in self.terms)]

    def __bool__(self) -> bool:
        return bool(self.terms)


def parse_hosts(text: str) -> HostFilter:
    """Compile a workers-pane filter; raise FilterError with a one-line explanation."""
    terms = []
    for negated, pattern in _terms(text, "!beta*"):
        if not any(c in pattern for c in "*?["):
            pattern = f"*{pattern}*"
        terms.append((_glob_test(pattern), negated))
    return HostFilter(text.strip(), tuple(terms))


NO_HOSTS_FILTER = HostFilter("", ())
