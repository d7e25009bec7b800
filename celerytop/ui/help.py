"""The help overlay, generated from the keymap and the command prompt's tables
(the single sources of truth, which also write the man page)."""

from __future__ import annotations

import urwid

from celerytop import cmdline
from celerytop.ui.lazylist import PaneListBox, Row, ScrollCommands


def help_lines(keymap) -> list:
    lines = []
    sections = keymap.grouped() + cmdline.reference()
    width = min(36, max(len(keys) for _, rows in sections for keys, _ in rows))
    for title, rows in sections:
        if lines:
            lines.append(urwid.Text(""))
        lines.append(urwid.Text(("help.section", title)))
        for keys, text in rows:
            if len(keys) > width:  # a long usage gets a line of its own
                lines.append(Row(("help.key", "  " + keys)))
                keys = ""
            lines.append(Row([("help.key", "  " + keys.ljust(width) + "  "), ("help", text)]))
    return lines


class HelpOverlay(ScrollCommands, urwid.WidgetWrap):
    def __init__(self, keymap):
        self.listbox = PaneListBox(urwid.SimpleFocusListWalker(help_lines(keymap)))
        title = urwid.AttrMap(
            urwid.Text(" celerytop keys and commands — Esc, q or ? closes ", wrap="clip"), "help.title"
        )
        frame = urwid.Frame(self.listbox, header=title)
        super().__init__(urwid.AttrMap(urwid.LineBox(frame), "help"))
