"""Tab completion at the ``:`` prompt: every full line the typed one can become, word by word.

It reads the prompt's language from :mod:`celerytop.control.cmdline` (verbs,
inspect methods, control commands, options) and the names a
:class:`Vocabulary` offers (workers, queues, task types, task ids in memory).
"""

from __future__ import annotations

from dataclasses import dataclass

from celerytop.control.cmdline import CONTROL, INSPECT, OPTION_NAMES, OPTIONS, VERBS, flags_for


@dataclass(frozen=True)
class Vocabulary:
    """The names completion offers besides the commands themselves."""

    workers: tuple = ()
    queues: tuple = ()
    tasks: tuple = ()
    #: task ids in memory: ``task_ids(prefix, limit) -> (count, first ids sorted)``
    task_ids: object = None


class Candidates(list):
    """Completions (full lines), with a line for the person when they alone do not say enough."""

    def __init__(self, lines=(), hint: str = ""):
        super().__init__(lines)
        self.hint = hint


#: Control commands whose first argument names a task type, or a queue.
_TASK_FIRST = {"rate_limit", "time_limit"}
_QUEUE_FIRST = {"add_consumer", "cancel_consumer"}

#: How many task ids Tab cycles through; a prefix matching more asks for more of it.
TASK_ID_CANDIDATES = 10


def complete(line: str, vocabulary: Vocabulary) -> list:
    """Every full line Tab can turn ``line`` into, completing its last word."""
    words = line.split()
    if line and not line[-1].isspace() and words:
        current = words.pop()
    else:
        current = ""
    head = line[: len(line) - len(current)]
    if current and vocabulary.task_ids is not None and _expects_task_id(words):
        return _task_id_candidates(head, current, vocabulary.task_ids)
    candidates = _candidates(words, vocabulary)
    if current and "," in current and _list_option(words):
        done, _comma, current = current.rpartition(",")
        head += done + ","
        already = set(done.split(","))
        candidates = [c for c in candidates if c not in already]
        return [head + c for c in candidates if c.startswith(current)]
    return [head + c + " " for c in candidates if c.startswith(current)]


def _list_option(words: list) -> bool:
    return bool(words) and OPTION_NAMES.get(words[-1]) in ("destination", "queues", "exclude")


def _candidates(words: list, vocabulary: Vocabulary) -> list:
    if not words:
        return list(VERBS)
    option = OPTION_NAMES.get(words[-1]) if words[-1].startswith("-") else None
    if option == "destination":
        return list(vocabulary.workers)
    if option in ("queues", "exclude"):
        return list(vocabulary.queues)
    if option == "timeout":
        return []
    verb = words[0]
    positional = _positional(words)
    if verb == "inspect" and not positional:
        return list(INSPECT)
    if verb == "control":
        if not positional:
            return list(CONTROL)
        if len(positional) == 1 and positional[0] in _TASK_FIRST:
            return list(vocabulary.tasks)
        if len(positional) == 1 and positional[0] in _QUEUE_FIRST:
            return list(vocabulary.queues)
    if verb in OPTIONS and not (verb in ("result", "migrate") and not positional):
        return [flag for flag in flags_for(OPTIONS[verb]) if flag.startswith("--")]
    return []


def _positional(words: list) -> list:
    """The words after the verb that are neither options nor their values."""
    return [w for i, w in enumerate(words[1:], 1)
            if not w.startswith("-") and OPTION_NAMES.get(words[i - 1]) is None]


def _expects_task_id(words: list) -> bool:
    """Whether the word after ``words`` is a task id: result, inspect query_task, control revoke/terminate."""
    if not words or OPTION_NAMES.get(words[-1]) is not None:
        return False
    verb, positional = words[0], _positional(words)
    if verb == "result":
        return not positional
    if verb == "inspect":
        return positional[:1] == ["query_task"]
    if verb == "control":
        return positional[:1] == ["revoke"] or (positional[:1] == ["terminate"] and len(positional) >= 2)
    return False


def _task_id_candidates(head: str, prefix: str, task_ids) -> Candidates:
    count, first = task_ids(prefix, TASK_ID_CANDIDATES)
    lines = [head + uuid + " " for uuid in first]
    if count == 0:
        return Candidates(hint=f"no task in memory has an id starting {prefix!r}")
    if count > len(first):
        return Candidates(lines, f"{count} task ids start with {prefix!r}: Tab cycles through the first "
                                 f"{len(first)}; type more to narrow")
    if count > 1:
        return Candidates(lines, f"{count} task ids start with {prefix!r}: Tab cycles through them")
    return Candidates(lines)
