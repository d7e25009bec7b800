"""Where a mode's events come from: the broker, once it answers, or a recording,
fed to the mode's handler until the recording ends or the user stops it.

``--record`` wraps a handler (:func:`recorded`) so every event is appended to
the file before anything else sees it (a copy: the model adds fields to the
events it applies).
"""

from __future__ import annotations

import sys
import time

from celerytop.events import capture
from celerytop.events.recording.reader import RecordingError, replay_all
from celerytop.events.recording.replayer import Replayer
from celerytop.events.streams.routing import ALL_EVENTS
from celerytop.present.formatting import mask_secrets, mask_url

#: Seconds to wait for the broker before batch, dump or camera mode gives up.
CONNECT_TIMEOUT = 15.0


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


def start_live(app, handler, routing_keys=ALL_EVENTS):
    """Start capturing; once connected, return (capture, status). BrokerUnreachable
    if the first attempt fails or nothing answers within CONNECT_TIMEOUT."""
    status = capture.ConnectionStatus()
    source = capture.EventCapture(app, handler, status, routing_keys=routing_keys)
    source.start()
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while True:
        snap = status.snapshot()
        if snap.state == capture.CONNECTED:
            return source, status
        if snap.state == capture.RETRYING or time.monotonic() > deadline:
            source.stop(timeout=1.0)
            reason = snap.error or f"no answer within {CONNECT_TIMEOUT:g} s"
            raise BrokerUnreachable(
                mask_secrets(f"cannot reach the broker at {mask_url(str(app.conf.broker_url))}: {reason}"))
        time.sleep(0.02)


def feed_until_done(app, handler, replay: str | None, speed: float, routing_keys=ALL_EVENTS) -> None:
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
        replay_all(path, handler)
        return
    player = Replayer(path, handler, speed=speed)
    player.start()
    try:
        while player.is_alive():
            player.join(0.2)
    finally:
        player.stop()
    if player.error:
        raise RecordingError(player.error)


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
