"""Batch snapshots (``--batch``): the header, the workers table and the tasks
table as plain text, or the same data as one JSON document, printed every
``--delay`` seconds, live or from a recording, for scripts, logs and health checks.

Built from the same model snapshots, columns and cells as the screen, with
every style dropped: nothing here writes an escape code, and every value a
worker sent is sanitised like on screen.
"""

from __future__ import annotations

import json
import shutil
import sys
import time

from celerytop.control.queues.trend import DepthHistory
from celerytop.events import capture
from celerytop.events.recording.clock import ReplayClock
from celerytop.events.recording.reader import RecordingError, replay_all
from celerytop.events.recording.replayer import Replayer
from celerytop.events.streams.routing import ALL_EVENTS
from celerytop.model import beat, failhistory, typehistory, workerhistory
from celerytop.model.alerts import gather
from celerytop.model.ratehistory import BUCKET_SECONDS
from celerytop.model.stuckness import LOST, flagged_tasks
from celerytop.modes import queue_snapshot
from celerytop.modes.sources import start_live
from celerytop.present import formatting, table
from celerytop.present.columns import TASK_COLUMNS, WORKER_COLUMNS, task_cells, worker_cells
from celerytop.present.header_text import Alarm, header_lines, ignored_events_note

#: What the JSON says of each failure group (model/failgroups.py).
FAILURE_GROUP_KEYS = ("id", "name", "exception", "message", "count", "first_seen", "last_seen", "workers",
                      "more_workers", "example_task_id")
#: Width when neither --width nor a terminal says otherwise (output piped).
DEFAULT_WIDTH = 120


def plain(markup) -> str:
    """The text of urwid markup: [(style, text), ...] or a string."""
    if isinstance(markup, str):
        return markup
    return "".join(part if isinstance(part, str) else part[1] for part in markup)


def _table(columns, rows_cells, width: int) -> list:
    columns = columns[1:]  # the mark column means nothing on paper
    widths = table.layout(columns, width - 1)
    lines = [" " + plain(table.header_markup(columns, widths))]
    for cells in rows_cells:
        lines.append(" " + plain(table.row_markup(cells[1:], columns, widths)))
    return lines


def render_text(model, status, width: int, app_name: str = "", broker: str = "", notices=(), mode: str = "",
                queues=None) -> str:
    """One snapshot as the screen shows it, every line at most ``width`` columns."""
    model.sample_event_rate()
    summary = model.summary()
    notices = (*notices, ignored_events_note(summary)) if ignored_events_note(summary) else notices
    lines = [plain(markup) for markup in header_lines(app_name, broker, summary, status, notices, mode)]
    workers = model.worker_rows()
    lines += ["", f" Workers  {summary.workers_online} online / {summary.workers_total} known"]
    lines += _table(WORKER_COLUMNS, (worker_cells(row) for row in workers), width)
    uuids = model.query()
    lines += ["", f" Tasks  {summary.task_count} in memory, newest first"]
    lines += _table(TASK_COLUMNS, (task_cells(model.task_row(uuid)) for uuid in uuids), width)
    if queues is not None:  # --queues
        lines += ["", *queue_snapshot.text_lines(queues)]
    return "\n".join(formatting.fit(line, width).rstrip() for line in lines) + "\n"


