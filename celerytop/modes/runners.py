"""The replay clock: what 'now' means for a model fed from a recording."""

from __future__ import annotations

import time

from celerytop.events import recording
from celerytop.events.eventcheck import problem


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
