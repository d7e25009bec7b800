"""The event-capture thread: broker -> celery ``Receiver`` -> model.

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

from celerytop import fstransport
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
            return StatusSnapshot(
                self._state, self._error, retry_in, self._attempts, self._connected_since, self._connects
            )


class EventCapture(threading.Thread):
    """Consume the event stream into ``on_event`` until :meth:`stop`."""

    def __init__(self, app, on_event, status: ConnectionStatus, on_connected=None, backoff=BACKOFF):
        super().__init__(name="celerytop-capture", daemon=True)
        self.app = app
        self.on_event = on_event
        self.status = status
        self.on_connected = on_connected
        self.backoff = backoff
        self._stop_requested = threading.Event()
        self._receiver = None
        # One queue name for the life of the process: after a reconnect the
        # capture resumes the same queue where the broker kept it.
        self.node_id = uuid.uuid4().hex

    def stop(self, timeout: float | None = 2.0) -> None:
        self._stop_requested.set()
        receiver = self._receiver
        if receiver is not None:
            receiver.should_stop = True
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
            receiver = self.app.events.Receiver(connection, handlers={"*": self.on_event}, node_id=self.node_id)
            self._receiver = receiver
            if self.stopping:
                return
            # Receiver.on_consume_ready runs once its queue is declared and
            # bound (and, with wakeup, asks every worker for an immediate
            # heartbeat so the workers pane fills at once): that is the
            # moment we are connected, even if no event ever arrives.
            declare_ready = receiver.on_consume_ready

            def on_consume_ready(*args, **kwargs):
                declare_ready(*args, **kwargs)
                self._on_consuming()

            receiver.on_consume_ready = on_consume_ready
            receiver.capture(limit=None, timeout=None, wakeup=True)
            # capture() returns only once should_stop is set
        finally:
            self._receiver = None
            try:
                connection.release()
            except Exception:  # noqa: BLE001 - the connection is already broken
                pass

    def _on_consuming(self) -> None:
        log.info("consuming events from %s", self.app.connection_for_read().as_uri())
        self.status.connected()
        if self.on_connected is not None:
            self.on_connected()
