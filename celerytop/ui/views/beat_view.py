"""The periodic tasks view (``B``, ``:beat``): each beat_schedule entry with its schedule, next and last run, missed runs.

The rows are model/beat.py's, the same batch JSON prints; missed runs are
red.  Rows sort with ``<`` ``>`` ``I``, filter with ``/`` (entry or task
name: a glob, else a substring), and Enter closes the view and filters the
tasks pane to the entry's task.  Without ``-A``, or with a scheduler that
keeps its schedule elsewhere, the view says what it cannot see.
"""

from __future__ import annotations

from celerytop.model.beat import beat_rows
from celerytop.present import formatting
from celerytop.present.table import Column
from celerytop.ui.views.table_view import TableView
from celerytop.ui.views.types_view import name_filter, none_smallest
from celerytop.ui.widgets.lazylist import Row
from celerytop.ui.widgets.panes import ItemRow

#: (column, the BeatRow field it shows and sorts by).
BEAT_COLUMNS = (
    (Column("ENTRY", 10, weight=2, maximum=40, dotted=True), "name"),
    (Column("TASK", 10, weight=3, maximum=50, dotted=True), "task"),
    (Column("SCHEDULE", 12, weight=3, maximum=60), "schedule"),
    (Column("NEXT", 9), "next_run"),
    (Column("LAST", 9), "last_run"),
    (Column("STATE", 9), "last_state"),
    (Column("RUNS", 5, align="right"), "runs_seen"),
    (Column("MISSED", 7, align="right"), "missed"),
    (Column("LASTMISS", 9), "last_missed"),
)
COLUMNS = tuple(column for column, _field in BEAT_COLUMNS)
FIELDS = tuple(field for _column, field in BEAT_COLUMNS)
_TIMES = frozenset(("next_run", "last_run", "last_missed"))
_TEXTS = frozenset(("name", "task", "schedule", "last_state"))


def beat_cells(row) -> list:
    """(style, text) per column of one BeatRow; missed runs red."""
    cells = []
    for field in FIELDS:
        value = getattr(row, field)
        if field in _TIMES:
            text = formatting.format_clock(value)
        elif field in _TEXTS:
            text = formatting.sanitize(value) if value else "-"
        else:
            text = str(value)
        style = "row"
        if field in ("missed", "last_missed") and row.missed:
            style = "state.FAILURE"
        elif field == "last_state" and value:
            style = f"state.{value}"
        elif field == "next_run" and row.problem:
            text = "?"
        cells.append((style, text))
    return cells


def _sort_key(field: str):
    if field in _TEXTS:
        return lambda row: (getattr(row, field) or "").lower()
    return none_smallest(field)


class BeatView(TableView):
    context = "beat"
    columns = BEAT_COLUMNS

    def __init__(self, model, schedule, ascii: bool = False):
        self.model = model
        self.ascii = ascii  # the sort arrow in ASCII
        self.schedule = schedule  # model/beat.py's BeatPlan
        super().__init__(" Periodic tasks")

    def natural_descending(self, index: int) -> bool:
        return FIELDS[index] in ("runs_seen", "missed", "last_missed", "last_run")

    def refresh(self) -> None:
        wanted = name_filter(self.filter_text)
        rows = [row for row in beat_rows(self.schedule, self.model) if wanted(row.name) or wanted(row.task)]
        rows.sort(key=_sort_key(FIELDS[self.sort]), reverse=self.descending)
        missed = sum(1 for row in rows if row.missed)
        title = f" Periodic tasks  {len(rows)} shown"
        if missed:
            title += f" · {missed} with missed runs"
        if self.filter_text:
            title += f" · / {formatting.sanitize(self.filter_text)}"
        self._title.set_text(("pane.title.focus", title))
        lines: list = []
        if self.schedule.note:
            lines.append(Row(("status.warn", f"  {formatting.sanitize(self.schedule.note)}")))
        if rows or not self.schedule.note:
            lines += self.table_lines(COLUMNS, rows, [beat_cells(row) for row in rows], below=lambda row: [
                Row(("status.warn", f"    {formatting.sanitize(row.problem)}"))] if row.problem else [])
        if not rows and self.schedule.entries:
            lines.append(Row(("row", "  No entry matches.")))
        lines.append(Row(("row", "  A run: the entry's task seen sent or received (its args, where events carry them). "
                                 "Missed: due longer ago than 10 % of the period (5 s to 5 min), no run seen.")))
        lines.append(Row(("row", "  < > sort, I inverts, / filters, Enter lists the task's tasks")))
        self.set_lines(lines)
        first = next((i for i, line in enumerate(self.walker) if isinstance(line, ItemRow)), None)
        if first is not None and self.walker.focus < first:
            self.walker.set_focus(first)
