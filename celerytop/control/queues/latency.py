"""How long a queue's oldest waiting message has waited: its kombu envelope decoded, and the time it waits since.

Pure: no broker, no model.  The broker side (probe.py, peek.py) hands over
the raw oldest message of each queue (or sub-queue); the model hands over a
lookup from task id to its task-sent timestamp.  What comes out is a
:class:`Oldest`: since when the oldest message waits, and what says so, or
``None`` when nothing says so ("unknown": never a guess).

Where a time can come from, in order:

1. ``sent``: the model's task-sent event for the message's task id (exists
   when the producer has ``task_send_sent_event`` on);
2. ``eta``: the message's own ETA (protocol 2 header, or protocol 1 body),
   the time it became due; a future ETA means the message is not due yet;
3. ``timestamp``: an AMQP ``timestamp`` property, if a producer set one
   (celery does not).

Nothing else in a celery message says when it was sent.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timezone
from typing import Callable, NamedTuple

#: What a queue's oldest column says when the age cannot be known.
UNKNOWN = "unknown"


class Envelope(NamedTuple):
    """What a waiting message says about itself: its task id and the times it carries (epoch seconds)."""

    task_id: str | None
    eta: float | None = None
    timestamp: float | None = None


class Oldest(NamedTuple):
    """Since when (epoch seconds) a queue's oldest waiting message waits, and what says so."""

    since: float
    source: str  # "sent", "eta", "timestamp", or "events" (not peeked: the oldest task-sent seen for the queue)
    task_id: str | None = None

    def age(self, now: float) -> float:
        return now - self.since


def parse_time(value) -> float | None:
    """An ETA as celery writes it (ISO 8601, naive meaning UTC) or epoch seconds; None if it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def _body(message: dict):
    """The body, decoded from base64 when the envelope says so, parsed when it is JSON; None otherwise."""
    body = message.get("body")
    properties = message.get("properties") if isinstance(message.get("properties"), dict) else {}
    if properties.get("body_encoding") == "base64" and isinstance(body, str):
        try:
            body = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return None
    if "json" not in str(message.get("content-type") or ""):
        return None  # pickle, yaml, msgpack: not read (never unpickle what a broker holds)
    try:
        return json.loads(body)
    except (TypeError, ValueError):
        return None


def decode_envelope(raw) -> Envelope | None:
    """A kombu message as a virtual transport stores it (JSON), or None when it is not one."""
    if isinstance(raw, (bytes, bytearray)):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
    try:
        message = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    headers = message.get("headers") if isinstance(message.get("headers"), dict) else {}
    properties = message.get("properties") if isinstance(message.get("properties"), dict) else {}
    task_id, eta = headers.get("id"), headers.get("eta")
    if task_id is None:  # protocol 1: the id and the ETA are in the body
        body = _body(message)
        if isinstance(body, dict):
            task_id, eta = body.get("id"), body.get("eta")
    if task_id is None:
        task_id = properties.get("correlation_id")
    return Envelope(task_id if isinstance(task_id, str) and task_id else None, parse_time(eta),
                    parse_time(properties.get("timestamp")))


def oldest_of(envelopes, sent_of: Callable[[str], float | None]) -> Oldest | None:
    """The earliest known waiting time among a queue's oldest messages (one per priority sub-queue).

    ``sent_of(task_id)`` is the model's task-sent time or None.  A message
    whose time is unknown makes the whole answer unknown only if it is the
    only one: the others' times are still facts about messages that wait.
    """
    found = [oldest for oldest in (_since(envelope, sent_of) for envelope in envelopes if envelope is not None)
             if oldest is not None]
    return min(found, key=lambda oldest: oldest.since) if found else None


def _since(envelope: Envelope, sent_of) -> Oldest | None:
    if envelope.task_id is not None:
        sent = sent_of(envelope.task_id)
        if sent is not None:
            return Oldest(sent, "sent", envelope.task_id)
    if envelope.eta is not None:
        return Oldest(envelope.eta, "eta", envelope.task_id)
    if envelope.timestamp is not None:
        return Oldest(envelope.timestamp, "timestamp", envelope.task_id)
    return None


def describe(oldest: Oldest | None, messages: int | None, now: float, format_duration) -> str:
    """The view's and the text's words: "" (nothing waits), "unknown", "3m12s", "3m12s eta", "eta in 40s".

    An age from the peeked message's task-sent event stands alone; any other
    source is named after it ("eta": since it became due; "events": the
    oldest task the events say was sent there and not yet received).
    """
    if not messages:
        return ""
    if oldest is None:
        return UNKNOWN
    age = oldest.age(now)
    if age < 0:
        return f"{oldest.source} in {format_duration(-age)}"  # an ETA not yet due, or a clock ahead of ours
    return format_duration(age) if oldest.source == "sent" else f"{format_duration(age)} {oldest.source}"


def sort_key(oldest: Oldest | None, messages: int | None, now: float) -> tuple:
    """Oldest first when sorted descending: unknown ages after known ones, empty queues last."""
    if not messages:
        return (0, 0.0)
    if oldest is None:
        return (1, 0.0)
    return (2, oldest.age(now))


def oldest_ages(depths, model, waiting: dict | None = None) -> dict:
    """``{queue: Oldest or None}`` for one sampling round's depths (probe.QueueDepth).

    ``model`` answers ``sent_times(ids)`` and ``oldest_waiting_sent()``
    (model/queuewait.py).  A queue whose messages were peeked (``heads``)
    is aged from them; one that could not be peeked (AMQP) from the oldest
    task the events say was sent to it and not yet received (source
    ``"events"``); an empty or unmeasured queue has none.  ``waiting``:
    ``model.oldest_waiting_sent()`` when the caller already has it.
    """
    ids = {envelope.task_id for depth in depths for envelope in (depth.heads or ())
           if envelope is not None and envelope.task_id}
    sent = model.sent_times(ids) if ids else {}
    ages: dict = {}
    for depth in depths:
        if not depth.messages:
            ages[depth.name] = None
        elif depth.heads is not None:
            ages[depth.name] = oldest_of(depth.heads, sent.get)
        else:
            if waiting is None:
                waiting = model.oldest_waiting_sent()
            found = waiting.get(depth.name)
            ages[depth.name] = Oldest(found[0], "events", found[1]) if found else None
    return ages
