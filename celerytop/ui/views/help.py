"""The help overlay, generated from the keymap and the command prompt's tables
(the single sources of truth, which also write the man page)."""

from __future__ import annotations

import urwid

from celerytop.control import cmdline
from celerytop.ui.widgets.lazylist import LabelledRow, PaneListBox, ScrollCommands


def help_lines(keymap) -> list:
    """The key column is as wide as the widest keys (each command section's as its
    widest usage; one too long gets a line of its own); descriptions wrap, so every
    one is readable whole at 80x24."""
    lines = []
    keys_width = max(len(keys) for _, rows in keymap.grouped() for keys, _ in rows)
    sections = [(title, rows, keys_width) for title, rows in keymap.grouped()]
    sections += [(title, rows, max(len(usage) for usage, _ in rows)) for title, rows in cmdline.reference()]
    for title, rows, width in sections:
        if lines:
            lines.append(urwid.Text(""))
        lines.append(urwid.Text(("help.section", title)))
        for keys, text in rows:
            lines.append(LabelledRow(keys, text, width))
    return lines


class HelpOverlay(ScrollCommands, urwid.WidgetWrap):
    """The view protocol (viewstack.View) over a fixed text: nothing to refresh, ask or select."""

    context = "help"

    def __init__(self, keymap):
        self.listbox = PaneListBox(urwid.SimpleFocusListWalker(help_lines(keymap)))
        title = urwid.AttrMap(
            urwid.Text(" celerytop keys and commands — Esc, q or ? closes ", wrap="clip"), "help.title"
        )
        frame = urwid.Frame(self.listbox, header=title)
        super().__init__(urwid.AttrMap(urwid.LineBox(frame), "help"))

    def refresh(self) -> None:
        pass

    def reload(self) -> None:
        pass

    def selected_task(self):
        return None

    def selected_queue(self):
        return None
