"""What "now" is while a recording plays: the time of the last event replayed.

A model fed from a recording reads this clock instead of the wall clock, so
workers are online as they were; the replay screen's header shows it.
"""

from __future__ import annotations

import math
import time

from celerytop.events.eventcheck import problem


def event_time(event: dict) -> float | None:
    """When the event happened, for pacing: when the receiver got it, else when it was sent."""
    if not isinstance(event, dict):
        return None
    for key in ("local_received", "timestamp"):
        value = event.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


class ReplayClock:
    """The time of the last replayed event that may be applied (its local_received, else
    timestamp); the fallback (the wall clock) until there is one."""

    def __init__(self, fallback=time.time):
        self.latest: float | None = None
        self._fallback = fallback

    def __call__(self) -> float:
        return self.latest if self.latest is not None else self._fallback()

    def advance(self, event) -> None:
        """Move to ``event``'s time; a malformed event, or one without a time, leaves the clock as it is."""
        when = event_time(event) if problem(event) is None else None
        if when is not None:
            self.latest = when

    def follow(self, handler):
        """``handler`` with the clock moved to each event's time before the handler sees the event."""

        def advance_then_handle(event):
            self.advance(event)
            handler(event)

        return advance_then_handle
