"""What every sortable, filterable table view shares: the sort column and direction, the ``/`` text, the width.

The types, stuck, beat, alerts and queues views subclass it and say only what differs:
their columns, each column's natural direction, and how they build their rows
(``refresh``, which hands them to ``table_lines`` to lay out under a heading; the queues
view lays out its own, sparklines and all).
Their keys are ui/controllers/table_keys.py's.
"""

from __future__ import annotations

from celerytop.present import table
from celerytop.ui.views.detail import DetailView
from celerytop.ui.widgets.lazylist import Row
from celerytop.ui.widgets.panes import ItemRow


class TableView(DetailView):
    """A detail view of one table, re-laid out when its width changes; rows are ItemRows carrying their item."""

    #: The table's columns: ``<`` and ``>`` step through them.
    columns: tuple = ()

    def __init__(self, title: str, sort: int = 0, descending: bool = False):
        self.sort = sort  # index in ``columns``
        self.descending = descending
        self.filter_text = ""
        self._width = 120
        super().__init__(title)
        self.refresh()

    def natural_descending(self, index: int) -> bool:
        """The direction column ``index`` sorts in when first chosen (numbers and times: the largest first)."""
        return False

    def render(self, size, focus=False):
        if size and size[0] != self._width:
            self._width = size[0]
            self.refresh()
        return super().render(size, focus)

    def change_sort(self, step: int) -> None:
        self.sort = (self.sort + step) % len(self.columns)
        self.descending = self.natural_descending(self.sort)
        self.refresh()

    def invert_sort(self) -> None:
        self.descending = not self.descending
        self.refresh()

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        self.refresh()

    def selected_item(self):
        """The item of the row under the cursor (None on a heading or note line)."""
        widget = self.walker.get_focus()[0]
        return getattr(widget, "item", None)

    def table_lines(self, columns: tuple, items: list, cells: list, widths=None, below=None) -> list:
        """The heading (the sort column's arrow on it) and one ItemRow per item, laid out to the view's width
        (or ``widths``); ``below(item)``: lines to put under an item's row."""
        if widths is None:
            widths = table.layout(columns, max(20, self._width - 2), table.content_widths(columns, cells))
        sorted_by = (columns[self.sort].title, self.descending)
        lines: list = [Row([("row", " ")] + table.header_markup(columns, widths, sorted_by, ascii=self.ascii))]
        for item, row_cells in zip(items, cells):
            lines.append(ItemRow([("row", " ")] + table.row_markup(row_cells, columns, widths), item))
            if below is not None:
                lines += below(item)
        return lines
