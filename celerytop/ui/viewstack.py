"""The screen's stack: detail views pushed over the panes, one overlay (the help
or a confirmation) over everything, and the prompt in the footer.

Every view implements one small protocol (:class:`View`), so the app asks the
view on top what to do instead of asking which class it is.
"""

from __future__ import annotations

from typing import Callable, Protocol

import urwid

from celerytop.control.inputs import InputError
from celerytop.ui.views.help import HelpOverlay
from celerytop.ui.widgets.dialogs import ConfirmDialog
from celerytop.ui.widgets.prompt import Prompt


class View(Protocol):
    #: The view's key context, a name in keymap.CONTEXTS: its bindings come first.
    context: str

    def refresh(self) -> None:
        """Redraw from the model (or whatever the view shows)."""

    def reload(self) -> None:
        """Ctrl-R: ask again what the view shows (a redraw where nothing is asked)."""

    def selected_task(self):
        """The task id the line under the cursor names, else None."""

    def selected_queue(self):
        """The queue name the line under the cursor names, else None."""


class ViewStack:
    """The views over the panes (innermost last), the overlay slot and the prompt."""

    def __init__(self, frame: urwid.Frame, main, statusbar, show: Callable, say: Callable, screen_size: Callable):
        self.frame = frame
        self.main = main  # the panes: the body while no view is open
        self.statusbar = statusbar  # the footer while no prompt is open
        self._show = show  # puts a widget at the root: the frame, or an overlay over it
        self._say = say
        self._screen_size = screen_size  # () -> (cols, rows)
        self.views: list = []
        self.overlay = None  # a HelpOverlay or a ConfirmDialog
        self.prompt = None

    # -- views ------------------------------------------------------------------
    @property
    def top(self):
        return self.views[-1] if self.views else None

    def push(self, view) -> None:
        self.views.append(view)
        self.frame.body = view

    def pop(self) -> None:
        if self.views:
            self.views.pop()
        self.frame.body = self.views[-1] if self.views else self.main

    def refresh_views(self, context: str) -> None:
        """Redraw every view of ``context``, hidden ones too: what they show changed in the background."""
        for view in self.views:
            if view.context == context:
                view.refresh()

    def showing(self, view) -> bool:
        """Whether ``view`` is on top and not hidden by the help."""
        return self.top is view and self.help is None

    def contexts(self, pane: str) -> tuple:
        """The key contexts in force, most specific first; ``pane`` is the focused pane's."""
        if self.help is not None:
            return (self.help.context, "list", "global")
        if self.views:
            return tuple(dict.fromkeys((self.top.context, "detail", "list", "global")))
        return (pane, "list", "global")

    def focused(self, pane):
        """What the cursor keys move: the help, else the top view, else ``pane``."""
        return self.help or self.top or pane

    # -- the overlay slot -----------------------------------------------------------
    @property
    def help(self):
        return self.overlay if isinstance(self.overlay, HelpOverlay) else None

    @property
    def dialog(self):
        return self.overlay if isinstance(self.overlay, ConfirmDialog) else None

    def show_overlay(self, widget, **placement) -> None:
        self.overlay = widget
        self._show(urwid.Overlay(widget, self.frame, align="center", valign="middle", **placement))

    def close_overlay(self) -> None:
        self.overlay = None
        self._show(self.frame)

    def show_help(self, keymap) -> None:
        if self.overlay is None:
            self.show_overlay(HelpOverlay(keymap), width=("relative", 90), height=("relative", 90),
                              min_width=40, min_height=8)

    def confirm(self, title: str, lines, on_yes) -> None:
        """A one-key confirmation over the screen; only 'y' runs ``on_yes``."""
        def yes():
            self.close_overlay()
            on_yes()

        def cancel():
            self.close_overlay()
            self._say("Cancelled: nothing was sent")

        dialog = ConfirmDialog(title, lines, yes, cancel)
        cols, rows = self._screen_size()
        height = min(rows, dialog.height_for(min(cols, max(50, cols * 70 // 100))))
        self.show_overlay(dialog, width=("relative", 70), height=height, min_width=50)

    # -- the prompt -------------------------------------------------------------------
    def open_prompt(self, prompt) -> None:
        self.prompt = prompt
        self.frame.footer = prompt
        self.frame.focus_position = "footer"

    def close_prompt(self) -> None:
        self.prompt = None
        self.frame.footer = self.statusbar
        self.frame.focus_position = "body"

    def cancel_prompt(self) -> None:
        self.close_prompt()
        self._say("Cancelled: nothing was sent")

    def ask(self, caption: str, text: str, parse, on_value, completions=()) -> Prompt:
        """Prompt for a value; ``parse`` checks it (InputError explains and sends nothing)."""
        def submitted(typed):
            self.close_prompt()
            try:
                value = parse(typed)
            except InputError as exc:
                self._say(f"Not sent: {exc}", seconds=10)
                return
            on_value(value)

        prompt = Prompt(caption, text, submitted, self.cancel_prompt, completions)
        self.open_prompt(prompt)
        return prompt
