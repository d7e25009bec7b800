"""The urwid application: layout, the refresh timer and key dispatch.

Data flows one way: the capture thread feeds the model; a timer
(``refresh`` seconds) reads snapshots from the model and the connection
status and updates the widgets (at once, too, when a worker first appears,
so a new worker never waits for the timer).  Keys resolve through the keymap to a
command name, and commands to the methods ui/keys/commands.py declares for them.
"""

from __future__ import annotations

import os
import time

import urwid
from urwid.display import raw

from celerytop.control.history import History
from celerytop.events import capture
from celerytop.model import filtering, seed
from celerytop.model.sorting import SORT_ORDER, SORTS
from celerytop.present import formatting, palettes
from celerytop.present.columns import (TASK_COLUMNS, WORKER_COLUMNS, FoldedWorkers, fold_offline, task_cells,
                                       worker_cells)
from celerytop.present.errors import one_line_error
from celerytop.present.header_text import Alarm, ignored_events_note, mode_text, replay_text
from celerytop.ui.controllers.actions import ControlActions
from celerytop.ui.controllers.console import CommandConsole
from celerytop.ui.keys import commands
from celerytop.ui.keys.keymap import CONTEXTS, Keymap, key_label
from celerytop.ui.views.detail import AuditView, TaskDetailView, WorkerDetailView, WorkflowView
from celerytop.ui.views.help import HelpOverlay
from celerytop.ui.views.inspect_views import InspectView
from celerytop.ui.views.queues_view import QueueMonitor, QueuesView
from celerytop.ui.widgets.dialogs import ConfirmDialog
from celerytop.ui.widgets.header import Header
from celerytop.ui.widgets.panes import Pane
from celerytop.ui.widgets.prompt import Prompt
from celerytop.ui.widgets.statusbar import StatusBar

#: Seconds connected with workers answering pings but no task event seen,
#: before the header suggests that task events are off.
NO_TASK_EVENTS_HINT_AFTER = 10.0

#: What 'f' cycles through.
STATE_FILTERS = ("", "state:FAILURE", "state:STARTED", "state:RETRY", "state:RECEIVED", "state:SUCCESS")

#: The column header each sort key marks with an arrow.
SORT_TITLES = {"received": "RECEIVED", "name": "NAME", "state": "STATE", "worker": "WORKER",
               "runtime": "RUNTIME", "uuid": "UUID"}

COLOR_MODES = {"auto": None, "mono": 1, "16": 16, "256": 256, "truecolor": 2**24}

#: A TEST HOOK, not a feature: with CELERYTOP_TEST_CRASH_KEY set to a key name (``f12``),
#: that key raises inside the urwid loop, so tests/test_crash_report.py can show what an
#: unexpected exception does to the terminal.  Every real way to raise one is a bug,
#: fixed once found, so no real one can stay in a test.
CRASH_TEST_KEY = os.environ.get("CELERYTOP_TEST_CRASH_KEY") or None


class KeyRouter(urwid.WidgetWrap):
    """The top widget: every key goes through the keymap before any widget."""

    def __init__(self, app, widget):
        self._app = app
        super().__init__(widget)

    def set(self, widget) -> None:
        self._w = widget

    def keypress(self, size, key):
        if key == CRASH_TEST_KEY:
            raise RuntimeError("test hook: CELERYTOP_TEST_CRASH_KEY pressed")
        if self._app.dialog is not None:  # a confirmation takes the next key, whatever it is
            return self._app.dialog.keypress(size, key)
        if self._app.prompt is not None:  # an open prompt takes every key
            return super().keypress(size, key)
        command = self._app.keymap.resolve(self._app.contexts(), key)
        if command is not None:
            self._app.run_command(command)
            return None
        unhandled = super().keypress(size, key)
        if unhandled is not None:  # no binding and no widget took it: never silently nothing
            self._app.say_unknown_key(unhandled)
        return None


