"""The header widget: the header's lines (celerytop/present/header_text.py) drawn at the terminal's width."""

from __future__ import annotations

import urwid

from celerytop.present.header_text import cluster_markup, events_markup, header_lines


class Header(urwid.WidgetWrap):
    """The header's lines, redrawn on each refresh."""

    def __init__(self, app_name: str, broker_url: str):
        self._app_name = app_name
        self._broker = broker_url
        self._lines = urwid.Pile([])
        super().__init__(urwid.AttrMap(self._lines, "header"))

    def update(self, summary, status, notices=(), mode: str = "") -> None:
        lines = [urwid.Text(markup, wrap="clip")
                 for markup in header_lines(self._app_name, self._broker, summary, status, notices, mode)]
        lines[1] = self._counts_and_events(summary)
        self._lines.contents = [(line, self._lines.options()) for line in lines]

    @staticmethod
    def _counts_and_events(summary):
        """On a narrow terminal the state counts give way, never the events figure:
        it is what says the monitor still hears the cluster."""
        events = urwid.Text(events_markup(summary) + [("header", " ")], wrap="clip")
        return urwid.Columns([urwid.Text(cluster_markup(summary), wrap="clip"), ("pack", events)],
                             dividechars=2)
