"""Reading events off Redis: PSUBSCRIBE with redis-py and decode kombu's envelope directly.

kombu publishes events with PUBLISH on ``/{db}.celeryev/<routing key>``;
this subscribes to those channels and watches its own output buffer on the
server, which is this stream's backlog.
"""

from __future__ import annotations

import base64
import time

from celerytop.events.fastjson import loads_json
from celerytop.events.streams.base import COALESCE, Stream
from celerytop.events.streams.routing import matcher

PMESSAGE = (b"pmessage", "pmessage")


class RedisStream(Stream):
    """PSUBSCRIBE to the event channel and decode kombu's envelope directly."""

    def run(self, on_ready) -> None:
        channel = self.connection.default_channel
        exchange = self.receiver.exchange.name
        if channel.fanout_patterns:
            topics = [channel._get_publish_topic(exchange, key.replace("#", "*")) for key in self.routing_keys]
        else:  # every event on one channel: narrow here
            topics = [channel._get_publish_topic(exchange, None)]
            self._wanted = matcher(self.routing_keys)
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


def _same(value):
    return value
