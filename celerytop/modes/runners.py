"""The ways celerytop runs besides the screen: batch snapshots, the event dump
and cameras, each fed live from the broker or from a recording.

Every mode builds its event handler the same way: ``--record`` wraps it so
every event is appended to the file before anything else sees it (a copy:
the model adds fields to the events it applies).
"""

from __future__ import annotations

import logging
import shutil
import sys
import time

from celerytop.events import capture, recording
from celerytop.events.consumers import ALL_EVENTS
from celerytop.events.eventcheck import problem
from celerytop.modes import batch
from celerytop.present.errors import one_line_error
from celerytop.present.formatting import mask_secrets, mask_url

log = logging.getLogger(__name__)

#: Seconds to wait for the broker before batch, dump or camera mode gives up.
CONNECT_TIMEOUT = 15.0


class ReplayClock:
    """The time of the last replayed event (its local_received, else timestamp): what
    'now' means for a model fed from a recording, so workers are online as they were."""

    def __init__(self, fallback=time.time):
        self.latest = None
        self._fallback = fallback

    def __call__(self) -> float:
        return self.latest if self.latest is not None else self._fallback()

    def follow(self, handler):
        def note_time(event):
            when = recording.event_time(event) if problem(event) is None else None
            if when is not None:
                self.latest = when
            handler(event)

        return note_time


class BrokerUnreachable(Exception):
    """The broker did not answer: one line for the user, exit status 2."""


def recorded(handler, recorder):
    """``handler`` with every event also appended to ``recorder`` (when there is one)."""
    if recorder is None:
        return handler

    def record_then_handle(event):
        recorder.record(event)
        handler(event)

    return record_then_handle


def start_live(app, handler, on_connected=None, timeout: float = CONNECT_TIMEOUT, routing_keys=ALL_EVENTS):
    """Start capturing; once connected, return (capture, status). BrokerUnreachable
    if the first attempt fails or nothing answers within ``timeout``."""
    status = capture.ConnectionStatus()
    source = capture.EventCapture(app, handler, status, on_connected=on_connected, routing_keys=routing_keys)
    source.start()
    deadline = time.monotonic() + timeout
    while True:
        snap = status.snapshot()
        if snap.state == capture.CONNECTED:
            return source, status
        if snap.state == capture.RETRYING or time.monotonic() > deadline:
            source.stop(timeout=1.0)
            reason = snap.error or f"no answer within {timeout:g} s"
            raise BrokerUnreachable(
                mask_secrets(f"cannot reach the broker at {mask_url(str(app.conf.broker_url))}: {reason}"))
        time.sleep(0.02)


def output_width(requested: int | None, out=sys.stdout) -> int:
    """--width, else the terminal's, else 120 (piped)."""
    if requested:
        return requested
    try:
        if out.isatty():
            return shutil.get_terminal_size((batch.DEFAULT_WIDTH, 24)).columns
    except (AttributeError, ValueError, OSError):
        pass
    return batch.DEFAULT_WIDTH


class Printer:
    """Writes one snapshot per iteration, as text or JSON."""

    def __init__(self, model, fmt: str, width: int, app_name: str, broker: str, out=sys.stdout, mode: str = ""):
        self.model, self.fmt, self.width = model, fmt, width
        self.app_name, self.broker, self.out, self.mode = app_name, broker, out, mode
        self.printed = 0

    def __call__(self, status) -> None:
        self.printed += 1
        if self.fmt == "json":
            self.out.write(batch.render_json(self.model, status, self.printed))
        else:
            if self.printed > 1:
                self.out.write("\n")
            self.out.write(batch.render_text(self.model, status, self.width, self.app_name, self.broker,
                                             mode=self.mode))
        self.out.flush()


def run_batch(app, model, printer: Printer, *, iterations: int, delay: float, handler, seed=None,
              routing_keys=ALL_EVENTS) -> None:
    """Live: connect (or fail in one line), seed, then print every ``delay`` seconds."""
    source, status = start_live(app, handler, routing_keys=routing_keys)
    try:
        if seed is not None:
            seed()
        for _ in range(iterations):
            time.sleep(delay)
            printer(status.snapshot())
    finally:
        source.stop(timeout=1.5)


