"""The periodic tasks (``:beat``, batch JSON's "beat"): the app's beat_schedule against the runs seen in events.

:func:`plan_from_app` reads ``app.conf.beat_schedule`` once (or says why it
cannot: no ``-A``, no schedule, a scheduler that keeps its schedule
elsewhere); :func:`beat_rows` compares each entry with the runs of its task
seen since the monitor started (runlog.py: a task's first task-sent or
task-received) at query time, "now" being the model's clock (the replay's
during a replay).  Times are epoch seconds; celery's own schedule objects
(``schedule``, ``crontab``, ``solar``) say when runs are due, through
``remaining_estimate`` on a copy whose clock is the time asked about.

A run is *missed* when a time the schedule expected it passes by more than
the tolerance (:func:`tolerance`) with no run of the entry seen that close
to it.  Interval entries (a number or timedelta) run one period after the
previous run, so each run seen restarts their expectations; before the first
run seen, the first one is expected one period after watching began.
Crontab and solar entries are expected at the schedule's own times.
A run matches an entry by task name, and by args and kwargs when the events
carry them (entries sharing a task and arguments share their runs).
No urwid here.
"""

from __future__ import annotations

import copy
import math
from bisect import bisect_left
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

#: The schedulers that read ``beat_schedule`` from the app's configuration (celery's own).
DEFAULT_SCHEDULERS = frozenset(("celery.beat:PersistentScheduler", "celery.beat.PersistentScheduler",
                                "celery.beat:Scheduler", "celery.beat.Scheduler"))
#: A run is missed once its time is this far past with nothing seen: at least, 10 % of the period, at most.
TOLERANCE_MIN, TOLERANCE_SHARE, TOLERANCE_MAX = 5.0, 0.1, 300.0
#: Crontab and solar entries: misses are looked for over this many periods back at most (a minutely
#: crontab: the last 16 h), and the walk stops after twice as many expected runs whatever happens.
LOOKBACK_PERIODS = 1000
MAX_EXPECTED = 2 * LOOKBACK_PERIODS
#: Set on the app celerytop builds from a broker URL alone (cli.py): it has no schedule to read.
BROKER_ONLY = "celerytop_broker_only"
NO_APP_NOTE = "started without -A: the schedule lives in the app's code, so it cannot be seen (start with -A proj)"


class Entry(NamedTuple):
    """One beat_schedule entry as plain data: the schedule is celery's object (schedule, crontab, solar)."""

    name: str
    task: str
    schedule: object
    args: object = None
    kwargs: object = None
    options: object = None


class BeatPlan(NamedTuple):
    """What the monitor knows of the schedule: its entries, and what it cannot see (a sentence, or "")."""

    entries: tuple
    note: str = ""
    app: object = None  # for the schedule's timezone (crontab)
    watching_since: float | None = None  # live: when the monitor started; a replay: None (its first event)

    @property
    def task_names(self) -> frozenset:
        return frozenset(entry.task for entry in self.entries)


class BeatRow(NamedTuple):
    """One entry as the view and batch JSON show it; times in epoch seconds, None where unknown."""

    name: str
    task: str
    schedule: str  # in words
    next_run: float | None
    last_run: float | None
    last_state: str | None
    last_task_id: str | None
    runs_seen: int
    missed: int
    last_missed: float | None  # the latest expected time missed
    tolerance: float | None
    problem: str = ""  # why the entry's times cannot be worked out


def scheduler_name(app) -> str:
    value = app.conf.beat_scheduler
    if isinstance(value, str):
        return value
    return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', type(value).__name__)}"


def plan_from_app(app, watching_since: float | None = None) -> BeatPlan:
    """The entries of ``app.conf.beat_schedule``, and a note of what the monitor cannot see."""
    if app is None or getattr(app, BROKER_ONLY, False):
        return BeatPlan((), NO_APP_NOTE, app, watching_since)
    from celery.schedules import maybe_schedule

    entries, broken = [], []
    for name, spec in dict(app.conf.beat_schedule or {}).items():
        try:
            schedule = maybe_schedule(spec["schedule"], spec.get("relative", False), app=app)
            entries.append(Entry(str(name), str(spec["task"]), schedule, spec.get("args"), spec.get("kwargs"),
                                 spec.get("options")))
        except Exception:  # noqa: BLE001 - one odd entry must not hide the others
            broken.append(str(name))
    note = ""
    scheduler = scheduler_name(app)
    if "django_celery_beat" in scheduler:
        note = (f"beat_scheduler is {scheduler}: its schedule is kept in the Django database, which celerytop "
                "does not read; only the app's beat_schedule is shown, not entries added in the database")
    elif scheduler not in DEFAULT_SCHEDULERS:
        note = (f"beat_scheduler is {scheduler}, which may keep its schedule elsewhere: only the app's "
                "beat_schedule is shown, not entries that scheduler adds")
    elif not entries and not broken:
        note = "the app has no beat_schedule: no periodic tasks to show"
    if broken:
        note = "; ".join(filter(None, (note, f"entries not understood: {', '.join(sorted(broken))}")))
    return BeatPlan(tuple(entries), note, app, watching_since)


