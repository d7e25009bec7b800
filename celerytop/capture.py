"""The event-capture thread: broker -> event stream (``consumers.py``) -> model.

It owns the broker connection, reconnects with exponential backoff, and
publishes its connection state through :class:`ConnectionStatus`.  It never
touches widgets; the UI reads the status and the model on its timer.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass

from celerytop import consumers, fstransport
from celerytop.formatting import sanitize

CONNECTING = "connecting"
CONNECTED = "connected"
RETRYING = "retrying"
STOPPED = "stopped"
REPLAYING = "replaying"  # fed from a recording: no broker at all

#: Seconds between connection attempts: 1, 2, 4, 8, 16, then every 30.
BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)

log = logging.getLogger(__name__)


def one_line_error(exc: BaseException) -> str:
    """An exception as one readable line: 'ConnectionRefusedError: [Errno 111] ...'."""
    text = " ".join(str(exc).split()) or exc.__class__.__name__
    name = exc.__class__.__name__
    if not text.startswith(name):
        text = f"{name}: {text}"
    return sanitize(text, limit=200)


@dataclass(frozen=True)
class StatusSnapshot:
    state: str
    error: str
    retry_in: float | None
    attempts: int
    connected_since: float | None
    connects: int
    lag: float = 0.0  # seconds the newest event took to reach the model, beyond its sender's usual
    messages_queued: int | None = None  # RabbitMQ: events waiting in our queue
    bytes_queued: int | None = None  # Redis: events waiting in our output buffer
    drops: int = 0  # times the stream broke while connected: events were lost
    last_drop: float | None = None  # wall-clock time of the latest


class StreamHealth:
    """How far behind the stream is, written by the capture thread without a lock.

    Lag is measured per sender against the smallest delay seen from it, so
    a worker whose clock is off by minutes does not read as minutes behind.
    """

    MAX_SENDERS = 10000

    def __init__(self):
        self._floor: dict = {}
        self.lag = 0.0
        self.messages_queued = None
        self.bytes_queued = None

    def saw(self, event) -> None:
        try:
            delay = event["local_received"] - event["timestamp"]
            sender = event["hostname"]
            floor = self._floor.get(sender)
        except (KeyError, TypeError):
            return
        if floor is None or delay < floor:
            if floor is None and len(self._floor) >= self.MAX_SENDERS:
                self._floor.clear()
            self._floor[sender] = floor = delay
        self.lag = delay - floor

    def backlog(self, messages_queued=None, bytes_queued=None) -> None:
        self.messages_queued = messages_queued
        self.bytes_queued = bytes_queued

    def reset(self) -> None:
        self.lag = 0.0
        self.messages_queued = self.bytes_queued = None


class ConnectionStatus:
    """Connection state shared between the capture thread and the UI."""

    def __init__(self, monotonic=time.monotonic):
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self._state = CONNECTING
        self._error = ""
        self._retry_at: float | None = None
        self._attempts = 0
        self._connected_since: float | None = None
        self._connects = 0
        self._drops = 0
        self._last_drop: float | None = None
        self.health = StreamHealth()

    def connecting(self) -> None:
        with self._lock:
            self._state = CONNECTING
            self._attempts += 1
            self._retry_at = None

    def connected(self) -> None:
        with self._lock:
            self._state = CONNECTED
            self._error = ""
            self._retry_at = None
            self._attempts = 0
            self._connected_since = self._monotonic()
            self._connects += 1

    def failed(self, error: str, retry_in: float) -> None:
        with self._lock:
            if self._state == CONNECTED:  # the stream broke: whatever was sent meanwhile is gone
                self._drops += 1
                self._last_drop = time.time()
            self.health.reset()
            self._state = RETRYING
            self._error = error
            self._retry_at = self._monotonic() + retry_in
            self._connected_since = None

    def replaying(self) -> None:
        with self._lock:
            self._state = REPLAYING
            self._error = ""
            self._retry_at = None

    def stopped(self) -> None:
        with self._lock:
            self._state = STOPPED
            self._retry_at = None

    def snapshot(self) -> StatusSnapshot:
        with self._lock:
            retry_in = None
            if self._retry_at is not None:
                retry_in = max(0.0, self._retry_at - self._monotonic())
            health = self.health
            return StatusSnapshot(
                self._state, self._error, retry_in, self._attempts, self._connected_since, self._connects,
                lag=health.lag, messages_queued=health.messages_queued, bytes_queued=health.bytes_queued,
                drops=self._drops, last_drop=self._last_drop,
            )


class EventCapture(threading.Thread):
    """Consume the event stream into ``on_event`` until :meth:`stop`."""

    def __init__(self, app, on_event, status: ConnectionStatus, on_connected=None, backoff=BACKOFF,
                 routing_keys=consumers.ALL_EVENTS):
        super().__init__(name="celerytop-capture", daemon=True)
        self.app = app
        self.on_event = on_event
        self.status = status
        self.on_connected = on_connected
        self.backoff = backoff
        self.routing_keys = routing_keys
        self._stop_requested = threading.Event()
        self._stream = None
        # One queue name for the life of the process: after a reconnect the
        # capture resumes the same queue where the broker kept it.
        self.node_id = uuid.uuid4().hex

    def stop(self, timeout: float | None = 2.0) -> None:
        self._stop_requested.set()
        stream = self._stream
        if stream is not None:
            stream.stop()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    @property
    def stopping(self) -> bool:
        return self._stop_requested.is_set()

    def run(self) -> None:
        failures = 0
        while not self.stopping:
            self.status.connecting()
            try:
                self._capture_once()
            except Exception as exc:  # noqa: BLE001 - any broker error means: retry
                if self.stopping:
                    break
                delay = self.backoff[min(failures, len(self.backoff) - 1)]
                failures += 1
                log.warning("event capture failed, retrying in %s s", delay, exc_info=True)
                self.status.failed(one_line_error(exc), delay)
                self._stop_requested.wait(delay)
            else:
                failures = 0
        self.status.stopped()

    def _capture_once(self) -> None:
        connection = fstransport.connection_for_read(self.app)
        try:
            connection.ensure_connection(max_retries=1)
            stream = consumers.for_connection(self.app, connection, self.node_id, self.on_event,
                                              self.status.health, self.routing_keys)
            self._stream = stream
            if self.stopping:
                return
            # on_ready runs once the stream is subscribed (and has asked every
            # worker for an immediate heartbeat, so the workers pane fills at
            # once): that is the moment we are connected, even if no event
            # ever arrives.
            stream.run(on_ready=self._on_consuming)
            # run() returns only once stop() was called
        finally:
            self._stream = None
            try:
                connection.release()
            except Exception:  # noqa: BLE001 - the connection is already broken
                pass

    def _on_consuming(self) -> None:
        log.info("consuming events from %s", self.app.connection_for_read().as_uri())
        self.status.connected()
        if self.on_connected is not None:
            self.on_connected()
