"""The task types view's keys: open it, sort and filter it, and Enter hands the type to the tasks pane's filter."""

from __future__ import annotations

from celerytop.model.typestats import OTHER
from celerytop.ui.controllers.table_keys import TableViewKeys
from celerytop.ui.views.types_view import TypesView, tasks_filter_for


class TypesController(TableViewKeys):
    """The keys of the task types view; Enter hands the name to the tasks pane's filter."""

    view_class = TypesView
    filter_caption = "/ types: "

    def __init__(self, model, stack, listing, say):
        super().__init__(model, stack)
        self.listing = listing
        self.say = say

    def filter_tasks(self) -> None:
        view = self._view()
        name = view.selected_item() if view is not None else None
        if name is None:
            return
        if name == OTHER:
            self.say(f"{OTHER} stands for many names: no one filter lists its tasks")
            return
        self.stack.pop()
        self.listing.apply_filter(tasks_filter_for(name))
