"""A one-line prompt in the footer (``/`` filter): Enter submits, Esc cancels, Ctrl-U clears."""

from __future__ import annotations

import urwid


class Prompt(urwid.WidgetWrap):
    def __init__(self, caption: str, text: str, on_submit, on_cancel):
        self.edit = urwid.Edit(("prompt.caption", caption), text)
        self.edit.set_edit_pos(len(text))
        self._on_submit = on_submit
        self._on_cancel = on_cancel
        super().__init__(urwid.AttrMap(self.edit, "prompt"))

    def keypress(self, size, key):
        if key == "enter":
            self._on_submit(self.edit.edit_text)
            return None
        if key == "esc":
            self._on_cancel()
            return None
        if key == "ctrl u":  # as in a shell: clear the line
            self.edit.set_edit_text("")
            return None
        super().keypress(size, key)
        return None  # every other key belongs to the prompt while it is open
