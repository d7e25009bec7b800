"""The queues view's table keys: sort and filter it, and Enter hands the queue to the tasks pane's filter.

Opening the view (it starts the sampler) and purging stay in drilldown.py.
"""

from __future__ import annotations

from celerytop.ui.controllers.table_keys import TableViewKeys
from celerytop.ui.views.queues_view import QueuesView
from celerytop.ui.views.types_view import tasks_filter_for


class QueuesController(TableViewKeys):
    """The keys of the queues view; Enter closes it and filters the tasks pane to ``queue:`` the row's queue."""

    view_class = QueuesView
    filter_caption = "/ queues: "

    def __init__(self, model, stack, listing, say, *, focus_tasks, show, close):
        super().__init__(model, stack)
        self.listing = listing  # the tasks pane's filter
        self.say = say
        self.focus_tasks = focus_tasks  # () -> None: focus the tasks pane
        self._show = show  # () -> None: drilldown.show_queues, which starts the sampler the view reads
        self._close = close  # () -> None: leave the view (Esc elsewhere)

    def show(self) -> None:
        self._show()

    def clear_filter(self) -> None:
        """Esc: clear the filter when one is set (as in the tasks pane), else leave the view."""
        view = self._view()
        if view is not None and view.filter_text:
            view.set_filter("")
        else:
            self._close()

    def filter_tasks(self) -> None:
        """Enter: close the view; the tasks pane lists the tasks sent to the queue under the cursor."""
        view = self._view()
        name = view.selected_queue() if view is not None else None
        if name is None:
            self.say("No queue under the cursor")
            return
        self.stack.pop()
        self.focus_tasks()
        self.listing.apply_filter(tasks_filter_for(name, "queue"))
