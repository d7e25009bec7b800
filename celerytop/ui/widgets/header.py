"""The header widget: the header's lines (celerytop/present/header_text.py) drawn at the terminal's width."""

from __future__ import annotations

import urwid

from celerytop.present.header_text import ascii_markup, cluster_markup, events_markup, header_lines, rates_markup

#: The rate sparklines' width in buckets: at most this many, fewer on a narrow terminal.
MAX_BUCKETS = 20
MIN_BUCKETS = 4


class Header(urwid.WidgetWrap):
    """The header's lines, redrawn on each refresh; ``ascii`` draws them in plain ASCII."""

    def __init__(self, app_name: str, broker_url: str, ascii: bool = False):
        self._app_name = app_name
        self._broker = broker_url
        self._ascii = ascii
        self._lines = urwid.Pile([])
        super().__init__(urwid.AttrMap(self._lines, "header"))

    def update(self, summary, status, notices=(), mode: str = "") -> None:
        markups = header_lines(self._app_name, self._broker, summary, status, notices, mode)
        lines = [urwid.Text(self._markup(markup), wrap="clip") for markup in markups]
        lines[1] = self._counts_and_events(summary)
        lines.insert(2, RatesLine(summary, self._ascii))
        self._lines.contents = [(line, self._lines.options()) for line in lines]

    def _markup(self, markup: list) -> list:
        return ascii_markup(markup) if self._ascii else markup

    def _counts_and_events(self, summary):
        """On a narrow terminal the state counts give way, never the events figure:
        it is what says the monitor still hears the cluster."""
        events = urwid.Text(self._markup(events_markup(summary) + [("header", " ")]), wrap="clip")
        return urwid.Columns([urwid.Text(self._markup(cluster_markup(summary)), wrap="clip"), ("pack", events)],
                             dividechars=2)


class RatesLine(urwid.Widget):
    """The succeeded and failed sparklines, as many buckets as the width fits (up to MAX_BUCKETS)."""

    _sizing = frozenset(["flow"])

    def __init__(self, summary, ascii: bool):
        super().__init__()
        self._summary = summary
        self._ascii = ascii

    def rows(self, size, focus=False) -> int:
        return 1

    def render(self, size, focus=False):
        (width,) = size
        # both sparklines plus their labels and rates take about 25 columns besides
        buckets = max(MIN_BUCKETS, min(MAX_BUCKETS, (width - 25) // 2))
        text = urwid.Text(rates_markup(self._summary, ascii=self._ascii, buckets=buckets), wrap="clip")
        return text.render(size, focus)
