"""What the header says besides the counts: alarms, standing notices, the audit log's
and the latest seed's errors, and the hint that workers send no task events.
"""

from __future__ import annotations

import time

from celerytop.events import capture
from celerytop.present.header_text import Alarm, ignored_events_note, mode_text, replay_text

#: Seconds connected with workers answering pings but no task event seen,
#: before the header suggests that task events are off.
NO_TASK_EVENTS_HINT_AFTER = 10.0


class HeaderNotices:
    """The header's notices and mode; fed the seed's outcome and each refresh's worker rows."""

    def __init__(self, audit=None, scope: str = "", read_only: bool = False, clock=time.monotonic):
        self.audit = audit  # its error (the log cannot be written) is said while it lasts
        self.scope = scope  # e.g. "ONLY worker.#,task.failed": the broker sends only these events
        self.read_only = read_only
        self._clock = clock
        self.standing: list = []  # said for the whole session
        self.alarms: list = []  # callables: '' or what is being lost now (a stopped --record), said in red
        self.seed_report = None
        self.seed_error = ""
        self.seed_connection = 0  # the connection (status.connects) the latest seed ran on
        self._worker_rows: list = []
        self._processed_at_start: dict = {}

    def seeded(self, report, error: str, connection: int) -> None:
        """A seed's outcome: its report (None when it failed), its error, the connection it ran on."""
        if report is not None:
            self.seed_report = report
        self.seed_error = error
        self.seed_connection = connection

    def note_worker_counts(self, rows) -> None:
        """Remember what each worker had processed when first seen, and what now."""
        self._worker_rows = rows
        for row in rows:
            if isinstance(row.processed, int):
                self._processed_at_start.setdefault(row.hostname, row.processed)

    def mode(self, replay=None) -> str:
        """The header's mode: the replay's clock and speed (a recording.Replayer), else READ-ONLY and the scope."""
        if replay is not None:
            return mode_text(replay=replay_text(replay))
        return mode_text(read_only=self.read_only, scope=self.scope)

    def notes(self, summary, status) -> list:
        notes = [Alarm(text) for text in (alarm() for alarm in self.alarms) if text]
        notes += self.standing
        if self.audit is not None and self.audit.error:
            notes.append(self.audit.error)
        if self.seed_error and self._on_seed_connection(status):
            notes.append(f"Could not ask workers for their state: {self.seed_error}")
        report = self.seed_report
        if (
            report is not None
            and report.workers
            and summary.task_events == 0
            and self._workers_busy()
            and status.state == capture.CONNECTED
            and status.connected_since is not None
            and self._clock() - status.connected_since > NO_TASK_EVENTS_HINT_AFTER
        ):
            notes.append(
                f"{len(report.workers)} worker(s) answer pings and run tasks but send no task events: "
                "start them with -E or run 'celery control enable_events'"
            )
        ignored = ignored_events_note(summary)
        if ignored:
            notes.append(ignored)
        return notes

    def _on_seed_connection(self, status) -> bool:
        """Whether the connection the latest seed ran on is still the one up: a seed's
        error describes that connection, never an outage since (the header says that)
        nor a later connection (which seeds again)."""
        return status.state == capture.CONNECTED and status.connects == self.seed_connection

    def _workers_busy(self) -> bool:
        """Work is happening (tasks active, or processed since we started): an
        idle cluster also sends no task events, and deserves no warning."""
        for row in self._worker_rows:
            if isinstance(row.active, int) and row.active > 0:
                return True
            start = self._processed_at_start.get(row.hostname)
            if isinstance(row.processed, int) and start is not None and row.processed > start:
                return True
        return False
