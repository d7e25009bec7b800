"""The workers and tasks panes: a title bar, a column header and a lazy list."""

from __future__ import annotations

import urwid

from celerytop.present import formatting
from celerytop.ui import palettes
from celerytop.ui.widgets import table
from celerytop.ui.widgets.lazylist import LazyWalker, PaneListBox, Row, ScrollCommands

WORKER_COLUMNS = (
    table.Column("", 1),  # mark
    table.Column("HOSTNAME", 12, weight=3, maximum=48),
    table.Column("STATUS", 15),  # "offline 59m ago"
    table.Column("ACTIVE", 6, align="right"),
    table.Column("PROCESSED", 9, align="right"),
    table.Column("LOAD", 14),
    table.Column("HEARTBEAT", 9, align="right"),
    table.Column("VERSION", 8, weight=1, maximum=24),
)

TASK_COLUMNS = (
    table.Column("", 1),  # mark
    table.Column("UUID", 8),
    table.Column("NAME", 10, weight=4, maximum=48, dotted=True),
    table.Column("STATE", 8),
    table.Column("WORKER", 8, weight=2, maximum=36),
    table.Column("RECEIVED", 9),  # room for the sort arrow
    table.Column("RUNTIME", 8, align="right"),
    table.Column("ARGS", 10, weight=5),
)

#: Every style maps to its focused twin, so a selected row keeps its colours.
FOCUS_MAP = {name: palettes.focused(name) for name in palettes.style_names()}
FOCUS_MAP[None] = "row.focus"


class Pane(ScrollCommands, urwid.WidgetWrap):
    """A titled, column-headed list whose rows are built lazily at the current width."""

    def __init__(self, columns, make_cells, key=lambda item: item, empty_text=""):
        self.columns = columns
        self.widths = table.layout(columns, 80)
        self._make_cells = make_cells
        self._key = key
        self._measured: dict = {}  # key -> cells, measured this frame: the row built from them
        self._title = urwid.Text("", wrap="clip")
        self._title_map = urwid.AttrMap(self._title, "pane.title")
        self._head = urwid.Text("", wrap="clip")
        self._empty = urwid.Text(("row", empty_text), wrap="clip")
        self.walker = LazyWalker(self._make_row, key=key)
        self.listbox = PaneListBox(self.walker)
        self._cols = None
        self._focused = False
        self._sorted_by = None  # (column title, descending)
        self._body = urwid.Frame(self.listbox, header=urwid.Pile([self._title_map, self._head]))
        super().__init__(self._body)

    def _make_row(self, item):
        try:
            cells = self._measured.pop(self._key(item), None) or self._make_cells(item)
            markup = table.row_markup(cells, self.columns, self.widths)
        except Exception as exc:  # noqa: BLE001 - one broken row must not blank the screen
            markup = [("state.FAILURE", formatting.sanitize(f"<unprintable row: {exc!r}>"))]
        return urwid.AttrMap(Row(markup), None, FOCUS_MAP)

    def render(self, size, focus=False):
        widths = table.layout(self.columns, size[0], self._content_widths(size))
        if size[0] != self._cols or widths != self.widths:
            self._cols = size[0]
            self.widths = widths
            self._update_head()
            self.walker.invalidate()
        self._body.body = self.listbox if self.walker.items else urwid.Filler(self._empty, "top")
        try:
            return super().render(size, focus)
        finally:
            self._measured.clear()  # a row built later (a mark, a move) reads fresh cells

    def _content_widths(self, size) -> list:
        """Widths of what the rows around the cursor show: every row on screen (at
        most a screenful either side of the focus), never all of the 100,000 tasks."""
        rows = size[1] if len(size) > 1 else 50
        items = self.walker.items
        start = max(0, self.walker.focus - rows)
        self._measured.clear()
        for item in items[start:self.walker.focus + rows]:
            try:
                self._measured[self._key(item)] = self._make_cells(item)
            except Exception:  # noqa: BLE001 - _make_row shows the broken row
                continue
        return table.content_widths(self.columns, self._measured.values())

    def _update_head(self) -> None:
        self._head.set_text(table.header_markup(self.columns, self.widths, self._sorted_by))

    def set_sorted_by(self, title: str, descending: bool) -> None:
        if self._sorted_by != (title, descending):
            self._sorted_by = (title, descending)
            self._update_head()

    def set_empty_text(self, text: str) -> None:
        self._empty.set_text(("row", text))

    def set_title(self, text: str) -> None:
        self._title.set_text(text)

    def set_focused(self, focused: bool) -> None:
        self._focused = focused
        self._title_map.set_attr_map({None: "pane.title.focus" if focused else "pane.title"})

    def set_items(self, items, follow_top: bool = False) -> None:
        self.walker.replace(items, follow_top=follow_top)


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


def task_cells(row, marked=False):
    if row is None:  # evicted between the snapshot and the render
        return [("row", "")] * len(TASK_COLUMNS)
    return [
        ("mark", "*") if marked else ("row", " "),
        ("row", formatting.short_uuid(row.uuid)),
        ("row", formatting.sanitize(row.name) or "?"),
        (palettes.state_style(row.state), formatting.sanitize(row.state)),
        ("status.warn", "worker offline: " + formatting.sanitize(row.worker)) if row.worker_offline
        else ("row", formatting.sanitize(row.worker)),
        ("row", formatting.format_clock(row.received)),
        ("row", formatting.format_duration(row.runtime)),
        ("row", formatting.args_summary(row.args, row.kwargs)),
    ]
