"""Ways to read celery's event stream off a broker, cheapest first.

celery's ``EventReceiver`` goes through kombu's whole consumer machinery
for every event (a kombu ``Message``, the decode registry, callbacks, the
event loop), which costs more CPU per event than celerytop's entire model
(issue 7, ``benchmarks/README.rst``).  On the two brokers most clusters run,
celerytop reads the stream itself:

* Redis: kombu publishes events with PUBLISH on ``/{db}.celeryev/<routing
  key>``; :class:`RedisStream` PSUBSCRIBEs with redis-py and decodes each
  message's envelope directly.
* RabbitMQ (py-amqp): :class:`AmqpStream` declares celery's own event queue
  (the same name, bindings, TTL and expiry) through kombu, then consumes it
  with py-amqp's ``basic_consume``, without acknowledgements, as kombu does.

Every other transport uses celery's Receiver (:class:`ReceiverStream`).
All three hand ``on_event`` the dict celery's Receiver would hand its
handler (``EventReceiver.event_from_message``: Lamport clock, timestamp in
local time, ``local_received``), and a list of events in one message (as
prefork workers send them) as one call per event.

Narrowing: ``routing_keys`` are the event exchange's routing keys to bind
(``#`` is everything; ``worker.#`` and ``task.failed`` keep only worker
events and failures).  On RabbitMQ and Redis the broker does the narrowing,
so events not asked for never cross the network.
"""

from __future__ import annotations

import base64
import logging
import re
import select
import socket
import struct
import time

from celerytop.events.eventcheck import problem
from celerytop.events.fastjson import loads_json

_FRAME_HEADER = struct.Struct(">BHI")  # AMQP frame: type, channel, payload size
_CONTENT_HEADER = struct.Struct(">QH")  # content header: body size, property flags
_BASIC_DELIVER = struct.pack(">HH", 60, 60)

log = logging.getLogger(__name__)

ALL_EVENTS = ("#",)
PMESSAGE = (b"pmessage", "pmessage")
#: How often the streams ask the broker how far behind they are.
BACKLOG_INTERVAL = 1.0
#: Seconds a stream waits, once it has read everything, before reading
#: again.  At a live rate a stream that wakes for every event pays a
#: thread wake-up and system calls per event (about half its CPU at 3,000
#: events/s); 20 ms lets events gather in the socket and be read a hundred
#: at a time, without delay a person could see on a screen redrawn every second.
COALESCE = 0.02


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


def for_connection(app, connection, node_id: str, on_event, health, routing_keys=ALL_EVENTS):
    """The cheapest stream that can read ``connection``'s transport."""
    driver = getattr(connection.transport, "driver_type", "")
    name = getattr(connection.transport, "driver_name", "")
    if driver == "redis":
        return RedisStream(app, connection, node_id, on_event, health, routing_keys)
    if driver == "amqp" and name == "py-amqp":
        return AmqpStream(app, connection, node_id, on_event, health, routing_keys)
    return ReceiverStream(app, connection, node_id, on_event, health, routing_keys)


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


class ReceiverStream(Stream):
    """celery's own Receiver, for transports without a cheaper path (narrowed client-side)."""

    def run(self, on_ready) -> None:
        receiver = self.receiver
        self._wanted = _matcher(self.routing_keys)
        declare_ready = receiver.on_consume_ready

        def on_consume_ready(*args, **kwargs):
            declare_ready(*args, **kwargs)
            on_ready()

        receiver.on_consume_ready = on_consume_ready
        # celery's own _receive raises on a malformed event (a list for a type
        # is an unhashable handler key), which would end the stream: check first.
        receiver._receive = lambda body, message: self.deliver_body(body)
        if self.should_stop:
            return
        receiver.capture(limit=None, timeout=None, wakeup=True)  # returns once should_stop is set

    def stop(self) -> None:
        super().stop()
        self.receiver.should_stop = True


