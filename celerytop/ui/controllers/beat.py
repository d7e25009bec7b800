"""The periodic tasks view's keys: open it, sort and filter it, and Enter hands the entry's task to the tasks pane."""

from __future__ import annotations

from celerytop.model.beat import NO_APP_NOTE, BeatPlan
from celerytop.ui.controllers.table_keys import TableViewKeys
from celerytop.ui.views.beat_view import BeatView
from celerytop.ui.views.types_view import tasks_filter_for


class BeatController(TableViewKeys):
    """The keys of the periodic tasks view; Enter filters the tasks pane to the entry's task name."""

    view_class = BeatView
    filter_caption = "/ periodic tasks: "

    def __init__(self, model, stack, listing, schedule: BeatPlan | None):
        super().__init__(model, stack)
        self.listing = listing
        self.schedule = schedule if schedule is not None else BeatPlan((), NO_APP_NOTE)

    def show(self) -> None:
        if self._view() is None:
            self.stack.push(BeatView(self.model, self.schedule, **self.view_options))

    def filter_tasks(self) -> None:
        view = self._view()
        entry = view.selected_item() if view is not None else None
        if entry is None:
            return
        self.stack.pop()
        self.listing.apply_filter(tasks_filter_for(entry.task))
