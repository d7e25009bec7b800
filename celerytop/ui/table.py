"""Column layout for the panes: fixed and flexible columns fitted to a width,
and one-line rows built as urwid text markup (one Text per row is far
cheaper to build and render than a Columns of Texts)."""

from __future__ import annotations

from dataclasses import dataclass

from celerytop.formatting import fit

GAP = 1


@dataclass(frozen=True)
class Column:
    title: str
    width: int  # minimum (and, without weight, fixed) width
    weight: int = 0  # share of the spare width
    maximum: int = 0  # cap for flexible columns, 0 = none
    align: str = "left"


def layout(columns, total: int) -> list:
    """Widths for ``columns`` in ``total`` columns; flexible ones share the rest."""
    widths = [c.width for c in columns]
    spare = total - sum(widths) - GAP * (len(columns) - 1)
    flexible = [i for i, c in enumerate(columns) if c.weight]
    while spare > 0 and flexible:
        weights = sum(columns[i].weight for i in flexible)
        handed = 0
        still = []
        for i in flexible:
            share = max(1, spare * columns[i].weight // weights)
            cap = columns[i].maximum
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


def header_markup(columns, widths, sorted_by=None, style="column.head"):
    """Column titles; ``sorted_by`` = (title, descending) gets an arrow."""
    cells = []
    for column, width in zip(columns, widths):
        title = column.title
        if sorted_by is not None and title and title == sorted_by[0]:
            title += "▼" if sorted_by[1] else "▲"
        cells.append(fit(title, width, column.align))
    return [(style, (" " * GAP).join(cells))]


def row_markup(cells, columns, widths):
    """``cells`` are (style, text) pairs, one per column."""
    markup = []
    for index, ((style, text), column, width) in enumerate(zip(cells, columns, widths)):
        if index:
            markup.append(("row", " " * GAP))
        markup.append((style, fit(text, width, column.align)))
    return markup