class RedisStream(Stream):
    """PSUBSCRIBE to the event channel and decode kombu's envelope directly."""

    def run(self, on_ready) -> None:
        channel = self.connection.default_channel
        exchange = self.receiver.exchange.name
        if channel.fanout_patterns:
            topics = [channel._get_publish_topic(exchange, key.replace("#", "*")) for key in self.routing_keys]
        else:  # every event on one channel: narrow here
            topics = [channel._get_publish_topic(exchange, None)]
            self._wanted = _matcher(self.routing_keys)
        pubsub = channel.client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.psubscribe(*topics)
            conn = pubsub.connection
            parser = getattr(conn, "_parser", None)
            if hasattr(parser, "set_pubsub_push_handler"):
                # redis-py's default handler logs every RESP3 push at debug
                # level, building the message first, on every event.
                parser.set_pubsub_push_handler(_same)
            self._await_subscribed(conn, len(topics))
            self._watch_buffer(channel.client, conn)
            self.receiver.wakeup_workers(channel=channel)
            on_ready()
            self._read(conn)
        finally:
            try:
                pubsub.close()
            except Exception:  # noqa: BLE001 - already closed by the server
                pass

    @staticmethod
    def _await_subscribed(conn, count: int) -> None:
        """Wait for Redis to confirm each PSUBSCRIBE: only then is nothing published missed."""
        while count:
            if not conn.can_read(timeout=10.0):
                raise ConnectionError("Redis did not confirm the subscription to the event channel")
            response = conn.read_response(push_request=True)
            if isinstance(response, list) and response and response[0] in (b"psubscribe", "psubscribe"):
                count -= 1

    def _read(self, conn) -> None:
        loads, b64decode, deliver_message = loads_json, base64.b64decode, self.deliver_message
        can_read, read_response = conn.can_read, conn.read_response
        while not self.should_stop:
            if self.due_for_check():
                self._check_buffer()
            if not can_read(timeout=0):
                time.sleep(COALESCE)  # nothing buffered: let events gather, then read them at once
                if not can_read(timeout=0.25):
                    continue
            response = read_response(push_request=True)  # RESP3 sends messages as pushes
            if not isinstance(response, list) or len(response) != 4 or response[0] not in PMESSAGE:
                continue
            try:  # kombu's envelope: the body, base64 unless told otherwise, and its content type
                envelope = loads(response[3])
                body = envelope["body"]
                if (envelope.get("properties") or {}).get("body_encoding") == "base64":
                    body = b64decode(body)
            except Exception as exc:  # noqa: BLE001
                self.undecodable(exc)
                continue
            deliver_message(body, envelope.get("content-type"), envelope.get("content-encoding"))

    # Redis keeps what a subscriber has not read yet in that client's output
    # buffer and closes the client once the buffer passes its limit
    # (client-output-buffer-limit pubsub, 32 MB by default): the buffer is
    # this stream's backlog.
    def _watch_buffer(self, client, conn) -> None:
        self._client = client
        self._client_id = None  # learnt at the first check, then asked for alone
        self._address = None
        try:
            host, port = conn._sock.getsockname()[:2]
            self._address = f"{host}:{port}"
        except (AttributeError, OSError):
            pass

    def _check_buffer(self) -> None:
        if self._address is None:
            return
        try:
            if self._client_id is None:  # every subscriber once (a cluster's workers are subscribers too)
                entries = self._client.client_list(_type="pubsub")
            else:
                entries = self._client.client_list(client_id=[self._client_id])
            for entry in entries:
                if entry.get("addr") == self._address:
                    self._client_id = entry.get("id")
                    self.health.backlog(bytes_queued=int(entry.get("omem", 0)))
                    return
        except Exception:  # noqa: BLE001 - CLIENT may be disabled (e.g. a managed Redis), or older than 6.2
            self._address = None


class AmqpStream(Stream):
    """celery's event queue, declared through kombu, consumed with py-amqp directly."""

    binds_routing_keys = True

    def run(self, on_ready) -> None:
        channel = self.connection.default_channel
        queue = self.receiver.queue(channel)
        queue.declare()
        for key in self.routing_keys[1:]:
            channel.queue_bind(queue.name, self.receiver.exchange.name, key)
        self._queue, self._channel = queue.name, channel
        tag = channel.basic_consume(queue.name, no_ack=True, callback=self._on_message)
        self.receiver.wakeup_workers(channel=channel)
        on_ready()
        connection = self.connection.connection  # py-amqp's own
        reader = FrameReader(connection.transport)
        reader.install(connection.transport)
        has_frame, read_frame, take_delivery = reader.has_frame, reader.read_frame, reader.take_delivery
        on_frame, blocking_read = connection.on_inbound_frame, connection.blocking_read
        channel_id, consumer_tag = channel.channel_id, tag.encode() if isinstance(tag, str) else tag
        deliver_message = self.deliver_message
        readable = _readable(connection.transport.sock)
        while not self.should_stop:
            if self.due_for_check():
                self._check_backlog()
            delivery = take_delivery(channel_id, consumer_tag)
            if delivery is not None:
                connection.bytes_recv += 3  # what py-amqp counts for its heartbeat check
                deliver_message(*delivery)
                continue
            if has_frame():  # already read: no timeout to set, no system call
                on_frame(read_frame())
                continue
            if not readable():
                time.sleep(COALESCE)  # caught up: let events gather, then read them at once
            try:
                blocking_read(timeout=0.25)
            except socket.timeout:
                pass

    def _on_message(self, message) -> None:
        props = message.properties
        self.deliver_message(message.body, props.get("content_type"), props.get("content_encoding"))

    def _check_backlog(self) -> None:
        _, count, _ = self._channel.queue_declare(self._queue, passive=True)
        self.health.backlog(messages_queued=count)
        self.connection.heartbeat_check()  # a no-op unless heartbeats were negotiated


