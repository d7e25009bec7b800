"""The columns of the workers and tasks tables and the cells of each row, as
(style, text) pairs: what the screen's panes and --batch both show."""

from __future__ import annotations

from celerytop.model.stuckness import LOST, STUCK
from celerytop.present import formatting
from celerytop.present.palettes import state_style
from celerytop.present.table import Column

WORKER_COLUMNS = (
    Column("", 1),  # mark
    Column("HOSTNAME", 12, weight=3, maximum=48),
    Column("STATUS", 15),  # "offline 59m ago"
    Column("ACTIVE", 6, align="right"),
    Column("PROCESSED", 9, align="right"),
    Column("LOAD", 14),
    Column("HEARTBEAT", 9, align="right"),
    Column("VERSION", 8, weight=1, maximum=24),
)

TASK_COLUMNS = (
    Column("", 1),  # mark
    Column("UUID", 8),
    Column("NAME", 10, weight=4, maximum=48, dotted=True),
    Column("STATE", 8),
    Column("WORKER", 8, weight=2, maximum=36),
    Column("RECEIVED", 9),  # room for the sort arrow
    Column("RUNTIME", 8, align="right"),
    Column("ARGS", 10, weight=5),
)


class FoldedWorkers:
    """The line standing for workers offline longer than the fold limit (``o`` shows them)."""

    hostname = None  # no worker: nothing to mark, inspect or command

    def __init__(self, count: int, expanded: bool):
        self.count = count
        self.expanded = expanded


def fold_offline(rows, after: float | None, expanded: bool) -> list:
    """``rows`` with the workers offline for more than ``after`` seconds folded into one last line.

    Expanded, they are listed and the last line says how to fold them again.
    """
    if after is None:
        return list(rows)
    old = [row for row in rows if not row.online and row.heartbeat_age is not None and row.heartbeat_age > after]
    if not old:
        return list(rows)
    if expanded:
        return [*rows, FoldedWorkers(len(old), expanded=True)]
    return [row for row in rows if row not in old] + [FoldedWorkers(len(old), expanded=False)]


def coarse_age(seconds: float) -> str:
    """How long ago, in one unit: 45s, 3m, 2h, 5d."""
    seconds = formatting.as_seconds(seconds)
    if seconds is None or abs(seconds) > formatting.MAX_DURATION:
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def worker_status(row) -> str:
    if row.online:
        return "online"
    return "offline" if row.heartbeat_age is None else f"offline {coarse_age(row.heartbeat_age)} ago"


def worker_cells(row, marked=False):
    if isinstance(row, FoldedWorkers):
        return _folded_cells(row)
    online = ("worker.online", "online") if row.online else ("worker.offline", worker_status(row))
    return [
        ("mark", "*") if marked else ("row", " "),
        ("row", formatting.sanitize(row.hostname)),
        online,
        ("row", "-" if row.active is None else formatting.sanitize(row.active)),
        ("row", "-" if row.processed is None else formatting.sanitize(row.processed)),
        ("row", formatting.format_loadavg(row.loadavg) if row.loadavg else "-"),
        ("row", formatting.format_age(row.heartbeat_age)),
        ("row", formatting.sanitize(row.software) or "-"),
    ]


def _folded_cells(fold: FoldedWorkers) -> list:
    if fold.expanded:
        label, hint = f"−{fold.count} offline", "o folds them"
    else:
        label, hint = f"+{fold.count} offline", "o lists them"
    cells = [("row", " "), ("worker.offline", label), ("row", hint)]
    return cells + [("row", "")] * (len(WORKER_COLUMNS) - len(cells))


#: The state cell of a lost or stuck task (model/stuckness.py): the word and its colour in place of the state.
FLAG_STYLES = {LOST: "task.lost", STUCK: "task.stuck"}


def state_cell(row) -> tuple:
    """(style, text) of a task's STATE cell: LOST in red or STUCK in yellow over the state they stand in."""
    style = FLAG_STYLES.get(row.flag)
    if style is not None:
        return style, row.flag
    return state_style(row.state), formatting.sanitize(row.state)


def task_cells(row, marked=False):
    if row is None:  # evicted between the snapshot and the render
        return [("row", "")] * len(TASK_COLUMNS)
    return [
        ("mark", "*") if marked else ("row", " "),
        ("row", formatting.short_uuid(row.uuid)),
        ("row", formatting.sanitize(row.name) or "?"),
        state_cell(row),
        ("status.warn", "worker offline: " + formatting.sanitize(row.worker)) if row.worker_offline
        else ("row", formatting.sanitize(row.worker)),
        ("row", formatting.format_clock(row.received)),
        ("row", formatting.format_duration(row.runtime)),
        ("row", formatting.args_summary(row.args, row.kwargs)),
    ]
