"""The detail views' base: a titled, scrollable list of lines and the helpers that build them.

Subclasses (one module each: task_detail, worker_detail, workflow_view,
audit) rebuild their lines from model snapshots on every refresh, keeping the
scroll position, so a task that finishes while a person reads it updates in
place.
"""

from __future__ import annotations

import ast
import pprint

import urwid

from celerytop.present import formatting
from celerytop.ui.widgets.lazylist import PaneListBox, Row, ScrollCommands
from celerytop.ui.widgets.panes import FOCUS_MAP

LABEL_WIDTH = 12


def pretty(text: str, width: int = 100) -> list:
    """An args/kwargs/result repr, pretty-printed when it is a Python literal."""
    if not text:
        return ["-"]
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return formatting.sanitize(text, keep_newlines=True, limit=20000).splitlines() or [""]
    shown = pprint.pformat(value, width=max(40, width))
    return formatting.sanitize(shown, keep_newlines=True, limit=20000).splitlines()


def clock_ms(timestamp) -> str:
    return formatting.format_clock_ms(timestamp)


class DetailView(ScrollCommands, urwid.WidgetWrap):
    """A titled, scrollable list of lines; subclasses say what the lines are.

    Implements the view protocol (viewstack.View); subclasses override what they do differently.
    """

    context = "detail"

    def __init__(self, title: str):
        self._title = urwid.Text(("pane.title.focus", title), wrap="clip")
        self.walker = urwid.SimpleFocusListWalker([urwid.Text("")])
        self.listbox = PaneListBox(self.walker)
        self.anchors: dict = {}  # section name -> line index
        super().__init__(urwid.Frame(self.listbox, header=urwid.AttrMap(self._title, "pane.title.focus")))

    def set_lines(self, lines) -> None:
        focus = self.walker.focus if len(self.walker) else 0
        self.walker[:] = lines or [urwid.Text("")]
        self.walker.set_focus(min(focus, len(self.walker) - 1))

    def section(self, lines, name: str) -> None:
        if lines:
            lines.append(urwid.Text(""))
        self.anchors[name] = len(lines)
        lines.append(Row(("help.section", name)))

    def field(self, lines, label: str, value, style: str = "row") -> None:
        text = value if isinstance(value, str) else ("-" if value is None else str(value))
        shown = formatting.sanitize(text) if text else ""
        lines.append(Row([("help.key", "  " + label.ljust(LABEL_WIDTH)), (style, shown)]))

    def link(self, lines, label: str, uuid: str) -> None:
        """A field naming another task: Enter on it opens that task."""
        if not uuid:
            self.field(lines, label, "-")
            return
        markup = [("help.key", "  " + label.ljust(LABEL_WIDTH)), ("row", formatting.sanitize(uuid))]
        lines.append(TaskLink(markup, uuid))

    def pretty_field(self, lines, label: str, text: str) -> None:
        """A repr, pretty-printed: on the label's line when it fits in one."""
        shown = pretty(text)
        if len(shown) == 1:
            lines.append(Row([("help.key", "  " + label.ljust(LABEL_WIDTH)), ("row", shown[0])]))
        else:
            self.field(lines, label, "")
            self.block(lines, shown)

    def block(self, lines, texts, style: str = "row") -> None:
        for text in texts:
            lines.append(Row((style, "  " + text)))

    def jump_to(self, name: str) -> bool:
        index = self.anchors.get(name)
        if index is None:
            return False
        self.walker.set_focus(index)
        self.listbox.set_focus_valign("top")
        return True

    def refresh(self) -> None:
        """Rebuild the lines: each subclass says how."""

    def reload(self) -> None:
        """Nothing to ask again: redraw."""
        self.refresh()

    def selected_task(self):
        """The task named on the line under the cursor (a TaskLink), if any."""
        widget = self.walker.get_focus()[0]
        return getattr(widget, "uuid", None)

    def selected_queue(self):
        return None


class TaskLink(urwid.AttrMap):
    """A line that names a task: highlighted under the cursor; Enter opens it."""

    def __init__(self, markup, uuid: str):
        super().__init__(Row(markup), None, FOCUS_MAP)
        self.uuid = uuid
