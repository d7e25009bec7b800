"""Task ids as people type them: the 8 characters the screen shows, or any
unique prefix of at least :data:`MIN_PREFIX` characters, resolved against
the tasks in memory to the full id that is sent.

Pure: the tasks in memory come in as ``lookup(prefix, limit) -> (count,
first ids sorted)``, which :meth:`celerytop.model.cluster.ClusterModel.task_ids_starting` is.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

#: The shortest prefix taken: shorter ones match too many tasks to be meant.
MIN_PREFIX = 4

#: How many candidates an ambiguous prefix lists.
SHOWN = 4

#: celery's own ids (uuid4, as ``str(uuid.uuid4())``), with or without dashes.
_FULL_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")

#: What a piece of a uuid looks like: anything else that matches no task is
#: taken for a custom id (celery accepts any string as a task id).
_UUID_PIECE = re.compile(r"^[0-9a-fA-F-]+$")


class TaskIdError(ValueError):
    """Why a typed id cannot be used, in one line."""


@dataclass(frozen=True)
class Resolved:
    typed: str
    full: str
    in_memory: bool

    @property
    def note(self) -> str:
        """What the status line says about it: '' when the id was typed in full and is known."""
        if self.typed != self.full:
            return f"{self.typed} → {self.full}"
        if not self.in_memory:
            return f"{self.typed}: not in memory, used as typed"
        return ""


def resolve(typed: str, lookup) -> Resolved:
    """The task ``typed`` names, or TaskIdError saying why none (nothing is to be sent then)."""
    if not typed:
        raise TaskIdError("an empty task id")
    count, first = lookup(typed, SHOWN)
    if not count and _UUID_PIECE.match(typed) and typed != typed.lower():
        # celery writes uuids in lower case; 'EC9A0C6E' copied from elsewhere means the same task
        lowered = resolve(typed.lower(), lookup)
        return Resolved(typed, lowered.full, lowered.in_memory)
    if typed in first:  # an id typed in full wins over longer ids it is a prefix of
        return Resolved(typed, typed, True)
    if _FULL_UUID.match(typed):  # workers may know a task this monitor never saw
        return Resolved(typed, typed, count > 0)
    if len(typed) < MIN_PREFIX:
        raise TaskIdError(f"task id {typed!r} is too short: type at least {MIN_PREFIX} characters "
                          f"of it (the screen shows 8)")
    if count == 1:
        return Resolved(typed, first[0], True)
    if count > 1:
        shown = ", ".join(_distinct(first))
        more = f" and {count - len(first)} more" if count > len(first) else ""
        raise TaskIdError(f"task id {typed!r} matches {count} tasks: {shown}{more}; type more of it")
    if not _UUID_PIECE.match(typed):  # a custom id this monitor never saw: workers may know it
        return Resolved(typed, typed, False)
    raise TaskIdError(f"no task in memory has an id starting {typed!r} (evicted, or never seen); "
                      "a full task id (a uuid) is used as typed")


def resolve_all(typed_ids, lookup) -> list:
    """[Resolved] for each of ``typed_ids``; TaskIdError on the first that cannot be used."""
    return [resolve(typed, lookup) for typed in typed_ids]


def notes(resolved) -> str:
    """'ec9a0c6e → ec9a0c6e-…; …' for the ids that were not used as typed."""
    return "; ".join(r.note for r in resolved if r.note)


def _distinct(ids: list) -> list:
    """The ids (sorted) cut to the length that tells them apart, at least 8 characters."""
    width = max([8] + [len(os.path.commonprefix(pair)) + 1 for pair in zip(ids, ids[1:])])
    return [uuid if len(uuid) <= width else uuid[:width] + "…" for uuid in ids]
