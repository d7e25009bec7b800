"""The options celerytop runs with, their defaults (the command line's too) and which go together."""

from __future__ import annotations

import os
from dataclasses import dataclass


class UsageError(Exception):
    """Options that do not go together, or a file that cannot be used: one line, exit 2."""


@dataclass
class Options:
    """What the command line asked for; the defaults here are the command line's (cli.py reads them).

    Only the standard library is imported at the top: cli.py reads the defaults
    before it knows whether celery's own requirements are all installed.
    """

    refresh: float = 1.0
    max_tasks: int = 10000
    max_failures: int = 1000
    timeout: float = 1.0
    fold_offline_after: float = 10.0  # minutes
    enable_events: bool = True
    colors: str = "auto"
    ascii: bool = False
    read_only: bool = False
    audit_log: str | None = None
    no_audit_log: bool = False
    batch: bool = False
    delay: float = 2.0
    iterations: int = 1
    width: int | None = None
    fmt: str = "text"
    dump: bool = False
    camera: str | None = None
    frequency: float = 1.0
    maxrate: str | None = None
    record: str | None = None
    replay: str | None = None
    speed: float = 1.0
    db: str | None = None
    only_events: str | None = None
    window: float = 5.0  # minutes: the task types' failure % and rate
    stuck_after: float = 10.0  # minutes: no task is stuck sooner (model/stuckness.py)
    stuck_multiple: float = 5.0  # a STARTED task is stuck past this many times its type's p95 runtime
    queues: bool = False  # --batch: measure the queues (a broker round per snapshot)
    alert_failure_rate: float = 20.0  # %: a type failing more than this over the window
    alert_min_tasks: int = 10  # finished in the window before a type's failure % can alert
    alert_queue_depth: int = 1000  # messages
    alert_queue_growing: float = 5.0  # minutes
    alert_silence: float = 60.0  # seconds without any event while workers are online
    no_alert: tuple = ()  # rule names turned off
    bell: bool = True
    exit_on_alert: bool = False

    @property
    def screen(self) -> bool:
        return not (self.batch or self.dump or self.camera)

    @property
    def routing_keys(self) -> tuple:
        from celerytop.events.streams.routing import ALL_EVENTS, parse_routing_keys

        return parse_routing_keys(self.only_events) if self.only_events else ALL_EVENTS

    @property
    def scope(self) -> str:
        """The header's note that the picture is narrowed ('' when it is not)."""
        return "ONLY " + ",".join(self.routing_keys) if self.only_events else ""

    def check(self) -> None:
        chosen = [name for name, on in (("--batch", self.batch), ("--dump", self.dump),
                                        ("--camera", bool(self.camera))) if on]
        if len(chosen) > 1:
            raise UsageError(f"{' and '.join(chosen)} are different modes: choose one")
        if not 0.1 <= self.window <= 24 * 60:
            raise UsageError("--window must be between 0.1 and 1440 minutes (a day)")
        if not 0 < self.stuck_after <= 7 * 24 * 60:
            raise UsageError("--stuck-after must be more than 0 and at most 10080 minutes (a week)")
        if not 1 <= self.stuck_multiple <= 1000:
            raise UsageError("--stuck-multiple must be between 1 and 1000 (times the type's p95 runtime)")
        if self.queues and not self.batch:
            raise UsageError("--queues adds the queues to --batch snapshots (the screen has them under u)")
        if self.queues and self.replay:
            raise UsageError("--queues measures the broker's queues: it does not apply to --replay")
        self._check_alerts()
        if self.speed < 0:
            raise UsageError("--speed must be 0 (as fast as possible) or more")
        if self.replay is not None and not os.path.isfile(self.replay):
            raise UsageError(f"--replay: no such file: {self.replay}")
        if self.replay and self.record and os.path.abspath(self.replay) == os.path.abspath(self.record):
            raise UsageError("--record and --replay name the same file")
        if self.db and (self.dump or self.camera):
            raise UsageError("--db keeps the monitor's tasks: use it with the screen or --batch")
        if self.only_events is not None:
            from celerytop.events.streams.routing import parse_routing_keys

            try:
                parse_routing_keys(self.only_events)
            except ValueError as exc:
                raise UsageError(f"--only-events: {exc}") from None
            if self.replay:
                raise UsageError("--only-events narrows what the broker sends: it does not apply to --replay")

    def _check_alerts(self) -> None:
        from celerytop.model.alertrules import RULE_NAMES

        if not 0 <= self.alert_failure_rate < 100:
            raise UsageError("--alert-failure-rate must be a percentage from 0 to below 100")
        if self.alert_min_tasks < 1:
            raise UsageError("--alert-min-tasks must be 1 or more")
        if self.alert_queue_depth < 0:
            raise UsageError("--alert-queue-depth must be 0 or more messages")
        if not 0.5 <= self.alert_queue_growing <= 60:
            raise UsageError("--alert-queue-growing must be between 0.5 and 60 minutes")
        if self.alert_silence < 1:
            raise UsageError("--alert-silence must be 1 second or more")
        unknown = [name for name in self.no_alert if name not in RULE_NAMES]
        if unknown:
            raise UsageError(f"--no-alert: no rule named {unknown[0]!r} (rules: {', '.join(RULE_NAMES)})")
        if self.exit_on_alert and not self.batch:
            raise UsageError("--exit-on-alert is for --batch (a health check): the screen shows alerts instead")
