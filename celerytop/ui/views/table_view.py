"""What every sortable, filterable table view shares: the sort column and direction, the ``/`` text, the width.

The types, stuck, beat and alerts views subclass it and say only what differs: their
columns, each column's natural direction, and how they build their rows (``refresh``).
Their keys are ui/controllers/table_keys.py's.
"""

from __future__ import annotations

from celerytop.ui.views.detail import DetailView


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
