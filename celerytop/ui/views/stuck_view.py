"""The stuck and lost tasks view (``S``, ``:stuck``): one row per task lost with its worker or stuck past its threshold.

The rows are the model's (model/stuckness.py), the same batch JSON prints,
judged on the model's clock (the recording's during ``--replay``); they sort
with ``<`` ``>`` ``I``, filter with ``/`` (a substring of the kind, name,
uuid, worker or reason), Enter closes the view and filters the tasks pane to
the row's kind with the cursor on its task, and ``r`` reconciles
(ui/controllers/stuck.py does both).
"""

from __future__ import annotations

from celerytop.model.stuckness import LOST, flagged_tasks
from celerytop.present import formatting
from celerytop.present.columns import FLAG_STYLES
from celerytop.present.table import Column
from celerytop.ui.views.table_view import TableView
from celerytop.ui.widgets.lazylist import Row

#: (column, how a Flagged row sorts by it, whether it starts descending).
STUCK_COLUMNS = (
    (Column("KIND", 5), lambda f: (f.kind != LOST, -(f.duration or 0.0)), False),
    (Column("TASK", 12, weight=4, maximum=60, dotted=True), lambda f: f.name.lower(), False),
    (Column("UUID", 8), lambda f: f.uuid, False),
    (Column("WORKER", 8, weight=2, maximum=36), lambda f: f.worker.lower(), False),
    (Column("STATE", 8), lambda f: f.state, False),
    (Column("SINCE", 8), lambda f: f.since or 0.0, True),
    (Column("FOR", 8, align="right"), lambda f: f.duration or 0.0, True),
    (Column("THRESHOLD", 10, weight=1, maximum=40), lambda f: (f.threshold or 0.0, f.reason), True),
)
COLUMNS = tuple(column for column, _key, _down in STUCK_COLUMNS)


def stuck_cells(flagged) -> list:
    """(style, text) per column of one Flagged row."""
    if flagged.threshold is None:
        threshold = flagged.reason  # lost: why its worker is taken for dead
    else:
        threshold = f"{formatting.format_duration(flagged.threshold)} ({flagged.reason})"
    return [
        (FLAG_STYLES[flagged.kind], flagged.kind),  # LOST or STUCK: styled as in the tasks pane
        ("row", formatting.sanitize(flagged.name) or "?"),
        ("row", formatting.short_uuid(flagged.uuid)),
        ("row", formatting.sanitize(flagged.worker) or "-"),
        ("row", formatting.sanitize(flagged.state)),
        ("row", formatting.format_clock(flagged.since)),
        ("row", formatting.format_duration(flagged.duration)),
        ("row", formatting.sanitize(threshold)),
    ]


def matches(flagged, needle: str) -> bool:
    """The view's ``/`` filter: a substring of the kind, name, uuid, worker, state or reason (any case)."""
    text = "\0".join((flagged.kind, flagged.name, flagged.uuid, flagged.worker, flagged.state, flagged.reason))
    return needle in text.lower()


class StuckView(TableView):
    context = "stuck"
    columns = STUCK_COLUMNS

    def __init__(self, model, ascii: bool = False):
        self.model = model
        self.ascii = ascii  # the sort arrow in ASCII
        super().__init__(" Stuck and lost tasks", sort=6, descending=True)  # FOR: the longest first

    def natural_descending(self, index: int) -> bool:
        return STUCK_COLUMNS[index][2]

    def selected_task(self):
        flagged = self.selected_item()
        return flagged.uuid if flagged is not None else None

    def refresh(self) -> None:
        every = flagged_tasks(self.model)
        needle = self.filter_text.lower()
        rows = [f for f in every if matches(f, needle)] if needle else every
        column, key, _down = STUCK_COLUMNS[self.sort]
        rows.sort(key=key, reverse=self.descending)
        lost = sum(1 for f in every if f.kind == LOST)
        rules = self.model.stuck_rules
        title = (f" Stuck and lost  {lost} lost · {len(every) - lost} stuck (STARTED past "
                 f"{rules.multiple:g}×p95 of its type, at least {formatting.format_duration(rules.after)})")
        if needle:
            title += f" · {len(rows)} match '{formatting.sanitize(self.filter_text)}'"
        title += f" · by {column.title.lower()} {'descending' if self.descending else 'ascending'}"
        self._title.set_text(("pane.title.focus", title))
        lines = self.table_lines(COLUMNS, rows, [stuck_cells(f) for f in rows])
        if not every:
            lines.append(Row(("row", "  No task is stuck or lost.")))
        elif not rows:
            lines.append(Row(("row", "  No task matches the filter (/ then Enter on nothing clears it).")))
        lines.append(Row(("row", "  LOST: RECEIVED or STARTED on a worker gone offline or silent; "
                                 "r reconciles (asks the workers and the result backend), Enter lists them")))
        self.set_lines(lines)
        if len(self.walker) > 1 and self.walker.focus == 0:
            self.walker.set_focus(1)
