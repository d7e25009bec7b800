"""Table layout for the panes and --batch: fixed and flexible columns fitted
to a width, and one-line rows built as (style, text) markup (on screen one
urwid Text per row is far cheaper to build and render than a Columns of Texts).

Given the widths of the text each column currently shows, flexible columns
are as wide as their content (between their minimum and maximum) and the
spare width goes to the uncapped ones (ARGS): a short hostname does not get
48 columns while the version beside it is cut."""

from __future__ import annotations

from dataclasses import dataclass

from celerytop.present.formatting import display_width, fit, fit_dotted

GAP = 1


@dataclass(frozen=True)
class Column:
    title: str
    width: int  # minimum (and, without weight, fixed) width
    weight: int = 0  # share of the spare width
    maximum: int = 0  # cap for flexible columns, 0 = none
    align: str = "left"
    dotted: bool = False  # a dotted name: cut from the start, keeping its distinctive end


def content_widths(columns, rows_cells) -> list:
    """The widest text of each column over ``rows_cells`` (lists of (style, text))."""
    widest = [0] * len(columns)
    for cells in rows_cells:
        for index, (_style, text) in enumerate(cells):
            width = len(text) if text.isascii() else display_width(text)
            if width > widest[index]:
                widest[index] = width
    return widest


def layout(columns, total: int, content=None) -> list:
    """Widths for ``columns`` in ``total`` columns; flexible ones share the rest.

    With ``content`` (see :func:`content_widths`), a flexible column is as wide as
    its content within its minimum and maximum, only uncapped ones take the spare
    width, and when the width runs short the widest flexible column gives way first.
    """
    widths = [c.width for c in columns]
    caps = [c.maximum for c in columns]
    if content is not None:
        widths = [_content_width(c, shown) for c, shown in zip(columns, content)]
        caps = [0 if c.weight and not c.maximum else w for c, w in zip(columns, widths)]
    spare = total - sum(widths) - GAP * (len(columns) - 1)
    flexible = [i for i, c in enumerate(columns) if c.weight]
    if content is not None and spare < 0:
        spare = _shrink_widest(columns, widths, flexible, spare)
    while spare > 0 and flexible:
        weights = sum(columns[i].weight for i in flexible)
        handed = 0
        still = []
        for i in flexible:
            share = max(1, spare * columns[i].weight // weights)
            cap = caps[i]
            if cap:
                share = min(share, cap - widths[i])
            share = min(share, spare - handed)
            widths[i] += share
            handed += share
            if not cap or widths[i] < cap:
                still.append(i)
        spare -= handed
        if handed == 0:
            break
        flexible = still
    if spare < 0:  # too narrow: shrink flexible columns first, then the last ones
        for i in sorted(range(len(columns)), key=lambda i: (not columns[i].weight, -i)):
            take = min(-spare, widths[i] - 1)
            widths[i] -= take
            spare += take
            if spare >= 0:
                break
    return widths


def _content_width(column, shown: int) -> int:
    if not column.weight:
        return column.width
    wanted = max(column.width, shown, display_width(column.title) + 1)  # +1: the sort arrow
    return min(wanted, column.maximum) if column.maximum else wanted


def _shrink_widest(columns, widths, flexible, spare: int) -> int:
    """Take ``-spare`` columns from the widest flexible columns, down to their
    minimum; what is still missing (negative) is returned."""
    while spare < 0:
        candidates = [i for i in flexible if widths[i] > columns[i].width]
        if not candidates:
            break
        widest = max(candidates, key=lambda i: widths[i])
        others = [widths[i] for i in candidates if i != widest]
        floor = max([columns[widest].width] + others)  # level it with the next widest
        take = min(-spare, max(1, widths[widest] - floor))
        widths[widest] -= take
        spare += take
    return spare


def sort_arrow(descending: bool, ascii: bool = False) -> str:
    """The mark after the sorted column's title: ▼ largest first, ▲ smallest; ``v`` and ``^`` in ASCII."""
    if ascii:
        return "v" if descending else "^"
    return "▼" if descending else "▲"


def header_markup(columns, widths, sorted_by=None, style="column.head", ascii: bool = False):
    """Column titles; ``sorted_by`` = (title, descending) gets an arrow (:func:`sort_arrow`)."""
    cells = []
    for column, width in zip(columns, widths):
        title = column.title
        if sorted_by is not None and title and title == sorted_by[0]:
            title += sort_arrow(sorted_by[1], ascii)
        cells.append(fit(title, width, column.align))
    return [(style, (" " * GAP).join(cells))]


def row_markup(cells, columns, widths):
    """``cells`` are (style, text) pairs, one per column."""
    markup = []
    for index, ((style, text), column, width) in enumerate(zip(cells, columns, widths)):
        if index:
            markup.append(("row", " " * GAP))
        cut = fit_dotted if column.dotted else fit
        markup.append((style, cut(text, width, column.align)))
    return markup
