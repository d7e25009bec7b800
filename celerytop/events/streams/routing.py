"""Routing keys: what ``--only-events`` asks for, and which event types they let through.

The keys are the event exchange's (``#`` is everything; ``worker.#`` and
``task.failed`` keep only worker events and failures).  RabbitMQ and Redis
narrow by them on the broker; other transports narrow with :func:`matcher`.
"""

from __future__ import annotations

import re

ALL_EVENTS = ("#",)

#: Short names --only-events accepts for routing keys.
KEY_ALIASES = {"workers": "worker.#", "failures": "task.failed"}
_ROUTING_KEY = re.compile(r"^(?:[A-Za-z0-9_-]+|\*|#)(?:\.(?:[A-Za-z0-9_-]+|\*|#))*$")


def parse_routing_keys(text: str) -> tuple:
    """'workers,failures' -> ('worker.#', 'task.failed'); ValueError, in words, for anything else."""
    keys = []
    for word in (w.strip() for w in text.split(",")):
        key = KEY_ALIASES.get(word, word)
        if not _ROUTING_KEY.match(key):
            raise ValueError(f"{word!r} is not a routing key (e.g. worker.#, task.failed, task.*) "
                             f"nor one of {', '.join(KEY_ALIASES)}")
        if key not in keys:
            keys.append(key)
    return tuple(keys)


def matcher(routing_keys):
    """A test of an event type against AMQP-style routing keys; None when all pass."""
    if "#" in routing_keys:
        return None
    patterns = []
    for key in routing_keys:
        words = [r"[^.]+" if w == "*" else r".*" if w == "#" else re.escape(w) for w in key.split(".")]
        patterns.append(r"\.".join(words).replace(r"\..*", r"(\..*)?"))
    regex = re.compile(r"^(?:%s)$" % "|".join(patterns))
    return lambda event_type: isinstance(event_type, str) and regex.match(event_type.replace("-", ".")) is not None