class FrameReader:
    """py-amqp's ``read_frame``, reading ahead.

    py-amqp asks the socket for exactly the bytes of the next frame part:
    three system calls and three buffer copies per frame, nine of each per
    event message.  This reads up to 64 KB at once and cuts frames out of
    that buffer; py-amqp parses them as before.  Installed on the transport,
    so every read on the connection (replies to our own commands as well)
    goes through the same buffer.
    """

    CHUNK = 65536
    FRAME_END = 0xCE

    def __init__(self, transport):
        self._recv = transport.sock.recv
        self._buffer = bytearray(transport._read_buffer)  # whatever py-amqp had read already
        transport._read_buffer = b""
        self._pos = 0

    def install(self, transport) -> None:
        transport.read_frame = self.read_frame

    def has_frame(self) -> bool:
        buffer, pos = self._buffer, self._pos
        if len(buffer) - pos < 7:
            return False
        return len(buffer) > pos + 7 + _FRAME_HEADER.unpack_from(buffer, pos)[2]

    def read_frame(self, unpack=None):
        while not self.has_frame():
            chunk = self._recv(self.CHUNK)  # may raise socket.timeout: the buffer is kept
            if not chunk:
                raise OSError("Server unexpectedly closed connection")
            if self._pos:
                del self._buffer[:self._pos]
                self._pos = 0
            self._buffer += chunk
        buffer, pos = self._buffer, self._pos
        frame_type, channel, size = _FRAME_HEADER.unpack_from(buffer, pos)
        end = pos + 7 + size
        if buffer[end] != self.FRAME_END:
            from amqp.exceptions import UnexpectedFrame

            raise UnexpectedFrame(f"Received frame_end {buffer[end]:#04x} while expecting 0xce")
        payload = bytes(buffer[pos + 7:end])
        self._pos = end + 1
        return frame_type, channel, payload

    def take_delivery(self, channel_id: int, consumer_tag: bytes):
        """(body, content_type, content_encoding) of a basic.deliver wholly in the buffer, else None.

        The three frames of an event message (method, content header, one
        body frame) are cut out here instead of going through py-amqp's
        frame handler, channel dispatch and Message: with no
        acknowledgements there is nothing else to keep track of.  Anything
        else, or anything unusual, is left to py-amqp.
        """
        buffer, pos = self._buffer, self._pos
        size = len(buffer)
        unpack_from = _FRAME_HEADER.unpack_from
        if size - pos < 12:
            return None
        frame_type, channel, method_size = unpack_from(buffer, pos)
        header_at = pos + 8 + method_size
        if (frame_type != 1 or channel != channel_id or size < header_at + 7
                or buffer[pos + 7:pos + 11] != _BASIC_DELIVER or buffer[header_at - 1] != self.FRAME_END):
            return None
        tag_length = buffer[pos + 11]
        if buffer[pos + 12:pos + 12 + tag_length] != consumer_tag:
            return None
        frame_type, channel, header_size = unpack_from(buffer, header_at)
        body_at = header_at + 8 + header_size
        if frame_type != 2 or channel != channel_id or size < body_at or buffer[body_at - 1] != self.FRAME_END:
            return None
        at = header_at + 7
        body_size, flags = _CONTENT_HEADER.unpack_from(buffer, at + 4)
        if flags & 1:  # a second word of property flags: not what a dispatcher sends
            return None
        at += 14
        content_type = content_encoding = None
        if flags & 0x8000:
            length = buffer[at]
            content_type = buffer[at + 1:at + 1 + length].decode()
            at += 1 + length
        if flags & 0x4000:
            length = buffer[at]
            content_encoding = buffer[at + 1:at + 1 + length].decode()
        if body_size == 0:
            body, end = b"", body_at
        else:
            if size - body_at < 7:
                return None
            frame_type, channel, frame_size = unpack_from(buffer, body_at)
            end = body_at + 8 + frame_size
            if (frame_type != 3 or channel != channel_id or frame_size != body_size or size < end
                    or buffer[end - 1] != self.FRAME_END):
                return None
            body = bytes(buffer[body_at + 7:end - 1])
        self._pos = end
        return body, content_type, content_encoding


def _readable(sock):
    """A test, without blocking, for bytes waiting on ``sock`` (decrypted ones included)."""
    pending = getattr(sock, "pending", None)  # an SSL socket's own buffer, which select() cannot see

    def readable() -> bool:
        if pending is not None and pending():
            return True
        return bool(select.select([sock], [], [], 0)[0])

    return readable


def _same(value):
    return value


def _content_type(serializer: str) -> str:
    from kombu.serialization import registry

    try:
        return registry.name_to_type.get(serializer, serializer)
    except AttributeError:
        return serializer


def _matcher(routing_keys):
    """A test of an event type against AMQP-style routing keys; None when all pass."""
    if "#" in routing_keys:
        return None
    patterns = []
    for key in routing_keys:
        words = [r"[^.]+" if w == "*" else r".*" if w == "#" else re.escape(w) for w in key.split(".")]
        patterns.append(r"\.".join(words).replace(r"\..*", r"(\..*)?"))
    regex = re.compile(r"^(?:%s)$" % "|".join(patterns))
    return lambda event_type: isinstance(event_type, str) and regex.match(event_type.replace("-", ".")) is not None