def snapshot(model, status, iteration: int = 1, clock=time.time, schedule=None, queues=None,
             alerts=()) -> dict:
    """One snapshot as data: what the text shows, unabbreviated, JSON-ready.

    ``queues`` (``--queues``): what :class:`~celerytop.modes.queue_snapshot.QueueSnapshots` measured
    for this snapshot, added as ``queues`` and ``queues_round_seconds``.
    """
    model.sample_event_rate()
    summary = model.summary()
    tasks = []
    for uuid in model.query():
        row = model.task_row(uuid)
        if row is None:
            continue
        tasks.append({
            "uuid": row.uuid, "name": row.name, "state": row.state, "worker": row.worker,
            "received": row.received, "started": row.started, "runtime": row.runtime,
            "args": row.args, "kwargs": row.kwargs, "flag": row.flag,
        })
    workers = [{
        "hostname": row.hostname, "online": row.online, "active": row.active, "processed": row.processed,
        "loadavg": list(row.loadavg) if row.loadavg else None, "heartbeat_age": row.heartbeat_age,
        "software": row.software, "history": worker_history(model, row.hostname),
    } for row in model.worker_rows()]
    document = {
        "iteration": iteration,
        "time": clock(),
        "connection": {"state": status.state, "error": status.error, "lag": round(status.lag, 3),
                       "messages_queued": status.messages_queued, "bytes_queued": status.bytes_queued,
                       "drops": status.drops, "last_drop": status.last_drop},
        "counts": {
            "workers_online": summary.workers_online,
            "workers_total": summary.workers_total,
            "tasks": summary.task_count,
            "states": dict(summary.state_counts),
            "events": summary.events_total,
            "events_per_second": round(summary.events_per_second, 3),
            "unknown_events": summary.unknown_events,
            "malformed_events": summary.malformed_events,
            "evicted": summary.evicted,
            "missed_task_events": summary.missed_task_events,
            "lost_tasks": summary.lost_tasks,
        },
        "workers": workers,
        "tasks": tasks,
        "failure_groups": failure_group_records(model),
        "types": type_records(model),
        "rate_history": rate_history(model),
        **stuck_records(model),
        "beat": beat_records(model, schedule),
        "alerts": [alert.record() for alert in alerts],
    }
    if queues is not None:
        document["queues"], document["queues_round_seconds"] = queues["queues"], queues["round_seconds"]
    return document


def stuck_records(model) -> dict:
    """{"lost": [...], "stuck": [...], "stuck_rules": ...}: the ``:stuck`` view's rows (model/stuckness.py), seconds."""
    flagged = flagged_tasks(model)
    return {"lost": [f.as_dict() for f in flagged if f.kind == LOST],
            "stuck": [f.as_dict() for f in flagged if f.kind != LOST],
            "stuck_rules": {"after": model.stuck_rules.after, "multiple": model.stuck_rules.multiple}}


def beat_records(model, schedule) -> dict:
    """The periodic tasks view's rows (model/beat.py), and what it cannot see ("note"); times in epoch seconds."""
    if schedule is None:
        return {"note": beat.NO_APP_NOTE, "entries": []}
    return {"note": schedule.note, "entries": [row._asdict() for row in beat.beat_rows(schedule, model)]}


def type_records(model) -> list:
    """The task types view's figures (model/typestats.py): seconds, null where unknown; names as sent.

    ``history``: what the view's sparkline draws, tasks finished per 10 s, oldest first, the last bucket now."""
    window = model.type_stats.window
    history = model.type_history()
    blank = [0] * typehistory.SHOWN
    return [dict(row._asdict(), window=window, failure_pct=_rounded(row.failure_pct),
                 rate_per_min=_rounded(row.rate_per_min),
                 history={"bucket_seconds": typehistory.BUCKET_SECONDS, "finished": history.get(row.name, blank)})
            for row in model.type_rows()]


def worker_history(model, hostname: str):
    """Worker detail's history lines: processed and peak 1-minute load per 10 s, oldest first; null: none yet."""
    history = model.worker_history(hostname)
    if history is None:
        return None
    return {"bucket_seconds": workerhistory.BUCKET_SECONDS, "processed": history[0], "load": history[1]}


def failure_group_records(model) -> list:
    """The failures view's groups; ``history``: failures per minute over the last hour, oldest first."""
    history = model.failure_history()
    blank = [0] * failhistory.SHOWN
    return [dict({key: group[key] for key in FAILURE_GROUP_KEYS},
                 history={"bucket_seconds": failhistory.BUCKET_SECONDS, "failed": history.get(group["id"], blank)})
            for group in model.failure_groups()]


def _rounded(value):
    return None if value is None else round(value, 3)


def render_json(model, status, iteration: int = 1, clock=time.time, schedule=None, queues=None,
                alerts=()) -> str:
    """One line: ``json.dumps`` escapes every control character, so no escape code gets through."""
    return json.dumps(snapshot(model, status, iteration, clock, schedule, queues, alerts), default=repr,
                      ensure_ascii=True) + "\n"


def output_width(requested: int | None, out=sys.stdout) -> int:
    """--width, else the terminal's, else 120 (piped)."""
    if requested:
        return requested
    try:
        if out.isatty():
            return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    except (AttributeError, ValueError, OSError):
        pass
    return DEFAULT_WIDTH


