"""Batch snapshots (``--batch``): the header, the workers table and the tasks
table as plain text, or the same data as one JSON document, for scripts,
logs and health checks.

Built from the same model snapshots, columns and cells as the screen, with
every style dropped: nothing here writes an escape code, and every value a
worker sent is sanitised like on screen.
"""

from __future__ import annotations

import json
import time

from celerytop.present import formatting
from celerytop.ui.widgets import table
from celerytop.ui.widgets.header import header_lines, ignored_events_note
from celerytop.ui.widgets.panes import TASK_COLUMNS, WORKER_COLUMNS, task_cells, worker_cells

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


def render_text(model, status, width: int, app_name: str = "", broker: str = "", notices=(), mode: str = "") -> str:
    """One snapshot as the screen shows it, every line at most ``width`` columns."""
    model.sample_event_rate()
    summary = model.summary()
    notices = (*notices, ignored_events_note(summary)) if ignored_events_note(summary) else notices
    lines = [plain(markup) for markup in header_lines(formatting.sanitize(app_name), formatting.mask_url(broker),
                                                       summary, status, notices, mode)]
    workers = model.worker_rows()
    lines += ["", f" Workers  {summary.workers_online} online / {summary.workers_total} known"]
    lines += _table(WORKER_COLUMNS, (worker_cells(row) for row in workers), width)
    uuids = model.query()
    lines += ["", f" Tasks  {summary.task_count} in memory, newest first"]
    lines += _table(TASK_COLUMNS, (task_cells(model.task_row(uuid)) for uuid in uuids), width)
    return "\n".join(formatting.fit(line, width).rstrip() for line in lines) + "\n"


def snapshot(model, status, iteration: int = 1, clock=time.time) -> dict:
    """One snapshot as data: what the text shows, unabbreviated, JSON-ready."""
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
            "args": row.args, "kwargs": row.kwargs,
        })
    workers = [{
        "hostname": row.hostname, "online": row.online, "active": row.active, "processed": row.processed,
        "loadavg": list(row.loadavg) if row.loadavg else None, "heartbeat_age": row.heartbeat_age,
        "software": row.software,
    } for row in model.worker_rows()]
    return {
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
        },
        "workers": workers,
        "tasks": tasks,
    }


def render_json(model, status, iteration: int = 1, clock=time.time) -> str:
    """One line: ``json.dumps`` escapes every control character, so no escape code gets through."""
    return json.dumps(snapshot(model, status, iteration, clock), default=repr, ensure_ascii=True) + "\n"
