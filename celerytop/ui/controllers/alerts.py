"""The alerts view's keys: open it, sort and filter it, and Enter filters the tasks pane to the alert's subject."""

from __future__ import annotations

from celerytop.model.alertrules import TASK, TYPE, WORKER
from celerytop.model.typestats import OTHER
from celerytop.ui.controllers.table_keys import TableViewKeys
from celerytop.ui.views.alerts_view import AlertsView
from celerytop.ui.views.types_view import tasks_filter_for


def worker_filter_for(hostname: str) -> str:
    """The tasks pane's filter for the tasks of one worker (a glob, so * ? [ are escaped)."""
    return tasks_filter_for(hostname, "worker")


class AlertsController(TableViewKeys):
    """The keys of the alerts view; Enter hands a task type or a worker to the tasks pane's filter."""

    view_class = AlertsView
    filter_caption = "/ alerts: "

    def __init__(self, model, stack, listing, say, engine):
        super().__init__(model, stack)
        self.listing = listing
        self.say = say
        self.engine = engine  # a model.alerts.AlertEngine; None when alerts are off

    def show(self) -> None:
        if self._view() is None:
            self.stack.push(AlertsView(self.engine, self.model, **self.view_options))

    def filter_tasks(self) -> None:
        view = self._view()
        alert = view.selected_item() if view is not None else None
        if alert is None:
            return
        if alert.kind == TYPE and alert.subject != OTHER:
            text = tasks_filter_for(alert.subject)
        elif alert.kind == WORKER:
            text = worker_filter_for(alert.subject)
        elif alert.kind == TASK:
            text = "is:lost"  # the stuck and lost slice's filter term (model/filtering.py)
        else:
            self.say(f"{alert.title}: {alert.subject} stands for no tasks: nothing to filter the tasks pane to")
            return
        self.stack.pop()
        self.listing.apply_filter(text)
