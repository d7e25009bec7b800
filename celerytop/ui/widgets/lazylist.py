"""A list that builds row widgets only when urwid asks for them.

The tasks pane may hold 100,000 tasks; only the rows on screen are ever
built, and built rows are cached until the next refresh (or a resize)
invalidates them.  Focus is kept by item key, so a row stays selected
while new tasks arrive above it.
"""

from __future__ import annotations

import urwid


class Row(urwid.Text):
    """One selectable line of text (selectable so the ListBox can focus it);
    ``wrap="space"`` makes it as many lines as its text needs."""

    _selectable = True

    def __init__(self, markup, wrap="clip"):
        super().__init__(markup, wrap=wrap)

    def keypress(self, size, key):
        return key


class LabelledRow(urwid.Widget):
    """A label and a text beside it, the text wrapped under itself: readable whole
    at any width.  The label column is ``label_width`` wide (the widest label of
    its section, say) but at most a third of the width; a longer label gets a
    line of its own with the text indented below it."""

    _selectable = True
    _sizing = frozenset(["flow"])
    INDENT = 2

    def __init__(self, label, text, label_width: int, label_style="help.key", text_style="help"):
        super().__init__()
        self._label = (label_style, label)
        self._text = text if isinstance(text, list) else (text_style, text)
        self._label_width = label_width
        self._layout_cache: dict = {}  # maxcol -> widget

    @property
    def text(self) -> str:
        """The label and the text, unwrapped (as urwid.Text.text)."""
        parts = self._text if isinstance(self._text, list) else [self._text]
        return self._label[1] + "  " + "".join(p if isinstance(p, str) else p[1] for p in parts)

    def _layout(self, maxcol: int):
        widget = self._layout_cache.get(maxcol)
        if widget is None:
            label = urwid.Text(self._label)
            room = max(4, (maxcol - self.INDENT) // 3)
            column = min(self._label_width, room)
            if len(self._label[1]) <= column:
                widget = urwid.Columns([(column, label), urwid.Text(self._text)], dividechars=2)
            else:
                widget = urwid.Pile([label, urwid.Padding(urwid.Text(self._text), left=self.INDENT * 2)])
            widget = self._layout_cache[maxcol] = urwid.Padding(widget, left=self.INDENT)
        return widget

    def rows(self, size, focus=False):
        return self._layout(size[0]).rows(size, focus)

    def render(self, size, focus=False):
        return self._layout(size[0]).render(size, focus)

    def keypress(self, size, key):
        return key


class LazyWalker(urwid.ListWalker):
    def __init__(self, make_row, key=lambda item: item):
        self._make_row = make_row
        self._key = key
        self.items: list = []
        self.focus = 0
        self._cache: dict = {}

    # urwid's ListWalker protocol
    def __getitem__(self, position):
        if not isinstance(position, int) or not 0 <= position < len(self.items):
            raise IndexError(position)
        widget = self._cache.get(position)
        if widget is None:
            widget = self._cache[position] = self._make_row(self.items[position])
        return widget

    def next_position(self, position):
        if position + 1 >= len(self.items):
            raise IndexError(position)
        return position + 1

    def prev_position(self, position):
        if position <= 0:
            raise IndexError(position)
        return position - 1

    def set_focus(self, position):
        if self.items:
            self.focus = max(0, min(int(position), len(self.items) - 1))
        else:
            self.focus = 0
        self._modified()

    def positions(self, reverse=False):
        if reverse:
            return range(len(self.items) - 1, -1, -1)
        return range(len(self.items))

    def __len__(self):
        return len(self.items)

    # ours
    @property
    def focus_item(self):
        if 0 <= self.focus < len(self.items):
            return self.items[self.focus]
        return None

    def replace(self, items, follow_top: bool = False):
        """Show ``items``; focus stays on the same item (or the top when following)."""
        old_key = None if follow_top or not self.items else self._key(self.focus_item)
        self.items = items
        self._cache.clear()
        if old_key is None:
            self.focus = 0
        else:
            self.focus = self._index_of(old_key, self.focus)
        self._modified()

    def _index_of(self, key, hint: int) -> int:
        items, keyfn = self.items, self._key
        # Usually the item moved down by the number of new rows: look near
        # the old position before scanning the whole list.
        for position in range(max(0, hint - 2), min(len(items), hint + 64)):
            if keyfn(items[position]) == key:
                return position
        for position, item in enumerate(items):
            if keyfn(item) == key:
                return position
        return max(0, min(hint, len(items) - 1))

    def invalidate(self):
        """Rebuild visible rows on the next render (new data, new widths)."""
        self._cache.clear()
        self._modified()


class PaneListBox(urwid.ListBox):
    """A ListBox that remembers its last size, so commands can page it."""

    last_size = (80, 10)

    def render(self, size, focus=False):
        self.last_size = size
        return super().render(size, focus)


class ScrollCommands:
    """The cursor commands (move, top, bottom) for a widget with a ``listbox``."""

    listbox: PaneListBox

    def move(self, key: str) -> None:
        if len(self.listbox.body):
            self.listbox.keypress(self.listbox.last_size, key)
            if key in ("page down", "page up"):
                whole_top_row(self.listbox, self.listbox.last_size)

    def to_top(self) -> None:
        if len(self.listbox.body):
            self.listbox.set_focus(0)
            self.listbox.set_focus_valign("top")

    def to_bottom(self) -> None:
        if len(self.listbox.body):
            self.listbox.set_focus(len(self.listbox.body) - 1)
            self.listbox.set_focus_valign("bottom")


def whole_top_row(listbox, size) -> None:
    """After a page key, start the page at the row cut at its top, so a wrapped row is read whole on one page.

    urwid pages by screen lines: a row of several lines (a wrapped help text) can straddle
    two pages and be read whole on neither.
    """
    middle, top, bottom = listbox.calculate_visible(size, focus=True)
    if middle is None or not top[0]:  # nothing cut: top[0] is how many lines of the top row are hidden
        return
    last = bottom[1][-1][1] if bottom[1] else middle[2]
    if not bottom[0] and last == len(listbox.body) - 1:  # the end is on screen: moving it off would undo the page
        return
    rows_above = top[1]
    _widget, position, _rows = rows_above[-1] if rows_above else middle[1:4]
    listbox.change_focus(size, position, offset_inset=0, coming_from="above")
