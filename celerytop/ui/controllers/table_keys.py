"""The keys every sortable, filterable table view shares: open it once, ``<`` ``>`` ``I`` sort, ``/`` filter.

The view (``view_class``) keeps its own sort and filter and redraws itself
(``change_sort``, ``invert_sort``, ``set_filter``); these keys only find it
on top of the stack and hand it what was pressed or typed.
"""

from __future__ import annotations

from celerytop.ui.widgets.prompt import Prompt


class TableViewKeys:
    view_class: type
    filter_caption = "/ "

    def __init__(self, model, stack):
        self.model = model
        self.stack = stack  # the ViewStack
        self.view_options: dict = {}  # keywords for the view: {"ascii": True} draws its sparklines in ASCII

    def _view(self):
        top = self.stack.top
        return top if isinstance(top, self.view_class) else None

    def show(self) -> None:
        if self._view() is None:
            self.stack.push(self.view_class(self.model, **self.view_options))

    def change_sort(self, step: int) -> None:
        view = self._view()
        if view is not None:
            view.change_sort(step)

    def invert_sort(self) -> None:
        view = self._view()
        if view is not None:
            view.invert_sort()

    def open_filter(self) -> None:
        view = self._view()
        if view is None:
            return

        def submitted(text):
            self.stack.close_prompt()
            view.set_filter(text)

        self.stack.open_prompt(Prompt(self.filter_caption, view.filter_text, submitted, self.stack.close_prompt))
