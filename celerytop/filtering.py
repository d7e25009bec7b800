"""The task filter language of the ``/`` prompt.

    billing                 free text: uuid, name, worker, args, kwargs, result
                            or exception contains it (case-insensitive)
    state:FAILURE           a field matches a glob (* and ?), case-insensitive
    name:billing.*  worker:alpha*
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
}
FREE_TEXT_FIELDS = ("uuid", "name", "worker", "args", "kwargs", "result", "exception")


class FilterError(ValueError):
    """A filter that does not parse; the message says how to write it."""


@dataclass(frozen=True)
class Term:
    field: str | None  # None: free text
    pattern: str
    negated: bool

    def matches(self, values: dict) -> bool:
        if self.field is None:
            needle = self.pattern.lower()
            hit = any(needle in values[f].lower() for f in FREE_TEXT_FIELDS)
        else:
            hit = self._regex.match(values[FIELDS[self.field]]) is not None
        return hit != self.negated

    @property
    def _regex(self):
        regex = _GLOB_CACHE.get(self.pattern)
        if regex is None:
            regex = _GLOB_CACHE[self.pattern] = re.compile(fnmatch.translate(self.pattern), re.IGNORECASE | re.S)
        return regex


_GLOB_CACHE: dict = {}


@dataclass(frozen=True)
class TaskFilter:
    text: str
    terms: tuple

    def matches(self, values: dict) -> bool:
        return all(term.matches(values) for term in self.terms)

    def __bool__(self) -> bool:
        return bool(self.terms)


def parse(text: str) -> TaskFilter:
    """Compile ``text``; raise FilterError with a one-line explanation."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise FilterError(f"{exc} (close the quote)") from None
    terms = []
    for word in words:
        negated = word[:1] in ("!", "-")
        if negated:
            word = word[1:]
        if not word:
            raise FilterError("'!' and '-' need a term after them, e.g. !state:SUCCESS")
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
