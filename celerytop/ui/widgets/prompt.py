"""A one-line prompt in the footer: Enter submits, Esc cancels, Ctrl-U clears,
Tab completes (cycling through the candidates), Up/Down walk the history."""

from __future__ import annotations

import urwid


class Prompt(urwid.WidgetWrap):
    def __init__(self, caption: str, text: str, on_submit, on_cancel, completions=(), completer=None,
                 history=None):
        """``completions``: fixed full-text candidates; ``completer(text)``: candidates for
        what is typed (the ``:`` prompt's word-by-word completion); ``history``: a
        :class:`celerytop.control.history.HistoryBrowser`."""
        if completer is None:
            fixed = tuple(completions)
            completer = (lambda typed: [c for c in fixed if c.startswith(typed)]) if fixed else None
        self._completer = completer
        self._history = history
        self._cycle: list = []  # candidates Tab is cycling through
        self._caption = caption
        self._offered = False  # the text is a default offered (see offer), not typed
        self.edit = urwid.Edit(("prompt.caption", caption), text)
        self.edit.set_edit_pos(len(text))
        self._on_submit = on_submit
        self._on_cancel = on_cancel
        self._line = urwid.AttrMap(self.edit, "prompt")
        self.hint = ""  # the line shown above the prompt after Tab
        super().__init__(self._line)

    def show_hint(self, hint: str) -> None:
        """A line above the prompt about what Tab found (how many candidates); '' hides it."""
        self.hint = hint
        if hint:
            self._w = urwid.Pile([urwid.Text(("prompt.caption", hint), wrap="clip"), self._line])
            self._w.focus_position = 1
        else:
            self._w = self._line

    @property
    def text(self) -> str:
        return self.edit.edit_text

    def set_text(self, text: str) -> None:
        self.edit.set_edit_text(text)
        self.edit.set_edit_pos(len(text))

    def offer(self, text: str) -> None:
        """Pre-fill ``text`` as a default: Enter takes it, editing keys change it, typing replaces it."""
        self.set_text(text)
        self._offered = True

    def set_caption_note(self, note: str) -> None:
        """Add what was learnt since the prompt opened (e.g. the current value) to its caption."""
        caption = self._caption.rstrip().rstrip(":")
        self.edit.set_caption(("prompt.caption", f"{caption} [{note}]: "))

    def keypress(self, size, key):
        offered, self._offered = self._offered, False
        if offered and len(key) == 1 and key.isprintable():
            self.set_text("")  # typing replaces a pre-filled default
        if key != "tab":
            self._cycle = []
            self.show_hint("")
        if key == "enter":
            self._on_submit(self.edit.edit_text)
            return None
        if key == "esc":
            self._on_cancel()
            return None
        if key == "ctrl u":  # as in a shell: clear the line
            self.set_text("")
            return None
        if key == "tab" and self._completer is not None:
            self.complete()
            return None
        if key in ("up", "down") and self._history is not None:
            line = self._history.older(self.text) if key == "up" else self._history.newer()
            if line is not None:
                self.set_text(line)
            return None
        super().keypress(size, key)
        return None  # every other key belongs to the prompt while it is open

    def complete(self) -> None:
        """Tab: the first candidate for what is typed; Tab again, the next (cycling)."""
        typed = self.edit.edit_text
        if self._cycle and typed in self._cycle:
            candidates = self._cycle
            index = (candidates.index(typed) + 1) % len(candidates)
        else:
            found = self._completer(typed)
            self.show_hint(getattr(found, "hint", ""))
            candidates = list(found)
            if not candidates:
                return
            index = 0
        self.set_text(candidates[index])
        self._cycle = candidates
