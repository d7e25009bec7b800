"""The alert engine: facts gathered from the model, rules evaluated on them, alerts that fire and clear.

An alert is one (rule, subject) pair while its rule keeps finding it: it
*fires* the first evaluation that finds it and *clears* the first that does
not.  :meth:`AlertEngine.evaluate` says which alerts started and cleared, so
the screen rings the bell once per start and the alert log gets one line per
fire and per clear.  Times are the model's clock: a replay's alerts fire at
the recording's times.  Nothing here writes anywhere or knows the screen.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from celerytop.model.alertrules import Firing
from celerytop.model.beat import beat_rows
from celerytop.model.stuckness import lost_count

#: Alerts kept for the :alerts view (firing ones always, the oldest cleared ones go first).
MAX_HISTORY = 1000

@dataclass
class Alert:
    rule: str  # the rule's name (failure-rate, worker-offline, ...)
    title: str  # the rule's title (failure rate, worker offline, ...)
    subject: str
    message: str
    kind: str  # what the subject is (alertrules.TYPE, WORKER, ...)
    fired_at: float
    cleared_at: float | None = None

    @property
    def firing(self) -> bool:
        return self.cleared_at is None

    def record(self) -> dict:
        """JSON-ready: what batch JSON and the alert log say of it."""
        return {"rule": self.rule, "subject": self.subject, "message": self.message, "kind": self.kind,
                "fired_at": self.fired_at, "cleared_at": self.cleared_at}


def gather(model, now: float, queues=None, schedule=None) -> dict:
    """The facts the rules read: the task types, the workers, the event total, and what is known besides.

    ``queues``: {name: [(when, messages)], oldest first} where depths are sampled, else None (the
    queue rules then fire nothing).  ``schedule``: model/beat.py's BeatPlan, for missed runs.
    """
    workers = model.worker_rows()
    with model.lock:
        counts = model.type_stats.window_counts(now)
    facts = {"now": now, "window": model.type_stats.window, "types": counts, "workers": workers,
             "workers_online": sum(1 for row in workers if row.online), "events_total": model.events_total}
    if queues is not None:
        facts["queues"] = queues
    facts["lost"] = lost_count(model, now)
    missed = _beat_missed(model, now, schedule)
    if missed is not None:
        facts["beat_missed"] = missed
    return facts


def _beat_missed(model, now: float, schedule):
    """{entry name: what it missed} (model/beat.py), or None without a schedule (no -A)."""
    if schedule is None:
        return None
    return {row.name: f"{row.missed} run(s) missed, the latest due "
                      f"{time.strftime('%H:%M:%S', time.localtime(row.last_missed)) if row.last_missed else '?'}"
            for row in beat_rows(schedule, model, now) if row.missed}


class AlertEngine:
    """Evaluates the rules and keeps the alerts: those firing now and the history (not thread-safe: one caller)."""

    def __init__(self, rules):
        self.rules = list(rules)
        self.firing: dict = {}  # (rule name, subject) -> Alert, in firing order
        self.history: list = []  # every alert, oldest first (firing ones included)

    def evaluate(self, facts) -> tuple:
        """Evaluate every rule on ``facts`` (``facts["now"]`` the time): (alerts started, alerts cleared)."""
        now = facts["now"]
        seen: set = set()
        started = []
        for rule in self.rules:
            for firing in rule.evaluate(facts):
                key = (rule.name, firing.subject)
                seen.add(key)
                alert = self.firing.get(key)
                if alert is None:
                    alert = self.firing[key] = Alert(rule.name, rule.title, firing.subject, firing.message,
                                                     firing.kind, now)
                    self.history.append(alert)
                    started.append(alert)
                else:
                    alert.message = firing.message  # the figures move while it fires
        cleared = []
        for key in [key for key in self.firing if key not in seen]:
            alert = self.firing.pop(key)
            alert.cleared_at = now
            cleared.append(alert)
        if len(self.history) > MAX_HISTORY:
            old = [alert for alert in self.history if not alert.firing]
            drop = set(map(id, old[:len(self.history) - MAX_HISTORY]))
            self.history = [alert for alert in self.history if id(alert) not in drop]
        return started, cleared

    def firing_alerts(self) -> list:
        """The alerts firing now, the oldest first."""
        return list(self.firing.values())

    def headline(self) -> str:
        """'ALERT worker offline: w1@host (+2) · last heard 30 s ago': the oldest firing alert and how many
        more; '' when none."""
        alerts = self.firing_alerts()
        if not alerts:
            return ""
        first = alerts[0]
        more = f" (+{len(alerts) - 1})" if len(alerts) > 1 else ""
        return f"ALERT {first.title}: {first.subject}{more} · {first.message}"


__all__ = ["Alert", "AlertEngine", "Firing", "gather"]
