"""The status line: key hints for the focused pane, a message, the position."""

from __future__ import annotations

import urwid

from celerytop.present.formatting import display_width


class StatusBar(urwid.WidgetWrap):
    def __init__(self):
        self._left = urwid.Text("", wrap="clip")
        self._right = urwid.Text("", align="right", wrap="clip")
        self._message = ""
        self._position = ""
        columns = urwid.Columns([self._left, ("pack", self._right)], dividechars=1)
        super().__init__(urwid.AttrMap(columns, "status"))

    @staticmethod
    def message_room(cols: int) -> int:
        """Columns a message may take: the whole line (the position gives way to it)."""
        return max(20, cols - 2)

    def update(self, hints, position: str = "", message: str = "") -> None:
        markup = []
        for key, hint in hints:
            markup += [("status.key", f" {key}"), ("status", f" {hint} ")]
        if message:
            markup = [("status.message", f" {message} ")] + markup
        self._message, self._position = message, position
        self._left.set_text(markup or " ")
        self._right.set_text(("status", f" {position} ") if position else "")

    def render(self, size, focus=False):
        # a message too long to share the line with the position hides the position while shown
        crowded = bool(self._message) and display_width(self._message) + len(self._position) + 5 > size[0]
        self._right.set_text(("status", f" {self._position} ") if self._position and not crowded else "")
        return super().render(size, focus)