def replayed_status():
    status = capture.ConnectionStatus()
    status.replaying()
    return status


def run_batch_replay(path: str, handler, printer: Printer, *, iterations: int, delay: float,
                     speed: float) -> None:
    """From a recording: at ``--speed 0`` all of it first, then one snapshot; else
    snapshots every ``delay`` seconds of replay until the iterations or the recording end."""
    status = replayed_status()
    if speed == 0:
        recording.replay_all(path, handler)
        printer(status.snapshot())
        return
    player = recording.Replayer(path, handler, speed=speed)
    player.start()
    try:
        for _ in range(iterations):
            player.join(delay)
            printer(status.snapshot())
            if not player.is_alive():
                break
    finally:
        player.stop()
    if player.error:
        raise recording.RecordingError(player.error)


def run_dump(app, dumper, *, recorder=None, replay: str | None = None, speed: float = 1.0,
             routing_keys=ALL_EVENTS) -> None:
    """Every event, one line each, until Ctrl-C (live) or the recording's end."""
    _feed_until_done(app, recorded(dumper.on_event, recorder), replay, speed, routing_keys)


def run_camera(app, camera: str, frequency: float, maxrate, *, recorder=None, replay: str | None = None,
               speed: float = 1.0, out=sys.stdout, routing_keys=ALL_EVENTS) -> None:
    """A celery Polaroid over a celery State, as ``celery events -c`` runs it."""
    from celery.utils.imports import instantiate

    state = app.events.State()
    try:
        cam = instantiate(camera, state, app=app, freq=frequency, maxrate=maxrate)
    except Exception as exc:  # noqa: BLE001 - the user's module or class name is wrong
        raise CameraError(f"cannot load camera {camera!r}: {one_line_error(exc)}") from None
    out.write(f"-> evcam: Taking snapshots with {camera} (every {frequency} secs.)\n")
    out.flush()
    cam.install()
    try:
        _feed_until_done(app, recorded(_applied_safely(state.event), recorder), replay, speed, routing_keys)
    finally:
        cam.cancel()  # takes the last snapshot, as celery's evcam does on exit


def _applied_safely(apply):
    """celery's ``State.event`` for a camera: malformed events left out, and what
    State itself cannot apply (e.g. a task event without a uuid) logged, not raised."""

    def apply_event(event) -> None:
        if problem(event) is not None:
            return
        try:
            apply(event)
        except Exception as exc:  # noqa: BLE001 - celery's code, fed by whoever can publish
            log.warning("celery's State could not apply a %s event: %s", event["type"], one_line_error(exc))

    return apply_event


class CameraError(Exception):
    """A camera class that does not load: one line, exit status 2."""


def _feed_until_done(app, handler, replay: str | None, speed: float, routing_keys=ALL_EVENTS) -> None:
    """The recording to its end, or the broker's events until Ctrl-C or SIGTERM."""
    if replay is not None:
        _replay_until_end(replay, handler, speed)
        return
    source, status = start_live(app, handler, routing_keys=routing_keys)
    try:
        _wait_forever(status)
    finally:
        source.stop(timeout=1.5)


def _replay_until_end(path: str, handler, speed: float) -> None:
    if speed == 0:
        recording.replay_all(path, handler)
        return
    player = recording.Replayer(path, handler, speed=speed)
    player.start()
    try:
        while player.is_alive():
            player.join(0.2)
    finally:
        player.stop()
    if player.error:
        raise recording.RecordingError(player.error)


def _wait_forever(status) -> None:
    """Until Ctrl-C or SIGTERM; a lost connection is said on stderr, once per loss."""
    reported = False
    while True:
        time.sleep(0.2)
        snap = status.snapshot()
        if snap.state == capture.RETRYING and not reported:
            sys.stderr.write(mask_secrets(f"celerytop: connection lost ({snap.error}); retrying\n"))
            reported = True
        elif snap.state == capture.CONNECTED:
            reported = False