class MonitorApp:
    PANES = ("workers", "tasks")

    def __init__(self, model, status, control=None, *, app_name="", broker_url="", refresh=1.0,
                 enable_events=True, colors="auto", keymap=None, history=None, scope="",
                 fold_offline_after: float | None = 600.0):
        self.model = model
        self.scope = scope  # e.g. "ONLY worker.#,task.failed": the broker sends only these events
        self.status = status
        self.control = control
        self.refresh_interval = max(0.05, float(refresh))
        self.enable_events = enable_events
        self.fold_offline_after = fold_offline_after  # seconds; None never folds
        self.show_folded = False  # 'o' lists the workers folded into '+N offline'
        self.colors = colors
        self.keymap = keymap or Keymap()
        self.loop = None
        self.seed_report = None
        self.seed_error = ""
        self.seed_connection = 0  # the connection (status.connects) the latest seed ran on
        self._message = ""
        self._message_until = 0.0
        self._message_holds = None  # while it returns true, the message still describes the screen
        self._task_version = -1
        self._started = time.monotonic()
        self._new_worker_refresh_due = False

        self.header = Header(app_name, broker_url)
        self.worker_marks: set = set()
        self.workers = Pane(WORKER_COLUMNS, lambda row: worker_cells(row, row.hostname in self.worker_marks),
                            key=lambda row: row.hostname,
                            empty_text=" No workers seen yet.")
        self.tasks = Pane(TASK_COLUMNS, lambda uuid: task_cells(self.model.task_row(uuid), uuid in self.marks),
                          empty_text=" No tasks seen yet.")
        self.task_filter = filtering.EMPTY
        self.worker_filter = filtering.NO_HOSTS_FILTER
        self.sort = "received"
        self.descending = None  # None: the sort column's natural direction
        self.marks: set = set()
        self.views: list = []  # detail views, innermost last
        self.prompt = None
        self.dialog = None
        self._follow_uuid = None
        self._worker_rows: list = []
        self._processed_at_start: dict = {}
        self.actions = ControlActions(self)
        self.standing_notices: list = []  # said in the header for the whole session
        self.alarms: list = []  # callables: '' or what is being lost now (a stopped --record), said in red
        self.replay = None  # a recording.Replayer when --replay feeds the screen
        self.queues = QueueMonitor(self)
        self.console = CommandConsole(self, history if history is not None else History(None))
        self.statusbar = StatusBar()
        self.body = urwid.Pile([("given", 4, self.workers), ("weight", 1, self.tasks)])
        self.frame = urwid.Frame(self.body, header=self.header, footer=self.statusbar)
        self.help = None
        self.root = KeyRouter(self, self.frame)
        self._handlers = commands.bind(self)  # every command declared in ui/keys/commands.py
        self.focus_pane("tasks")

    # -- commands -------------------------------------------------------------
    def move_cursor(self, where: str) -> None:
        """In the focused list: 'up', 'down', 'page up', 'page down', 'top' or 'bottom'."""
        focused = self._focused_list()
        if where == "top":
            focused.to_top()
        elif where == "bottom":
            focused.to_bottom()
        else:
            focused.move(where)

    def run_command(self, name: str) -> None:
        self._handlers[name]()
        self._update_statusbar()

    def contexts(self) -> tuple:
        if self.help is not None:
            return ("help", "list", "global")
        if self.views:
            context = self.views[-1].context
            return (context, "detail", "list", "global") if context != "detail" else ("detail", "list", "global")
        return (self.focused_pane_name(), "list", "global")

    def quit(self) -> None:
        raise urwid.ExitMainLoop()

    def say_unknown_key(self, key) -> None:
        if not isinstance(key, str):  # a mouse event tuple: mouse handling is off
            return
        label = key_label(key)
        elsewhere = [CONTEXTS[c] for c in self.keymap.contexts_binding(key) if c not in ("global", "list")]
        where = f"it works in: {', '.join(elsewhere)}; " if elsewhere else ""
        self.flash(f"{label}: no such key here ({where}? lists the keys)")

    def show_help(self) -> None:
        if self.help is None:
            self.help = HelpOverlay(self.keymap)
            overlay = urwid.Overlay(
                self.help, self.frame, align="center", width=("relative", 90), valign="middle",
                height=("relative", 90), min_width=40, min_height=8,
            )
            self.root.set(overlay)

    def close_help(self) -> None:
        self.help = None
        self.root.set(self.frame)

    def focused_pane_name(self) -> str:
        return self.PANES[self.body.focus_position]

    def focus_pane(self, name: str) -> None:
        index = self.PANES.index(name)
        self.body.focus_position = index
        self.workers.set_focused(index == 0)
        self.tasks.set_focused(index == 1)

    def cycle_focus(self, step: int) -> None:
        index = (self.body.focus_position + step) % len(self.PANES)
        self.focus_pane(self.PANES[index])

    def _focused_list(self):
        if self.help is not None:
            return self.help
        if self.views:
            return self.views[-1]
        return self.workers if self.focused_pane_name() == "workers" else self.tasks

    # -- detail views ---------------------------------------------------------
    def push_view(self, view) -> None:
        self.views.append(view)
        self.frame.body = view

    def close_view(self) -> None:
        if self.views:
            self.views.pop()
        self.frame.body = self.views[-1] if self.views else self.body
        self.refresh()

    def selected_task(self):
        if self.views:
            return self.views[-1].selected_task()
        if self.focused_pane_name() == "tasks":
            return self.tasks.walker.focus_item
        return None

    def open_view(self) -> None:
        if self.views:
            uuid = self.views[-1].selected_task()
            if uuid and not (isinstance(self.views[-1], TaskDetailView) and uuid == self.views[-1].uuid):
                self.push_view(TaskDetailView(self.model, uuid))
            return
        if self.focused_pane_name() == "workers":
            row = self.workers.walker.focus_item
            if isinstance(row, FoldedWorkers):
                self.toggle_offline_workers()
            elif row is not None:
                view = WorkerDetailView(self.model, row.hostname)
                self.push_view(view)
                self._inspect_worker(view)
            return
        uuid = self.tasks.walker.focus_item
        if uuid is not None:
            self.push_view(TaskDetailView(self.model, uuid))

    def _task_view(self):
        """The task detail view to act on: the open one, or one opened for
        the task under the cursor (in a worker view, the task on the line)."""
        if self.views and isinstance(self.views[-1], TaskDetailView):
            return self.views[-1]
        uuid = self.selected_task()
        if uuid is None:
            self.flash("No task here")
            return None
        self.push_view(TaskDetailView(self.model, uuid))
        return self.views[-1]

    def show_workflow(self) -> None:
        uuid = self.selected_task()
        if uuid is None:
            self.flash("No task here")
            return
        lookup = self._look_up_groups if self.control is not None else None
        self.push_view(WorkflowView(self.model, uuid, lookup=lookup))

    def _look_up_groups(self, view, uuids) -> None:
        """Ask the result backend, off the UI thread, which group each task is in."""
        future = self.control.submit_backend(self.control.fetch_group_ids, uuids)
        future.add_done_callback(lambda f: self.deliver(self._groups_looked_up, view, uuids, f))

    def _groups_looked_up(self, view, uuids, future) -> None:
        from celerytop.control.backend import GroupLookup

        try:
            found = future.result()
        except Exception as exc:  # noqa: BLE001 - shown in the view
            found = GroupLookup(error=one_line_error(exc))
        view.groups_found(uuids, found)

    def show_traceback(self) -> None:
        view = self._task_view()
        if view is not None and not view.jump_to("Traceback"):
            self.flash(f"Task {formatting.short_uuid(view.uuid)} has no traceback (it has not failed or retried)")

    def fetch_result(self) -> None:
        view = self._task_view()
        if view is None:
            return
        if self.control is None:
            self.flash("No connection to the app: cannot reach a result backend")
            return
        view.fetching = True
        view.refresh()
        view.jump_to("Result backend")
        self.flash("fetching the result from the backend…", holds=lambda: self._showing(view))
        future = self.control.submit_backend(self.control.fetch_result, view.uuid)
        view.latest_fetch = future
        future.add_done_callback(lambda f: self.deliver(self._result_fetched, view, f))

    def _result_fetched(self, view, future) -> None:
        from celerytop.control.backend import BackendResult

        if future is not view.latest_fetch:
            return  # r was pressed again meanwhile: that newer answer is the one shown
        try:
            view.backend = future.result()
        except Exception as exc:  # noqa: BLE001 - shown in the view
            view.backend = BackendResult(error=one_line_error(exc))
        view.fetching = False
        view.refresh()
        self.flash("result fetched" if not view.backend.error else view.backend.error,
                   holds=lambda: self._showing(view))

    def _showing(self, view) -> bool:
        return bool(self.views) and self.views[-1] is view and self.help is None

    def _inspect_worker(self, view) -> None:
        if self.control is None:
            view.error = "No connection to the app: cannot inspect"
            view.refresh()
            return
        down = self.broker_down()
        if down:
            view.error = f"broker down: inspect not sent ({down})"
            view.refresh()
            return

        def ask():
            destination = [view.hostname]
            return {name: self.control.inspect(name, destination).get(view.hostname)
                    for name in ("stats", "active", "reserved", "active_queues")}

        future = self.control.submit(ask)
        future.add_done_callback(lambda f: self.deliver(self._worker_inspected, view, f))

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

    # -- filter, sort, marks -------------------------------------------------------
    def open_filter_prompt(self) -> None:
        self.open_prompt(Prompt("/", self.task_filter.text, self._filter_submitted, self.close_prompt))

    def open_worker_filter_prompt(self) -> None:
        def submitted(text):
            self.close_prompt()
            self.apply_worker_filter(text)

        self.open_prompt(Prompt("/ workers: ", self.worker_filter.text, submitted, self.close_prompt))

    def apply_worker_filter(self, text: str) -> None:
        try:
            self.worker_filter = filtering.parse_hosts(text)
        except filtering.FilterError as exc:
            self.flash(f"Bad filter, kept the previous one: {exc}")
            return
        self.refresh()

    def open_prompt(self, prompt) -> None:
        self.prompt = prompt
        self.frame.footer = prompt
        self.frame.focus_position = "footer"

    def ask(self, caption: str, text: str, parse, on_value, completions=()) -> None:
        """Prompt for a value; ``parse`` checks it (InputError explains and sends nothing)."""
        from celerytop.control.inputs import InputError

        def submitted(typed):
            self.close_prompt()
            try:
                value = parse(typed)
            except InputError as exc:
                self.flash(f"Not sent: {exc}", seconds=10)
                return
            on_value(value)

        self.open_prompt(Prompt(caption, text, submitted, self.cancel_prompt, completions))

    def cancel_prompt(self) -> None:
        self.close_prompt()
        self.flash("Cancelled: nothing was sent")

    def confirm(self, title: str, lines, on_yes) -> None:
        """A one-key confirmation over the screen; only 'y' runs ``on_yes``."""
        def close():
            self.dialog = None
            self.root.set(self.frame)

        def yes():
            close()
            on_yes()

        def cancel():
            close()
            self.flash("Cancelled: nothing was sent")

        self.dialog = ConfirmDialog(title, lines, yes, cancel)
        cols, rows = self.loop.screen.get_cols_rows() if self.loop is not None else (80, 24)
        height = min(rows, self.dialog.height_for(min(cols, max(50, cols * 70 // 100))))
        self.root.set(urwid.Overlay(self.dialog, self.frame, align="center", width=("relative", 70),
                                    valign="middle", height=height, min_width=50))

    def follow(self, uuid: str) -> None:
        """Put the cursor on ``uuid`` as soon as it shows up (a retried task);
        a filter that would hide it is cleared."""
        self._follow_uuid = uuid
        if self.views:
            self.close_view()
        if self.task_filter:
            self.apply_filter("")
        self.refresh()

    def open_task(self, uuid: str, fetch: bool = False) -> None:
        """The detail view of ``uuid`` (known or not), fetching its stored result if asked."""
        self.push_view(TaskDetailView(self.model, uuid))
        if fetch:
            self.fetch_result()

    def show_queues(self) -> None:
        if self.control is None:
            self.flash("Not connected to an app: no queues to show")
            return
        if self.views and isinstance(self.views[-1], QueuesView):
            return
        self.queues.start()
        self.push_view(QueuesView(self.queues))

    def queues_changed(self) -> None:
        for view in self.views:
            if isinstance(view, QueuesView):
                view.refresh()

    def purge_selected_queue(self) -> None:
        name = self.views[-1].selected_queue() if self.views and isinstance(self.views[-1], QueuesView) else None
        if name is None:
            self.flash("No queue under the cursor")
            return
        self.queues.purge([name])

    def reload_view(self) -> None:
        """Ask again: an inspect view re-sends its question, the queues view samples now."""
        view = self.views[-1] if self.views else None
        if isinstance(view, QueuesView):
            self.queues.sample_now()
        elif isinstance(view, InspectView):
            self.console.ask(view)
        elif view is not None:
            view.refresh()

    def _replay_control(self, action: str) -> None:
        if self.replay is None:
            self.flash("Not replaying: celerytop --replay FILE feeds a recording to the screen")
            return
        if action == "step" and not self.replay.paused:
            self.replay.pause()
        getattr(self.replay, action)()
        self.refresh()

    def _mode(self) -> str:
        if self.replay is not None:
            return mode_text(replay=replay_text(self.replay))
        return mode_text(read_only=self.control is not None and self.control.read_only, scope=self.scope)

    def show_audit(self) -> None:
        if self.control is None or self.control.audit is None:
            self.flash("No commands can be sent from here")
            return
        self.push_view(AuditView(self.control.audit))

    def close_prompt(self) -> None:
        self.prompt = None
        self.frame.footer = self.statusbar
        self.frame.focus_position = "body"

    def _filter_submitted(self, text: str) -> None:
        self.close_prompt()
        self.apply_filter(text)

    def apply_filter(self, text: str) -> None:
        try:
            new = filtering.parse(text)
        except filtering.FilterError as exc:
            self.flash(f"Bad filter, kept the previous one: {exc}")
            return
        self.task_filter = new
        self._task_version = -1
        self.refresh(reset_cursor=True)
        if new:
            self.flash(f"{len(self.tasks.walker.items)} tasks match {new.text}",
                       holds=lambda: self.task_filter is new)

    def cycle_state_filter(self) -> None:
        current = self.task_filter.text
        index = STATE_FILTERS.index(current) if current in STATE_FILTERS else 0
        self.apply_filter(STATE_FILTERS[(index + 1) % len(STATE_FILTERS)])

    def next_failure(self) -> None:
        walker = self.tasks.walker
        count = len(walker.items)
        for step in range(1, count + 1):
            position = (walker.focus + step) % count
            row = self.model.task_row(walker.items[position])
            if row is not None and row.state == "FAILURE":
                walker.set_focus(position)
                return
        self.flash("No failed task in the list")

    def change_sort(self, step: int) -> None:
        index = SORT_ORDER.index(self.sort)
        self.sort = SORT_ORDER[(index + step) % len(SORT_ORDER)]
        self.descending = None
        self._task_version = -1
        self.refresh(reset_cursor=True)

    def invert_sort(self) -> None:
        self.descending = not self._descending()
        self._task_version = -1
        self.refresh(reset_cursor=True)

    def _marks_of_focused_pane(self):
        if self.focused_pane_name() == "workers":
            row = self.workers.walker.focus_item
            return self.workers, self.worker_marks, row.hostname if row is not None else None
        return self.tasks, self.marks, self.tasks.walker.focus_item

    def toggle_mark(self) -> None:
        pane, marks, key = self._marks_of_focused_pane()
        if key is None:
            return
        marks.symmetric_difference_update({key})
        pane.walker.invalidate()
        pane.move("down")
        self._update_statusbar()

    def clear_marks(self) -> None:
        pane, marks, _key = self._marks_of_focused_pane()
        marks.clear()
        pane.walker.invalidate()

    def mark_all_workers(self) -> None:
        self.worker_marks.update(row.hostname for row in self.workers.walker.items if row.hostname)
        self.workers.walker.invalidate()

    def toggle_offline_workers(self) -> None:
        """List the workers folded into '+N offline', or fold them again."""
        self.show_folded = not self.show_folded
        self.refresh()
        if not any(isinstance(row, FoldedWorkers) for row in self.workers.walker.items):
            self.flash("No worker has been offline for long enough to fold")

    def flash(self, message: str, seconds: float = 5.0, holds=None) -> None:
        """Say ``message`` in the status line for ``seconds``; ``holds()`` ties it to the
        state it describes (a filter, a view): once that returns false, the message goes."""
        self._message = formatting.sanitize(message, limit=300)
        self._message_until = time.monotonic() + seconds
        self._message_holds = holds
        self._update_statusbar()

    def message_width(self) -> int:
        """Columns the status line has for a message at the terminal's current width."""
        cols = self.loop.screen.get_cols_rows()[0] if self.loop is not None else 80
        return self.statusbar.message_room(cols)

    # -- refresh --------------------------------------------------------------
    def refresh(self, reset_cursor: bool = False) -> None:
        self.model.sample_event_rate()
        summary = self.model.summary()
        status = self.status.snapshot()
        all_worker_rows = self.model.worker_rows()
        self._note_worker_counts(all_worker_rows)
        self.header.update(summary, status, self.notices(summary, status), mode=self._mode())

        worker_rows = self.worker_filter.narrow(all_worker_rows)
        self.workers.set_items(fold_offline(worker_rows, self.fold_offline_after, self.show_folded))
        # a hidden worker keeps no mark: commands go only to workers on screen
        self.worker_marks.intersection_update(row.hostname for row in self.workers.walker.items)
        self.workers.set_title(self._workers_title(summary, len(worker_rows)))
        self.workers.set_empty_text(" No worker matches the filter (Esc clears it)." if self.worker_filter
                                    else " No workers seen yet.")
        self._size_workers_pane(len(self.workers.walker.items))

        version = self.model.version
        following = self.tasks.walker.focus == 0 or reset_cursor
        if version != self._task_version:
            self._task_version = version
            self.tasks.set_items(self.model.query(self.task_filter, self.sort, self.descending),
                                 follow_top=following)
        else:
            self.tasks.walker.invalidate()  # runtimes of started tasks tick on
        if self.marks:  # forget marks on evicted tasks
            self.marks = {uuid for uuid in self.marks if self.model.has_task(uuid)}
        if self._follow_uuid is not None and self._follow_uuid in self.tasks.walker.items:
            self.tasks.walker.set_focus(self.tasks.walker.items.index(self._follow_uuid))
            self._follow_uuid = None
        self.tasks.set_title(self._tasks_title(summary, following))
        self.tasks.set_empty_text(" No task matches the filter (Esc clears it)." if self.task_filter
                                  else " No tasks seen yet.")
        self.tasks.set_sorted_by(SORT_TITLES[self.sort], self._descending())
        if self.views:
            self.views[-1].refresh()
        self._update_statusbar()

    def _descending(self) -> bool:
        """The direction in force: the sort column's natural one unless inverted."""
        return SORTS[self.sort][1] if self.descending is None else self.descending

    def _workers_title(self, summary, shown: int) -> str:
        title = f" Workers  {summary.workers_online} online / {summary.workers_total} known"
        if self.worker_filter:
            title = f" Workers  {shown} of {summary.workers_total} match '{self.worker_filter.text}'"
        if self.worker_marks:
            title += f"  · {len(self.worker_marks)} marked: commands go to them"
        return title

    def _tasks_title(self, summary, following: bool) -> str:
        shown = len(self.tasks.walker.items)
        if self.task_filter:
            title = f" Tasks  {shown} of {summary.task_count} match '{self.task_filter.text}'"
        else:
            title = f" Tasks  {summary.task_count} in memory"
        if self.sort == "received" and self._descending():
            title += ", newest first"
            if following and shown:
                title += "  · following new tasks"
        else:
            title += f", by {self.sort} {'descending' if self._descending() else 'ascending'}"
        if self.marks:
            title += f"  · {len(self.marks)} marked"
        return title

    def notices(self, summary, status) -> list:
        notes = [Alarm(text) for text in (alarm() for alarm in self.alarms) if text]
        notes += self.standing_notices
        audit = self.control.audit if self.control is not None else None
        if audit is not None and audit.error:
            notes.append(audit.error)
        if self.seed_error and self._on_seed_connection(status):
            notes.append(f"Could not ask workers for their state: {self.seed_error}")
        report = self.seed_report
        if (
            report is not None
            and report.workers
            and summary.task_events == 0
            and self._workers_busy()
            and status.state == capture.CONNECTED
            and status.connected_since is not None
            and time.monotonic() - status.connected_since > NO_TASK_EVENTS_HINT_AFTER
        ):
            notes.append(
                f"{len(report.workers)} worker(s) answer pings and run tasks but send no task events: "
                "start them with -E or run 'celery control enable_events'"
            )
        ignored = ignored_events_note(summary)
        if ignored:
            notes.append(ignored)
        return notes

    def broker_down(self) -> str:
        """The error that took the broker away while it is down, else ''. The first
        connection, not failed yet, is not 'down': commands wait for it."""
        status = self.status.snapshot()
        if status.state in (capture.RETRYING, capture.CONNECTING) and status.error:
            return status.error
        return ""

    def _on_seed_connection(self, status) -> bool:
        """Whether the connection the latest seed ran on is still the one up: a seed's
        error describes that connection, never an outage since (the header says that)
        nor a later connection (which seeds again)."""
        return status.state == capture.CONNECTED and status.connects == self.seed_connection

    def _note_worker_counts(self, rows) -> None:
        """Remember what each worker had processed when first seen, and what now."""
        self._worker_rows = rows
        for row in rows:
            if isinstance(row.processed, int):
                self._processed_at_start.setdefault(row.hostname, row.processed)

    def _workers_busy(self) -> bool:
        """Work is happening (tasks active, or processed since we started): an
        idle cluster also sends no task events, and deserves no warning."""
        for row in self._worker_rows:
            if isinstance(row.active, int) and row.active > 0:
                return True
            start = self._processed_at_start.get(row.hostname)
            if isinstance(row.processed, int) and start is not None and row.processed > start:
                return True
        return False

    def _size_workers_pane(self, count: int) -> None:
        if self.loop is not None:
            _cols, rows = self.loop.screen.get_cols_rows()
        else:
            rows = 24
        available = max(0, rows - 3 - 2)  # header, status line
        height = max(3, min(count + 2, max(4, available // 3)))
        item = self.body.contents[0]
        if item[1] != ("given", height):
            self.body.contents[0] = (item[0], self.body.options("given", height))

    def _update_statusbar(self) -> None:
        if self._message_holds is not None and not self._message_holds():
            self._message_until = 0.0
        message = self._message if time.monotonic() < self._message_until else ""
        pane = self._focused_list()
        position = ""
        if self.help is None and not self.views and pane.walker.items:
            position = f"{pane.walker.focus + 1}/{len(pane.walker.items)}"
        pane_filter = self.worker_filter if self.focused_pane_name() == "workers" else self.task_filter
        if pane_filter and not self.views:
            position = f"filter: {pane_filter.text}  {position}"
        self.statusbar.update(self.keymap.hints(self.contexts()), position, message)

    def _tick(self, loop, _data=None) -> None:
        self.refresh()
        loop.set_alarm_in(self.refresh_interval, self._tick)

    # -- seeding (runs on the control executor) -------------------------------
    def on_connected(self) -> None:
        """Called on the capture thread at each (re)connection."""
        if self.control is None:
            return
        self.control.submit(self._seed, self.status.snapshot().connects)

    def _seed(self, connection: int) -> None:
        try:
            report = seed.seed(self.model, self.control, enable_events=self.enable_events)
            self.deliver(self._seeded, report, "", connection)
        except Exception as exc:  # noqa: BLE001 - shown on screen, never raised
            self.deliver(self._seeded, None, one_line_error(exc), connection)

    def _worker_appeared(self, _hostname) -> None:
        """The model's ``on_new_worker``, on whichever thread added the worker:
        refresh now rather than at the next tick, once for a burst of them."""
        if not self._new_worker_refresh_due:
            self._new_worker_refresh_due = True  # set first: the refresh may run before deliver returns
            if not self.deliver(self._refresh_for_new_worker):
                self._new_worker_refresh_due = False  # no loop to take it: the next one asks again

    def _refresh_for_new_worker(self) -> None:
        self._new_worker_refresh_due = False  # before reading the model: a worker added from now on asks again
        self.refresh()

    def _seeded(self, report, error, connection: int) -> None:
        if report is not None:
            self.seed_report = report
        self.seed_error = error
        self.seed_connection = connection
        self.refresh()

    def deliver(self, callback, *args) -> bool:
        """Run ``callback(*args)`` on the UI thread (from any thread); False if no loop runs to take it."""
        loop = self.loop
        if loop is None:
            return False
        try:
            loop.call_from_thread(callback, *args)
        except RuntimeError:  # the loop stopped meanwhile
            return False
        return True

    # -- run ------------------------------------------------------------------
    def build_screen(self):
        screen = raw.Screen()
        mode = COLOR_MODES.get(self.colors)
        if mode is not None:
            screen.set_terminal_properties(colors=mode)
        theme = "mono" if screen.colors == 1 else "default"
        screen.register_palette(palettes.palette(theme))
        return screen

    def run(self, on_start=None) -> None:
        """Run until 'q'; ``on_start`` runs once the loop can take calls from threads."""
        screen = self.build_screen()
        self.loop = urwid.MainLoop(self.root, screen=screen, handle_mouse=False)
        self.loop.set_alarm_in(0, self._tick)
        if on_start is not None:
            self.loop.set_alarm_in(0, lambda *_: on_start())
        self.model.on_new_worker = self._worker_appeared
        try:
            self.loop.run()
        finally:
            self.model.on_new_worker = None
            self.loop = None
            self.queues.close()
