"""What every event stream shares: celery's Receiver, decoding a message into events, stopping."""

from __future__ import annotations

import logging
import time

from celerytop.events.eventcheck import problem
from celerytop.events.fastjson import loads_json
from celerytop.events.streams.routing import ALL_EVENTS

log = logging.getLogger(__name__)

#: How often the streams ask the broker how far behind they are.
BACKLOG_INTERVAL = 1.0
#: Seconds a stream waits, once it has read everything, before reading
#: again.  At a live rate a stream that wakes for every event pays a
#: thread wake-up and system calls per event (about half its CPU at 3,000
#: events/s); 20 ms lets events gather in the socket and be read a hundred
#: at a time, without delay a person could see on a screen redrawn every second.
COALESCE = 0.02


class Stream:
    """Shared parts: celery's Receiver (for its queue and clock), decoding, stopping."""

    #: Whether the Receiver's queue is bound with our routing keys (else with
    #: '#', everything, and the stream narrows some other way).
    binds_routing_keys = False

    def __init__(self, app, connection, node_id, on_event, health, routing_keys):
        self.app = app
        self.connection = connection
        self.on_event = on_event
        self.health = health
        self.routing_keys = tuple(routing_keys) or ALL_EVENTS
        self.should_stop = False
        self.receiver = app.events.Receiver(
            connection, handlers={"*": self._deliver}, node_id=node_id,
            routing_key=self.routing_keys[0] if self.binds_routing_keys else "#")
        self._from_message = self.receiver.event_from_message
        self._accept = {_content_type(s) for s in self.receiver.accept}
        self._next_check = 0.0
        # Set by a stream whose broker cannot leave out what was not asked for.
        self._wanted = None

    def stop(self) -> None:
        self.should_stop = True

    def _deliver(self, event) -> None:
        if self._wanted is not None and not self._wanted(event.get("type")):
            return
        self.health.saw(event)
        self.on_event(event)

    def deliver_message(self, raw, content_type, content_encoding) -> None:
        """One message's body, decoded and handed on; a message that does not decode is counted."""
        try:
            body = self.decode(raw, content_type, content_encoding)
        except Exception as exc:  # noqa: BLE001
            self.undecodable(exc)
            return
        self.deliver_body(body)

    def deliver_body(self, body) -> None:
        """One decoded message body: an event, or a list of them.

        A malformed event skips celery's Receiver (whose Lamport clock an
        infinite ``clock`` would poison for good) and goes on as sent, for
        the model to count and a recording or dump to keep.
        """
        for item in body if isinstance(body, list) else (body,):
            if problem(item) is not None:
                self.on_event(item if isinstance(item, dict) else {})
                continue
            try:
                _, event = self._from_message(item)
            except Exception:  # noqa: BLE001 - a broken event is counted, never fatal
                event = item
            self._deliver(event)

    def decode(self, raw, content_type, content_encoding):
        if content_type == "application/json" or content_type is None:
            return loads_json(raw)
        if content_type not in self._accept:
            raise ValueError(f"refusing events in {content_type!r}")
        from kombu import serialization

        return serialization.loads(raw, content_type, content_encoding, accept=self._accept)

    def undecodable(self, exc) -> None:
        log.warning("an event message could not be decoded: %s", exc)
        self.on_event({})  # counted by the model as a malformed event, narrowed or not

    def due_for_check(self) -> bool:
        now = time.monotonic()
        if now < self._next_check:
            return False
        self._next_check = now + BACKLOG_INTERVAL
        return True


def _content_type(serializer: str) -> str:
    from kombu.serialization import registry

    try:
        return registry.name_to_type.get(serializer, serializer)
    except AttributeError:
        return serializer
