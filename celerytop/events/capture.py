"""The event-capture thread: broker -> event stream (``streams``) -> model.

It owns the broker connection, reconnects with exponential backoff, and
publishes its connection state through :class:`ConnectionStatus`.  It never
touches widgets; the UI reads the status and the model on its timer.

While a broker does not even accept a TCP connection, the thread knocks on
its port every :data:`PROBE_INTERVAL` and reconnects as soon as it answers,
so recovery follows the broker's return within a second or two however long
the outage was; the backoff only spaces out attempts against a broker that
answers and still refuses us (a wrong password, a broker still starting).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass

from celerytop.events import fstransport, streams
from celerytop.events.probe import broker_addresses, listening
from celerytop.events.streams.routing import ALL_EVENTS
from celerytop.present.errors import failure_text, one_line_error

CONNECTING = "connecting"
CONNECTED = "connected"
RETRYING = "retrying"
STOPPED = "stopped"
REPLAYING = "replaying"  # fed from a recording: no broker at all

#: Seconds between connection attempts: 1, 2, 4, 8, 16, then every 30;
#: from the first again after each successful connection.
BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
#: Seconds connected after which a broken stream is a new outage (the backoff
#: starts again); a stream that breaks sooner keeps backing off.
STABLE_AFTER = 5.0
#: Seconds between knocks on the port of a broker that is not listening.
PROBE_INTERVAL = 1.0

log = logging.getLogger(__name__)


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
    awaiting_broker: bool = False  # retrying: the broker does not listen; reconnecting once it does


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
        self._awaiting_broker = False
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
            self._awaiting_broker = False

    def awaiting_broker(self) -> None:
        """The broker does not listen at all: the capture reconnects as soon as it does."""
        with self._lock:
            if self._state == RETRYING:
                self._awaiting_broker = True

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
                awaiting_broker=self._state == RETRYING and self._awaiting_broker,
            )


class Backoff:
    """The delays between connection attempts, longer after each failure in a row."""

    def __init__(self, delays=BACKOFF):
        self.delays = delays
        self.failures = 0

    def next_delay(self) -> float:
        delay = self.delays[min(self.failures, len(self.delays) - 1)]
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


class EventCapture(threading.Thread):
    """Consume the event stream into ``on_event`` until :meth:`stop`."""

    def __init__(self, app, on_event, status: ConnectionStatus, on_connected=None, backoff=BACKOFF,
                 routing_keys=ALL_EVENTS):
        super().__init__(name="celerytop-capture", daemon=True)
        self.app = app
        self.on_event = on_event
        self.status = status
        self.on_connected = on_connected
        self.backoff = backoff
        self.routing_keys = routing_keys
        self._stop_requested = threading.Event()
        self._stream = None
        self._reached_at = None  # when the current attempt got as far as consuming
        self._addresses = None  # (host, port) to knock on while the broker is down; learnt at the first attempt
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
        backoff = Backoff(self.backoff)
        outage = False  # a failure is logged whole once per outage, then in one line per retry
        while not self.stopping:
            self.status.connecting()
            self._reached_at = None
            try:
                self._capture_once()  # returns only once stop() was called
            except Exception as exc:  # noqa: BLE001 - any broker error means: retry
                if self.stopping:
                    break
                if self._reached_at is not None:  # connected, then the stream broke: a new outage
                    outage = False
                    if time.monotonic() - self._reached_at >= STABLE_AFTER:
                        backoff.reset()
                delay = backoff.next_delay()
                self._log_failure(exc, delay, first=not outage)
                outage = True
                self.status.failed(failure_text(exc), delay)
                if self._wait_to_retry(delay):
                    backoff.reset()  # the broker is back: try at once, and from the first delay should it refuse
        self.status.stopped()

    def _log_failure(self, exc, delay: float, first: bool) -> None:
        if first:
            log.warning("event capture failed, retrying in %s s", delay, exc_info=True)
        else:
            log.warning("event capture failed again, retrying in %s s: %s", delay, one_line_error(exc))

    def _wait_to_retry(self, delay: float) -> bool:
        """Wait ``delay`` seconds, or, while the broker does not even listen, until it
        does (knocking every PROBE_INTERVAL); True when it came back meanwhile."""
        addresses = self._addresses
        if not addresses or listening(addresses):  # it answers and refused us, or cannot be knocked on
            self._stop_requested.wait(delay)
            return False
        self.status.awaiting_broker()
        deadline = time.monotonic() + delay
        while not self._stop_requested.wait(PROBE_INTERVAL):
            if listening(addresses):
                log.info("the broker listens again: reconnecting")
                return True
            if time.monotonic() >= deadline:  # a full attempt now and then, whatever the knocks say
                return False
        return False

    def _capture_once(self) -> None:
        connection = fstransport.connection_for_read(self.app)
        try:
            if self._addresses is None:
                self._addresses = broker_addresses(connection)
            # One attempt at each broker of the URL, no sleeping inside kombu:
            # the waiting is ours (_wait_to_retry), and stop() is not held up.
            connection.ensure_connection(max_retries=max(0, len(connection.alt) - 1), interval_start=0)
            stream = streams.for_connection(self.app, connection, self.node_id, self.on_event,
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
        self._reached_at = time.monotonic()
        log.info("consuming events from %s", self.app.connection_for_read().as_uri())
        self.status.connected()
        if self.on_connected is not None:
            self.on_connected()
