"""The stuck and lost view's keys: open, sort, filter; Enter lists the row's kind in the tasks pane; r reconciles."""

from __future__ import annotations

from celerytop.model.stuckness import LOST
from celerytop.ui.controllers.table_keys import TableViewKeys
from celerytop.ui.views.stuck_view import StuckView


def tasks_filter_for(kind: str) -> str:
    """The tasks pane's filter (model/filtering.py) listing every task of ``kind`` (LOST or STUCK)."""
    return "is:lost" if kind == LOST else "is:stuck"


class StuckController(TableViewKeys):
    """The keys of the stuck and lost view; Enter hands the row's kind to the tasks pane's filter."""

    view_class = StuckView
    filter_caption = "/ stuck: "

    def __init__(self, model, stack, listing, say, *, focus_tasks, reconcile):
        super().__init__(model, stack)
        self.listing = listing  # the tasks pane's filter, and the task the cursor goes to
        self.say = say
        self.focus_tasks = focus_tasks  # () -> None: focus the tasks pane
        self.reconcile_tasks = reconcile  # () -> None: ':reconcile', the console's one path for it

    def filter_tasks(self) -> None:
        """Enter: close the view; the tasks pane lists the row's kind (is:lost, is:stuck), the cursor on its task."""
        view = self._view()
        flagged = view.selected_item() if view is not None else None
        if flagged is None:
            self.say("No stuck or lost task under the cursor")
            return
        self.stack.pop()
        self.focus_tasks()
        self.listing.follow_uuid = flagged.uuid
        self.listing.apply_filter(tasks_filter_for(flagged.kind))

    def reconcile(self) -> None:
        """``r``: ask the workers and the result backend about every task shown STARTED or RECEIVED (as
        ``:reconcile``); the status line says what changed and the view redraws without the tasks put right."""
        if self._view() is not None:
            self.reconcile_tasks()
