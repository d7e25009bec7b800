"""Reading events off RabbitMQ with py-amqp directly, frames cut out of a read-ahead buffer.

celery's event queue (the same name, bindings, TTL and expiry) is declared
through kombu, then consumed with py-amqp's ``basic_consume``, without
acknowledgements, as kombu does.
"""

from __future__ import annotations

import select
import socket
import struct
import time

from celerytop.events.streams.base import COALESCE, Stream

_FRAME_HEADER = struct.Struct(">BHI")  # AMQP frame: type, channel, payload size
_CONTENT_HEADER = struct.Struct(">QH")  # content header: body size, property flags
_BASIC_DELIVER = struct.pack(">HH", 60, 60)


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