def watch(model, plan: BeatPlan) -> None:
    """Have the model keep the runs of the plan's tasks from now on (before events flow)."""
    with model.lock:
        model.type_stats.runs.watch(plan.task_names)


# -- schedules in words and in time -------------------------------------------------
def _every(seconds: float) -> str:
    if seconds <= 0:
        return "continuously"
    parts, rest = [], seconds
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if rest >= size:
            count = int(rest // size)
            parts.append(f"{count} {unit}")
            rest -= count * size
    if rest or not parts:
        parts.append(f"{rest:g} s")
    return "every " + " ".join(parts)


def _field(value, unit: str, plural: str) -> str:
    return f"{unit} {value}" if str(value).isdigit() else f"{plural} {value}"


def in_words(schedule) -> str:
    """``schedule`` (celery's) as a person says it: 'every 30 s', 'at minute 0 of every hour', 'at 07:30 every day'."""
    from celery.schedules import crontab
    from celery.schedules import schedule as interval
    from celery.schedules import solar

    if isinstance(schedule, crontab):
        minute, hour = str(schedule._orig_minute), str(schedule._orig_hour)
        dow, dom, moy = (str(schedule._orig_day_of_week), str(schedule._orig_day_of_month),
                         str(schedule._orig_month_of_year))
        if minute == "*" and hour == "*":
            text = "every minute"
        elif hour == "*":
            text = f"at {_field(minute, 'minute', 'minutes')} of every hour"
        elif minute.isdigit() and hour.isdigit():
            text = f"at {int(hour):02d}:{int(minute):02d}"
        else:
            text = f"at {_field(minute, 'minute', 'minutes')} past {_field(hour, 'hour', 'hours')}"
        days = [f"on {_field(dow, 'day-of-week', 'days-of-week')}" if dow != "*" else "",
                f"on {_field(dom, 'day', 'days')} of the month" if dom != "*" else "",
                f"in {_field(moy, 'month', 'months')}" if moy != "*" else ""]
        days = [d for d in days if d]
        if days:
            return f"{text} {', '.join(days)}"
        return text if hour == "*" else f"{text} every day"
    if isinstance(schedule, solar):
        return f"at {schedule.event} (latitude {schedule.lat}, longitude {schedule.lon})"
    if isinstance(schedule, interval):
        words = _every(schedule.run_every.total_seconds())
        return f"{words}, on the clock" if schedule.relative else words
    return repr(schedule)


def _plain_interval(schedule) -> float | None:
    """The period of an interval schedule that runs a period after its last run; None for others."""
    from celery.schedules import schedule as interval

    if type(schedule) is interval and not schedule.relative:
        return schedule.run_every.total_seconds()
    return None


class Clocked:
    """A copy of a celery schedule whose "now" is the time asked about: :meth:`next_after` from any moment."""

    def __init__(self, schedule, app):
        self._at = None
        self.schedule = copy.copy(schedule)
        self.schedule.nowfun = lambda: self._at
        if app is not None:
            self.schedule.app = app

    def next_after(self, when: float) -> float:
        """The first time the schedule runs after ``when`` (``remaining_estimate`` at that moment)."""
        self._at = datetime.fromtimestamp(when, timezone.utc)
        remaining = self.schedule.remaining_estimate(self._at)
        if not isinstance(remaining, timedelta):
            raise TypeError("remaining_estimate gave no timedelta")
        return when + max(remaining.total_seconds(), 0.001)


def tolerance(period: float) -> float:
    """How late a run may be seen before it counts as missed: 10 % of the period, between 5 s and 5 min."""
    return max(TOLERANCE_MIN, min(TOLERANCE_SHARE * period, TOLERANCE_MAX))


# -- runs against the schedule ---------------------------------------------------------
def _reprs(value, empty, options, key: str) -> frozenset:
    """How the events can show ``value`` (args or kwargs): celery's saferepr of it as a tuple, list or dict."""
    from celery.utils.saferepr import saferepr

    shown = set()
    if isinstance(options, dict) and isinstance(options.get(key), str):
        shown.add(options[key])  # an entry's own argsrepr / kwargsrepr
    value = empty if value is None else value
    forms = (value, tuple(value), list(value)) if isinstance(value, (list, tuple)) else (value,)
    for form in forms:
        try:
            shown.add(saferepr(form, 1024))
        except Exception:  # noqa: BLE001 - an odd value: matched on the name only
            return frozenset()
    return frozenset(shown)


def _matching(entry: Entry, runs: list) -> list:
    """The runs (time, uuid, state, args, kwargs) that are this entry's: same args/kwargs where the events say."""
    args = _reprs(entry.args, (), entry.options, "argsrepr")
    kwargs = _reprs(entry.kwargs, {}, entry.options, "kwargsrepr")
    return [run for run in runs
            if (not run[3] or not args or run[3] in args) and (not run[4] or not kwargs or run[4] in kwargs)]


def _missed_interval(times: list, period: float, tol: float, since: float, now: float) -> tuple:
    """(missed, last missed time) of an interval entry: each run seen restarts the wait for the next.

    Between two runs seen a and b, the expected runs a + k·period that b is too late for (more than
    ``tol``) are missed; after the last one, those more than ``tol`` before ``now``.  Before the first
    run seen, the first is expected one period after ``since`` (beat's own start is not seen).
    """
    if period <= 0:
        return 0, None
    marks = ([since] if not times or since < times[0] else []) + times
    missed, last_missed = 0, None
    for start, end in zip(marks, marks[1:]):
        count = max(0, math.ceil((end - start - tol) / period) - 1)
        if count:
            missed += count
            last_missed = start + count * period
    count = max(0, math.floor((now - marks[-1] - tol) / period))
    if count:
        missed += count
        last_missed = marks[-1] + count * period
    return missed, last_missed


def _missed_clocked(clocked: Clocked, times: list, tol: float, start: float, now: float) -> tuple:
    """(missed, last missed time) of an entry due at fixed times: each one past the tolerance with no run near."""
    missed, last_missed = 0, None
    expected = clocked.next_after(start)
    for _ in range(MAX_EXPECTED):
        if expected + tol > now:
            break
        i = bisect_left(times, expected - tol)
        if i == len(times) or times[i] > expected + tol:
            missed += 1
            last_missed = expected
        expected = clocked.next_after(expected)
    return missed, last_missed


def _row(entry: Entry, runs: list, full: bool, plan: BeatPlan, since: float, now: float) -> BeatRow:
    mine = _matching(entry, runs)
    times = [run[0] for run in mine]
    last = mine[-1] if mine else None
    head = (entry.name, entry.task, in_words(entry.schedule))
    tail = (last[0] if last else None, last[2] if last else None, last[1] if last else None, len(mine))
    period = _plain_interval(entry.schedule)
    try:
        if period is not None:
            tol = tolerance(period)
            missed, last_missed = _missed_interval(times, period, tol, times[0] if full and times else since, now)
            next_run = None
            if times:
                steps = max(1, math.floor((now - tol - times[-1]) / period) + 1) if period > 0 else 1
                next_run = times[-1] + steps * period
        else:
            clocked = Clocked(entry.schedule, plan.app)
            next_run = clocked.next_after(now)
            period = clocked.next_after(next_run) - next_run
            tol = tolerance(period)
            pending = clocked.next_after(now - tol)  # due already, but within the tolerance
            i = bisect_left(times, pending - tol)
            if pending < next_run and (i == len(times) or times[i] > pending + tol):  # and not seen yet
                next_run = pending
            start = times[0] - tol if full and times else since  # a full ring forgot what came before
            start = max(start, now - LOOKBACK_PERIODS * period)
            missed, last_missed = _missed_clocked(clocked, times, tol, start, now)
    except Exception as exc:  # noqa: BLE001 - a schedule we cannot ask (ephem missing, a custom class)
        return BeatRow(*head, None, *tail, 0, None, None, problem=f"cannot work out its times: {exc}"[:200])
    return BeatRow(*head, next_run, *tail, missed, last_missed, tol)


def beat_rows(plan: BeatPlan, model, now: float | None = None) -> list:
    """One BeatRow per entry of ``plan``, by name, against the runs ``model`` saw; ``now``: the model's clock."""
    with model.lock:
        log = model.type_stats.runs
        now = model.now() if now is None else now
        seen = {}
        for name in plan.task_names:
            kept = log.runs.get(name, ())
            seen[name] = ([(when, task.uuid, task.state, task.args, task.kwargs) for when, task in kept],
                          len(kept) >= log.per_name)
        first = log.first
    starts = [t for t in (first, plan.watching_since) if t is not None]
    since = min(starts) if starts else now
    rows = []
    for entry in sorted(plan.entries, key=lambda e: e.name):
        runs, full = seen.get(entry.task, ([], False))
        rows.append(_row(entry, runs, full, plan, since, now))
    return rows
