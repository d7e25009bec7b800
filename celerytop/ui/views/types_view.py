"""The task types view (``y``, ``:types``): one row per task name with its counts, rates and percentiles.

The figures are the model's (model/typestats.py), the same batch JSON prints,
and each row ends with a sparkline of the type's tasks finished per 10 s over
the last five minutes (model/typehistory.py; ASCII with ``--ascii``); rows
sort with ``<`` ``>`` ``I``, filter with ``/`` (a glob, else a substring), and
Enter closes the view and filters the tasks pane to the name.
"""

from __future__ import annotations

import fnmatch
import re
import shlex

from celerytop.model import typehistory
from celerytop.model.typestats import OTHER
from celerytop.present import formatting, table
from celerytop.present.sparkline import sparkline
from celerytop.present.table import Column
from celerytop.ui.views.table_view import TableView
from celerytop.ui.widgets.lazylist import Row

#: (column, the TypeRow field it shows and sorts by).
TYPE_COLUMNS = (
    (Column("NAME", 12, weight=4, maximum=60, dotted=True), "name"),
    (Column("FLIGHT", 7, align="right"), "in_flight"),
    (Column("OK", 7, align="right"), "succeeded"),
    (Column("FAILED", 7, align="right"), "failed"),
    (Column("RETRY", 7, align="right"), "retried"),
    (Column("REVOKED", 8, align="right"), "revoked"),
    (Column("FAIL%", 7, align="right"), "failure_pct"),
    (Column("/MIN", 7, align="right"), "rate_per_min"),
    (Column("P50", 7, align="right"), "runtime_p50"),
    (Column("P95", 7, align="right"), "runtime_p95"),
    (Column("P99", 7, align="right"), "runtime_p99"),
    (Column("MAX", 7, align="right"), "runtime_max"),
    (Column("WAIT50", 8, align="right"), "wait_p50"),
    (Column("WAIT95", 8, align="right"), "wait_p95"),
    (Column("LASTFAIL", 9), "last_failure"),
)
COLUMNS = tuple(column for column, _field in TYPE_COLUMNS)
#: Drawn after the sorting columns: finished per 10 s, the newest right (cut from the left when narrow).
#: It takes the width the other columns leave (a name is worth more than old buckets), at least its title's.
HISTORY_COLUMN = Column("FINISHED/10s", 12)
FIELDS = tuple(field for _column, field in TYPE_COLUMNS)
_DURATIONS = frozenset(("runtime_p50", "runtime_p95", "runtime_p99", "runtime_max", "wait_p50", "wait_p95"))


def type_cells(row) -> list:
    """(style, text) per column of one TypeRow."""
    cells = []
    for field in FIELDS:
        value = getattr(row, field)
        if field == "name":
            text = formatting.sanitize(value)
        elif field in _DURATIONS:
            text = formatting.format_duration(value)
        elif field == "failure_pct":
            text = "-" if value is None else f"{value:.1f}"
        elif field == "rate_per_min":
            text = f"{value:.1f}"
        elif field == "last_failure":
            text = formatting.format_clock(value)
        else:
            text = str(value)
        style = "row"
        if field in ("failed", "failure_pct", "last_failure") and value:
            style = "state.FAILURE"
        cells.append((style, text))
    return cells


def name_filter(text: str):
    """A test of a type's name: a glob when ``text`` has * ? [, else a substring; case-insensitive."""
    text = text.strip().lower()
    if not text:
        return lambda name: True
    if any(c in text for c in "*?["):
        pattern = re.compile(fnmatch.translate(text))
        return lambda name: pattern.match(name.lower()) is not None
    return lambda name: text in name.lower()


def none_smallest(field: str):
    """A sort key on a row's ``field``: unknown (None) sorts as the smallest, so it stays last when descending."""
    return lambda row: (getattr(row, field) is not None, getattr(row, field) or 0)


def tasks_filter_for(name: str, field: str = "name") -> str:
    """The tasks pane's filter (model/filtering.py) matching exactly the tasks whose ``field`` is ``name`` (a glob
    term, so * ? [ are escaped): their name, or e.g. their queue or worker."""
    literal = re.sub(r"([*?\[])", r"[\1]", name)
    return f"{field}:" + shlex.quote(literal)



class TypesView(TableView):
    context = "types"
    columns = TYPE_COLUMNS

    def __init__(self, model, ascii: bool = False):
        self.model = model
        self.ascii = ascii  # sparklines in ASCII
        super().__init__(" Task types")

    def natural_descending(self, index: int) -> bool:
        return index != 0  # numbers: the largest first

    def refresh(self) -> None:
        stats = self.model.type_stats
        wanted = name_filter(self.filter_text)
        rows = [row for row in self.model.type_rows() if wanted(row.name)]
        field = FIELDS[self.sort]
        key = none_smallest(field) if field != "name" else lambda row: row.name.lower()
        rows.sort(key=key, reverse=self.descending)
        title = (f" Task types  {len(rows)} shown · failure % and /min over the last "
                 f"{formatting.format_duration(stats.window)}")
        if self.filter_text:
            title += f" · / {formatting.sanitize(self.filter_text)}"
        self._title.set_text(("pane.title.focus", title))
        history = self.model.type_history()
        blank = [0] * typehistory.SHOWN
        cells = [type_cells(row) + [("row", sparkline(history.get(row.name, blank), self.ascii))] for row in rows]
        columns = COLUMNS + (HISTORY_COLUMN,)
        total = max(20, self._width - 2)
        widths = table.layout(COLUMNS, total - HISTORY_COLUMN.width - table.GAP,
                              table.content_widths(COLUMNS, [row_cells[:-1] for row_cells in cells]))
        left = total - sum(widths) - table.GAP * len(COLUMNS)
        widths.append(max(HISTORY_COLUMN.width, min(typehistory.SHOWN, left)))
        for row_cells in cells:
            style, spark = row_cells[-1]
            row_cells[-1] = (style, spark[len(spark) - widths[-1]:])  # the newest buckets when cut
        lines = self.table_lines(columns, [row.name for row in rows], cells, widths)
        if not rows:
            lines.append(Row(("row", "  No task types seen yet." if not self.filter_text else "  No type matches.")))
        if stats.folded_names:
            lines.append(Row(("status.warn", f"  Past {stats.max_types} names, the rest count in {OTHER}.")))
        lines.append(Row(("row", "  Runtime and wait percentiles within 1 % (a DDSketch per type); the sparkline: "
                                 "tasks finished per 10 s, newest right")))
        lines.append(Row(("row", "  < > sort, I inverts, / filters, Enter lists the type's tasks")))
        self.set_lines(lines)
        if len(self.walker) > 1 and self.walker.focus == 0:
            self.walker.set_focus(1)
