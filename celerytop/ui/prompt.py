"""A one-line prompt in the footer (``/`` filter): Enter submits, Esc cancels, Ctrl-U clears."""

from __future__ import annotations

import urwid


class Prompt(urwid.WidgetWrap):
    def __init__(self, caption: str, text: str, on_submit, on_cancel, completions=()):
        self.completions = tuple(completions)
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
        if key == "tab" and self.completions:
            self.complete()
            return None
        super().keypress(size, key)
        return None  # every other key belongs to the prompt while it is open

    def complete(self) -> None:
        """Tab: the next completion that starts with what is typed (cycling)."""
        typed = self.edit.edit_text
        current = typed if typed in self.completions else None
        prefix = getattr(self, "_prefix", "") if current is not None else typed
        matches = [c for c in self.completions if c.startswith(prefix)]
        if not matches:
            return
        index = (matches.index(current) + 1) % len(matches) if current in matches else 0
        self._prefix = prefix
        self.edit.set_edit_text(matches[index])
        self.edit.set_edit_pos(len(matches[index]))
