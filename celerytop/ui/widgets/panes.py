"""The workers and tasks panes: a title bar, a column header and a lazy list."""

from __future__ import annotations

import urwid

from celerytop.present import formatting, palettes, table
from celerytop.ui.widgets.lazylist import LazyWalker, PaneListBox, Row, ScrollCommands

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
        self._sorted_by = None  # (column title, descending)
        self.ascii = False  # the sort arrow in ASCII (--ascii)
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
        self._head.set_text(table.header_markup(self.columns, self.widths, self._sorted_by, ascii=self.ascii))

    def set_sorted_by(self, title: str, descending: bool) -> None:
        if self._sorted_by != (title, descending):
            self._sorted_by = (title, descending)
            self._update_head()

    def set_empty_text(self, text: str) -> None:
        self._empty.set_text(("row", text))

    def set_title(self, text: str) -> None:
        self._title.set_text(text)

    def set_focused(self, focused: bool) -> None:
        self._title_map.set_attr_map({None: "pane.title.focus" if focused else "pane.title"})

    def set_items(self, items, follow_top: bool = False) -> None:
        self.walker.replace(items, follow_top=follow_top)


class ItemRow(urwid.AttrMap):
    """A table row in a view that carries the item it stands for (a queue's name, a failure
    group, a task type's name), highlighted under the cursor: what a key acts on."""

    def __init__(self, markup, item):
        super().__init__(Row(markup), None, FOCUS_MAP)
        self.item = item
