"""A one-key confirmation: y sends, any other key (Esc, n, Enter…) cancels.

Cancel is the default on purpose: a stray Enter must never shut a worker down.
"""

from __future__ import annotations

import urwid

from celerytop.present import formatting


class ConfirmDialog(urwid.WidgetWrap):
    def __init__(self, title: str, lines, on_yes, on_cancel):
        self._on_yes = on_yes
        self._on_cancel = on_cancel
        body = [urwid.Text(("help.section", formatting.sanitize(title)))]
        body += [urwid.Text(formatting.sanitize(line)) for line in lines]
        body += [urwid.Divider(), urwid.Text([("help.key", "y"), " send     ",
                                              ("help.key", "any other key"), " cancel (nothing is sent)"])]
        self._pile = urwid.Pile(body)
        super().__init__(urwid.AttrMap(urwid.LineBox(urwid.Filler(self._pile, "top")), "help"))

    def height_for(self, cols: int) -> int:
        """Rows it needs at ``cols`` wide, borders included: long lines wrap, and
        the last line (what y does) must never be cut off."""
        return self._pile.rows((max(1, cols - 2),)) + 2

    def selectable(self):
        return True

    def keypress(self, size, key):
        if key in ("y", "Y"):
            self._on_yes()
        else:
            self._on_cancel()
        return None
