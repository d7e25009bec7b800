"""The help overlay, generated from the keymap (the single source of truth)."""

from __future__ import annotations

import urwid

from celerytop.ui.lazylist import PaneListBox, Row, ScrollCommands


def help_lines(keymap) -> list:
    lines = []
    sections = keymap.grouped()
    width = max(len(keys) for _, rows in sections for keys, _ in rows)
    for title, rows in sections:
        if lines:
            lines.append(urwid.Text(""))
        lines.append(urwid.Text(("help.section", title)))
        for keys, text in rows:
            lines.append(Row([("help.key", "  " + keys.ljust(width) + "  "), ("help", text)]))
    return lines


class HelpOverlay(ScrollCommands, urwid.WidgetWrap):
    def __init__(self, keymap):
        self.listbox = PaneListBox(urwid.SimpleFocusListWalker(help_lines(keymap)))
        title = urwid.AttrMap(
            urwid.Text(" celerytop keys — Esc, q or ? closes ", wrap="clip"), "help.title"
        )
        frame = urwid.Frame(self.listbox, header=title)
        super().__init__(urwid.AttrMap(urwid.LineBox(frame), "help"))
