"""Opening the views that ask the cluster: a task's stored result, its workflow's groups,
a worker's inspect replies, the queues; fetched off the UI thread and shown when they come.
"""

from __future__ import annotations

import time

from celerytop.control.backend import BackendResult, GroupLookup
from celerytop.present import formatting
from celerytop.present.errors import one_line_error
from celerytop.ui.views.audit import AuditView
from celerytop.ui.views.queues_view import QueuesView
from celerytop.ui.views.task_detail import TaskDetailView
from celerytop.ui.views.worker_detail import WorkerDetailView
from celerytop.ui.views.workflow_view import WorkflowView


class DrillDown:
    """Opens the task, workflow, worker, queues and audit views; fills them from the background."""

    def __init__(self, control, model, stack, selection, talk, queues):
        self.control = control  # None: not connected to an app
        self.model = model
        self.stack = stack  # the ViewStack the views go on
        self.selection = selection
        self.talk = talk  # a Conversation
        self.queues = queues  # the QueueMonitor behind the queues view
        self.view_options: dict = {}  # keywords for the worker and queues views: {"ascii": True} draws in ASCII

    def open_task(self, uuid: str, fetch: bool = False) -> None:
        """The detail view of ``uuid`` (known or not), fetching its stored result if asked."""
        self.stack.push(TaskDetailView(self.model, uuid))
        if fetch:
            self.fetch_result()

    def open_linked(self) -> None:
        """Enter in a view: the task its line names, unless that is the task already shown."""
        top = self.stack.top
        uuid = top.selected_task()
        if uuid and not (isinstance(top, TaskDetailView) and uuid == top.uuid):
            self.open_task(uuid)

    def open_worker(self, hostname: str) -> None:
        view = WorkerDetailView(self.model, hostname, **self.view_options)
        self.stack.push(view)
        self._inspect_worker(view)

    def _task_view(self):
        """The task detail view to act on: the open one, or one opened for
        the task under the cursor (in a worker view, the task on the line)."""
        if isinstance(self.stack.top, TaskDetailView):
            return self.stack.top
        uuid = self.selection.selected_task()
        if uuid is None:
            self.talk.say("No task here")
            return None
        self.stack.push(TaskDetailView(self.model, uuid))
        return self.stack.top

    def show_audit(self) -> None:
        if self.control is None or self.control.audit is None:
            self.talk.say("No commands can be sent from here")
            return
        self.stack.push(AuditView(self.control.audit))

    # -- queues ---------------------------------------------------------------------------
    def show_queues(self) -> None:
        if self.control is None:
            self.talk.say("Not connected to an app: no queues to show")
            return
        if self.stack.top is not None and self.stack.top.context == QueuesView.context:
            return
        self.queues.start()
        self.stack.push(QueuesView(self.queues, **self.view_options))

    def purge_selected_queue(self) -> None:
        name = self.stack.top.selected_queue() if self.stack.top is not None else None
        if name is None:
            self.talk.say("No queue under the cursor")
            return
        self.queues.purge([name])

    # -- workflow ---------------------------------------------------------------------
    def show_workflow(self) -> None:
        uuid = self.selection.selected_task()
        if uuid is None:
            self.talk.say("No task here")
            return
        lookup = self._look_up_groups if self.control is not None else None
        self.stack.push(WorkflowView(self.model, uuid, lookup=lookup))

    def _look_up_groups(self, view, uuids) -> None:
        """Ask the result backend, off the UI thread, which group each task is in."""
        future = self.control.submit_backend(self.control.fetch_group_ids, uuids)
        future.add_done_callback(lambda f: self.talk.deliver(self._groups_looked_up, view, uuids, f))

    def _groups_looked_up(self, view, uuids, future) -> None:
        try:
            found = future.result()
        except Exception as exc:  # noqa: BLE001 - shown in the view
            found = GroupLookup(error=one_line_error(exc))
        view.groups_found(uuids, found)

    # -- task: traceback and stored result -------------------------------------------------
    def show_traceback(self) -> None:
        view = self._task_view()
        if view is not None and not view.jump_to("Traceback"):
            self.talk.say(f"Task {formatting.short_uuid(view.uuid)} has no traceback (it has not failed or retried)")

    def fetch_result(self) -> None:
        view = self._task_view()
        if view is None:
            return
        if self.control is None:
            self.talk.say("No connection to the app: cannot reach a result backend")
            return
        view.fetching = True
        view.refresh()
        view.jump_to("Result backend")
        self.talk.say("fetching the result from the backend…", holds=lambda: self.stack.showing(view))
        future = self.control.submit_backend(self.control.fetch_result, view.uuid)
        view.latest_fetch = future
        future.add_done_callback(lambda f: self.talk.deliver(self._result_fetched, view, f))

    def _result_fetched(self, view, future) -> None:
        if future is not view.latest_fetch:
            return  # r was pressed again meanwhile: that newer answer is the one shown
        try:
            view.backend = future.result()
        except Exception as exc:  # noqa: BLE001 - shown in the view
            view.backend = BackendResult(error=one_line_error(exc))
        view.fetching = False
        view.refresh()
        self.talk.say("result fetched" if not view.backend.error else view.backend.error,
                      holds=lambda: self.stack.showing(view))

    # -- worker: inspect ---------------------------------------------------------------------
    def _inspect_worker(self, view) -> None:
        if self.control is None:
            view.error = "No connection to the app: cannot inspect"
            view.refresh()
            return
        down = self.talk.broker_down()
        if down:
            view.error = f"broker down: inspect not sent ({down})"
            view.refresh()
            return

        def ask():
            destination = [view.hostname]
            return {name: self.control.inspect(name, destination).get(view.hostname)
                    for name in ("stats", "active", "reserved", "active_queues")}

        future = self.control.submit(ask)
        future.add_done_callback(lambda f: self.talk.deliver(self._worker_inspected, view, f))

    def _worker_inspected(self, view, future) -> None:
        try:
            replies = future.result()
        except Exception as exc:  # noqa: BLE001
            view.error = "inspect failed: " + one_line_error(exc)
        else:
            if all(reply is None for reply in replies.values()):
                view.error = f"the worker did not answer inspect within {self.control.timeout:g} s"
            else:
                view.inspected, view.inspected_at = replies, time.time()
        view.refresh()
