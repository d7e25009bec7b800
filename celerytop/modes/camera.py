"""``--camera``: a celery Polaroid over a celery State, as ``celery events -c``
runs it, fed live from the broker or from a recording."""

from __future__ import annotations

import logging
import sys

from celerytop.events.eventcheck import problem
from celerytop.events.streams.routing import ALL_EVENTS
from celerytop.modes.sources import feed_until_done, recorded
from celerytop.present.errors import one_line_error

log = logging.getLogger(__name__)


class CameraError(Exception):
    """A camera class that does not load: one line, exit status 2."""


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
        feed_until_done(app, recorded(_applied_safely(state.event), recorder), replay, speed, routing_keys)
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
