"""Seeding at each (re)connection: on the control executor, ask the workers what they
are doing and put it in the model; the outcome goes to the header's notices on the UI thread."""

from __future__ import annotations

from typing import Callable

from celerytop.model import seed
from celerytop.present.errors import one_line_error


class Seeding:
    def __init__(self, model, control, status, notices, *, deliver: Callable, refresh: Callable,
                 enable_events: bool = True):
        self.model = model
        self.control = control  # None: nothing to ask
        self.status = status
        self.notices = notices  # a HeaderNotices: says what the latest seed could not do
        self._deliver = deliver  # deliver(callback, *args): on the UI thread
        self._refresh = refresh
        self.enable_events = enable_events

    def on_connected(self) -> None:
        """Called on the capture thread at each (re)connection."""
        if self.control is None:
            return
        self.control.submit(self._seed, self.status.snapshot().connects)

    def _seed(self, connection: int) -> None:
        try:
            report = seed.seed(self.model, self.control, enable_events=self.enable_events)
            self._deliver(self._seeded, report, "", connection)
        except Exception as exc:  # noqa: BLE001 - shown on screen, never raised
            self._deliver(self._seeded, None, one_line_error(exc), connection)

    def _seeded(self, report, error, connection: int) -> None:
        self.notices.seeded(report, error, connection)
        self._refresh()
