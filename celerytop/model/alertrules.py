"""The alert rules: each a small object that reads the facts and names what fires now, with a message.

A rule has a ``name`` (what ``--no-alert`` names), a ``title`` (what the
header and the ``:alerts`` view say) and ``evaluate(facts)``, which returns
one :class:`Firing` per subject in alarm (a task type, a worker, a queue...).
The facts are a plain dict gathered by alerts.py; a rule whose facts are
absent (no queue sampling, no lost-task model) fires nothing: it never
guesses.  The engine (alerts.py) turns firings into alerts that start and clear.
"""

from __future__ import annotations

from typing import NamedTuple

#: What a firing's subject is, for Enter in the :alerts view (tasks pane filters).
TYPE, WORKER, QUEUE, TASK, BEAT, CLUSTER = "type", "worker", "queue", "task", "beat", "cluster"


class Firing(NamedTuple):
    """One subject a rule finds in alarm now."""

    subject: str
    message: str
    kind: str = CLUSTER  # TYPE, WORKER, ...: what Enter on its row can filter


class FailureRate:
    """A task type failing more than ``percent`` % of its tasks over the window, once ``min_count`` finished."""

    name = "failure-rate"
    title = "failure rate"

    def __init__(self, percent: float, min_count: int):
        self.percent = float(percent)
        self.min_count = max(1, int(min_count))

    def evaluate(self, facts) -> list:
        window = facts.get("window")
        counts = facts.get("types")  # [(name, finished, failed)] over the window (typestats.window_counts)
        if not window or counts is None:
            return []
        firing = []
        for name, finished, failed in counts:
            if finished >= self.min_count and 100.0 * failed / finished > self.percent:
                firing.append(Firing(name, f"{100.0 * failed / finished:.0f} % failed ({failed} of {finished}) "
                                           f"over the last {_minutes(window)}", TYPE))
        return firing


class WorkerOffline:
    """A worker seen before that is offline now (worker-offline, or its heartbeats stopped)."""

    name = "worker-offline"
    title = "worker offline"

    def evaluate(self, facts) -> list:
        return [Firing(row.hostname, f"last heard {row.heartbeat_age:.0f} s ago" if row.heartbeat_age is not None
                       else "offline", WORKER)
                for row in facts.get("workers") or () if not row.online]


class QueueDepth:
    """A queue holding more than ``depth`` messages at its latest sample."""

    name = "queue-depth"
    title = "queue deep"

    def __init__(self, depth: int):
        self.depth = int(depth)

    def evaluate(self, facts) -> list:
        queues = facts.get("queues")  # name -> [(when, messages)], oldest first; absent: not sampled
        if not queues:
            return []
        return [Firing(name, f"{samples[-1][1]:,} messages (more than {self.depth:,})", QUEUE)
                for name, samples in sorted(queues.items()) if samples and samples[-1][1] > self.depth]


class QueueGrowing:
    """A queue whose depth grew over the last ``minutes``: the samples cover that span, the fitted slope
    is positive and the newest depth is above the oldest in it (a steady or draining queue never fires)."""

    name = "queue-growing"
    title = "queue growing"

    def __init__(self, minutes: float):
        self.span = float(minutes) * 60.0

    def evaluate(self, facts) -> list:
        queues = facts.get("queues")
        if not queues:
            return []
        firing = []
        for name, samples in sorted(queues.items()):
            if not samples or samples[-1][0] - samples[0][0] < self.span:
                continue  # not sampled for long enough to say
            since = samples[-1][0] - self.span
            recent = [s for s in samples if s[0] >= since]
            rate = slope(recent)
            if rate is not None and rate > 0 and recent[-1][1] > recent[0][1]:
                firing.append(Firing(name, f"grew from {recent[0][1]:,} to {recent[-1][1]:,} messages "
                                           f"over {_minutes(self.span)}", QUEUE))
        return firing


class Silence:
    """No event at all for ``seconds`` while workers are online: the event stream, or the workers'
    events, stopped.  It counts from when the total of events last changed, as this rule saw it."""

    name = "silence"
    title = "no events"

    def __init__(self, seconds: float):
        self.seconds = float(seconds)
        self._total = None
        self._changed_at = None

    def evaluate(self, facts) -> list:
        total, now = facts.get("events_total"), facts.get("now")
        if total is None or now is None:
            return []
        if total != self._total or self._changed_at is None:
            self._total, self._changed_at = total, now
        quiet = now - self._changed_at
        online = facts.get("workers_online") or 0
        if online and quiet >= self.seconds:
            return [Firing("events", f"no event for {quiet:.0f} s while {online} worker(s) are online")]
        return []


class FactRule:
    """Fires from a fact another model module fills (``facts[fact]``: stuckness.py's lost count, beat.py's
    missed runs): a count, a list of subjects, or subjects mapped to messages.  Absent (no schedule
    without -A): fires nothing."""

    def __init__(self, name: str, title: str, fact: str, noun: str, kind: str, subject: str = ""):
        self.name, self.title, self.fact, self.noun, self.kind = name, title, fact, noun, kind
        self.subject = subject or noun  # a count's one subject

    def evaluate(self, facts) -> list:
        value = facts.get(self.fact)
        if value is None:
            return []
        if isinstance(value, bool) or isinstance(value, (int, float)):
            return [Firing(self.subject, f"{value:g} {self.noun}", self.kind)] if value > 0 else []
        if isinstance(value, dict):
            return [Firing(str(subject), str(message), self.kind) for subject, message in value.items()]
        return [Firing(str(subject), self.noun, self.kind) for subject in value]


#: Every rule's name, as --no-alert takes it.
RULE_NAMES = ("failure-rate", "worker-offline", "queue-depth", "queue-growing", "silence", "lost", "beat-missed")


def build_rules(*, failure_rate: float, min_tasks: int, queue_depth: int, queue_growing: float,
                silence: float, disabled=()) -> list:
    """The rules the options ask for, without those ``disabled`` names."""
    rules = [FailureRate(failure_rate, min_tasks), WorkerOffline(), QueueDepth(queue_depth),
             QueueGrowing(queue_growing), Silence(silence),
             FactRule("lost", "lost tasks", "lost", "lost task(s)", TASK, subject="tasks"),
             FactRule("beat-missed", "periodic task missed", "beat_missed", "missed run", BEAT)]
    return [rule for rule in rules if rule.name not in set(disabled)]


def _minutes(seconds: float) -> str:
    minutes = seconds / 60.0
    return f"{minutes:g} min"


def slope(samples) -> float | None:
    """Least-squares messages per second over ``samples`` [(when, messages)] (the queues view's trend too)."""
    if len(samples) < 2:
        return None
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    if spread <= 0:
        return None
    return sum((t - mean_t) * (m - mean_m) for t, m in samples) / spread
