"""The status line: key hints for the focused pane, a message, the position."""

from __future__ import annotations

import urwid


class StatusBar(urwid.WidgetWrap):
    def __init__(self):
        self._left = urwid.Text("", wrap="clip")
        self._right = urwid.Text("", align="right", wrap="clip")
        columns = urwid.Columns([self._left, ("pack", self._right)], dividechars=1)
        super().__init__(urwid.AttrMap(columns, "status"))

    def message_room(self, cols: int) -> int:
        """Columns left for a message beside the position shown on the right."""
        position = self._right.text
        return max(20, cols - (len(position) + 1 if position else 0) - 2)

    def update(self, hints, position: str = "", message: str = "") -> None:
        markup = []
        for key, hint in hints:
            markup += [("status.key", f" {key}"), ("status", f" {hint} ")]
        if message:
            markup = [("status.message", f" {message} ")] + markup
        self._left.set_text(markup or " ")
        self._right.set_text(("status", f" {position} ") if position else "")
