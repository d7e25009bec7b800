"""Playing a recording back at its recorded pace, faster, slower, paused or step by step."""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Callable

from celerytop.events.recording.clock import ReplayClock, event_time
from celerytop.events.recording.reader import ReadStats, RecordingError, read_events
from celerytop.present.formatting import sanitize

MIN_SPEED = 1 / 64
MAX_SPEED = 1024.0

log = logging.getLogger(__name__)


def _valid_speed(speed: float) -> float:
    speed = float(speed)
    if not math.isfinite(speed) or speed < 0:
        raise ValueError(f"replay speed must be 0 or more, not {speed!r}")
    return speed


class Replayer(threading.Thread):
    """Feeds a recording to ``handler(event)`` (each event a fresh dict) at the recorded pace times ``speed``.

    ``speed`` 0 means as fast as possible.  Pacing uses each event's
    ``local_received`` (else ``timestamp``); a gap longer than ``max_gap``
    wall seconds (after speed) is shortened to ``max_gap`` so a recording
    with an idle hour does not stall the screen.

    The file is opened and its first event read here, so a file that is not
    a recording raises :class:`RecordingError` in the caller's thread, before
    any screen is up.  The controls are thread-safe and take effect at once,
    even in the middle of a long wait.

    ``clock`` (the model's, when one is fed) is moved to each event's time
    before ``handler`` sees the event; without one the Replayer keeps its own.
    """

    def __init__(
        self,
        path: str,
        handler: Callable[[dict], object],
        speed: float = 1.0,
        on_end: Callable[[], object] | None = None,
        max_gap: float = 5.0,
        clock: ReplayClock | None = None,
    ):
        super().__init__(name="celerytop-replay", daemon=True)
        self.path = path
        self.handler = handler
        self.on_end = on_end
        self.max_gap = max(0.0, float(max_gap))
        self.stats = ReadStats()
        self.error = ""
        self._cond = threading.Condition()
        self._speed = _valid_speed(speed)
        self._paused = False
        self._steps = 0
        self._stopped = False
        self._finished = False
        self._delivered = 0
        self.replay_clock = clock if clock is not None else ReplayClock()
        self._events = read_events(path, self.stats)
        self._first = next(self._events, None)

    # -- controls, from any thread --

    def pause(self) -> None:
        with self._cond:
            self._paused = True
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._steps = 0
            self._cond.notify_all()

    def toggle_pause(self) -> bool:
        """Pause or resume; True when now paused."""
        with self._cond:
            self._paused = not self._paused
            self._steps = 0
            self._cond.notify_all()
            return self._paused

    def step(self) -> None:
        """Deliver exactly one more event now, and stay (or become) paused."""
        with self._cond:
            self._paused = True
            self._steps += 1
            self._cond.notify_all()

    def set_speed(self, speed: float) -> float:
        with self._cond:
            self._speed = _valid_speed(speed)
            self._cond.notify_all()
            return self._speed

    def faster(self) -> float:
        """Double the speed, up to MAX_SPEED; 0 (as fast as possible) stays 0."""
        with self._cond:
            return self.set_speed(min(self._speed * 2, MAX_SPEED) if self._speed else 0.0)

    def slower(self) -> float:
        """Halve the speed, down to MIN_SPEED; from 0 (unpaced) to MAX_SPEED."""
        with self._cond:
            return self.set_speed(max(self._speed / 2, MIN_SPEED) if self._speed else MAX_SPEED)

    def stop(self, timeout: float | None = 2.0) -> None:
        """End :meth:`run` promptly, paused or waiting; ``on_end`` is not called."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    @property
    def clock(self) -> float | None:
        """The replayed time (see :class:`ReplayClock`); None before the first event with a time."""
        return self.replay_clock.latest

    @property
    def paused(self) -> bool:
        with self._cond:
            return self._paused

    @property
    def speed(self) -> float:
        with self._cond:
            return self._speed

    @property
    def delivered(self) -> int:
        with self._cond:
            return self._delivered

    @property
    def finished(self) -> bool:
        """The recording was played to its end (or to a read error); False after :meth:`stop`."""
        with self._cond:
            return self._finished

    # -- the thread --

    def run(self) -> None:
        try:
            if not self._play():
                return
        except RecordingError as exc:
            self.error = str(exc)
        finally:
            self._events.close()
        with self._cond:
            if self._stopped:
                return
            self._finished = True
        if self.on_end is not None:
            try:
                self.on_end()
            except Exception:  # noqa: BLE001 - a traceback on stderr would tear the screen
                log.exception("replay on_end failed")

    def _play(self) -> bool:
        """Deliver every event on time; False when stopped."""
        if self._first is None:
            return not self._stopped
        previous: float | None = None
        late = 0.0
        events = self._events
        event, self._first = self._first, None
        while event is not None:
            at = event_time(event)
            gap = 0.0 if at is None or previous is None else max(0.0, at - previous)
            waited = self._wait(gap - late)
            if waited is None:
                return False
            late, speed = waited
            started = time.monotonic()
            self._deliver(event)
            late = min(late + (time.monotonic() - started) * speed, speed)
            if at is not None:
                previous = at if previous is None else max(previous, at)
            event = next(events, None)
        return True

    def _wait(self, remaining: float) -> tuple[float, float] | None:
        """Wait until ``remaining`` replayed seconds have passed at the current speed.

        Returns (replayed seconds we are late by, speed) or None when
        stopped.  Pausing, stepping or unpaced play forgive any lateness.
        """
        budget = self.max_gap
        with self._cond:
            while True:
                if self._stopped:
                    return None
                if self._steps:
                    self._steps -= 1
                    return 0.0, self._speed
                if self._paused:
                    self._cond.wait()
                    continue
                speed = self._speed
                if speed == 0:
                    return 0.0, speed
                if remaining <= 0:
                    return -remaining, speed
                if budget <= 0:
                    return 0.0, speed
                wait = min(remaining / speed, budget)
                started = time.monotonic()
                self._cond.wait(wait)
                elapsed = time.monotonic() - started
                remaining -= elapsed * speed
                budget -= elapsed

    def _deliver(self, event: dict) -> None:
        self.replay_clock.advance(event)
        try:
            self.handler(event)
        except Exception:  # noqa: BLE001 - one bad event must not end the replay
            log.exception("replay handler failed on a %s event", sanitize(event.get("type"), limit=80))
        with self._cond:
            self._delivered += 1