class Printer:
    """Writes one snapshot per iteration, as text or JSON, with the alerts firing then (``alerts``, an
    AlertEngine, evaluated at each snapshot on the model's clock; the queue rules see depths only with
    ``--queues``, one sample per snapshot)."""

    def __init__(self, model, fmt: str, width: int, app_name: str, broker: str, out=sys.stdout, mode: str = "",
                 alerts=None, stop_on_alert: bool = False, schedule=None, queues=None, queue_window: float = 600.0):
        self.model, self.fmt, self.width, self.queues = model, fmt, width, queues
        self.app_name, self.broker, self.out, self.mode = app_name, broker, out, mode
        self.alerts = alerts
        self.schedule = schedule  # model/beat.py's BeatPlan, for the missed-runs rule
        self.stop_on_alert = stop_on_alert
        self.alerted = False  # an alert fired in a snapshot printed
        # Each queue's depths for the queue rules, as long as 'growing' needs (launch.py: its span and two snapshots)
        self._queue_history = DepthHistory(queue_window)
        self.printed = 0

    @property
    def done(self) -> bool:
        """--exit-on-alert and one fired: no more snapshots."""
        return self.stop_on_alert and self.alerted

    def _firing(self, measured) -> list:
        if self.alerts is None:
            return []
        now = self.model.now()
        queues = None
        if measured is not None:  # --queues: the depths feed the queue rules, each snapshot one more sample
            history = self._queue_history
            for queue in measured["queues"]:
                if queue["messages"] is not None:
                    history.add(queue["name"], now, queue["messages"])
            queues = {queue["name"]: history.samples(queue["name"]) for queue in measured["queues"]}  # as the screen
        self.alerts.evaluate(gather(self.model, now, queues, schedule=self.schedule))
        firing = self.alerts.firing_alerts()
        self.alerted = self.alerted or bool(firing)
        return firing

    def __call__(self, status) -> None:
        self.printed += 1
        measured = self.queues() if self.queues is not None else None  # one broker round per snapshot
        firing = self._firing(measured)
        if self.fmt == "json":
            self.out.write(render_json(self.model, status, self.printed, schedule=self.schedule,
                                       queues=measured, alerts=firing))
        else:
            if self.printed > 1:
                self.out.write("\n")
            notices = [Alarm(alert_line(alert)) for alert in firing]
            self.out.write(render_text(self.model, status, self.width, self.app_name, self.broker, notices=notices,
                                       mode=self.mode, queues=measured))
        self.out.flush()


def run_batch(app, model, printer: Printer, *, iterations: int, delay: float, handler, seed=None,
              routing_keys=ALL_EVENTS) -> None:
    """Live: connect (or fail in one line), seed, then print every ``delay`` seconds."""
    source, status = start_live(app, handler, routing_keys=routing_keys)
    try:
        if seed is not None:
            seed()
        for _ in range(iterations):
            time.sleep(delay)
            printer(status.snapshot())
            if printer.done:
                break
    finally:
        source.stop(timeout=1.5)


def run_batch_replay(path: str, handler, printer: Printer, *, iterations: int, delay: float,
                     speed: float, clock: ReplayClock) -> None:
    """From a recording: at ``--speed 0`` all of it first, then one snapshot; else
    snapshots every ``delay`` seconds of replay until the iterations or the recording end.
    ``clock`` (the model's) follows the replay."""
    status = capture.ConnectionStatus()
    status.replaying()
    if speed == 0:
        replay_all(path, clock.follow(handler))
        printer(status.snapshot())
        return
    player = Replayer(path, handler, speed=speed, clock=clock)
    player.start()
    try:
        for _ in range(iterations):
            player.join(delay)
            printer(status.snapshot())
            if not player.is_alive() or printer.done:
                break
    finally:
        player.stop()
    if player.error:
        raise RecordingError(player.error)


def rate_history(model) -> dict:
    """Tasks succeeded and failed per bucket over the last hour, oldest first, the last bucket holding now."""
    succeeded, failed = model.rate_series()
    return {"bucket_seconds": BUCKET_SECONDS, "succeeded": succeeded, "failed": failed}


def alert_line(alert) -> str:
    """'ALERT worker offline: w1@host · last heard 30 s ago (since 14:03:07)': one firing alert as text."""
    return (f"ALERT {alert.title}: {alert.subject} · {alert.message} "
            f"(since {formatting.format_clock(alert.fired_at)})")
