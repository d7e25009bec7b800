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
from functools import partial

import urwid
from urwid.display import raw

from celerytop.control.history import History
from celerytop.events import capture
from celerytop.model.alerts import AlertEngine
from celerytop.present import formatting, palettes
from celerytop.present.columns import TASK_COLUMNS, WORKER_COLUMNS, FoldedWorkers, task_cells, worker_cells
from celerytop.ui.alerting import ScreenAlerts
from celerytop.ui.controllers.actions import ControlActions
from celerytop.ui.controllers.alerts import AlertsController
from celerytop.ui.controllers.beat import BeatController
from celerytop.ui.controllers.console import CommandConsole
from celerytop.ui.controllers.conversation import Conversation
from celerytop.ui.controllers.drilldown import DrillDown
from celerytop.ui.controllers.failures import FailuresController
from celerytop.ui.controllers.queues import QueuesController
from celerytop.ui.controllers.stuck import StuckController
from celerytop.ui.controllers.types import TypesController
from celerytop.ui.controllers.worker_actions import WorkerActions
from celerytop.ui.keys import commands
from celerytop.ui.keys.keymap import CONTEXTS, Keymap, key_label
from celerytop.ui.listing import Listing
from celerytop.ui.notices import HeaderNotices
from celerytop.ui.seeding import Seeding
from celerytop.ui.selection import Selection
from celerytop.ui.views.queues_view import QueueMonitor, QueuesView
from celerytop.ui.viewstack import ViewStack
from celerytop.ui.widgets.header import Header
from celerytop.ui.widgets.panes import Pane
from celerytop.ui.widgets.statusbar import StatusBar

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
        stack = self._app.stack
        if stack.dialog is not None:  # a confirmation takes the next key, whatever it is
            return stack.dialog.keypress(size, key)
        if stack.prompt is not None:  # an open prompt takes every key
            return super().keypress(size, key)
        command = self._app.keymap.resolve(self._app.contexts(), key)
        if command is not None:
            self._app.run_command(command)
            return None
        unhandled = super().keypress(size, key)
        if unhandled is not None:  # no binding and no widget took it: never silently nothing
            self._say_unknown(unhandled)
        return None

    def _say_unknown(self, key) -> None:
        if not isinstance(key, str):  # a mouse event tuple: mouse handling is off
            return
        elsewhere = [CONTEXTS[c] for c in self._app.keymap.contexts_binding(key) if c not in ("global", "list")]
        where = f"it works in: {', '.join(elsewhere)}; " if elsewhere else ""
        self._app.flash(f"{key_label(key)}: no such key here ({where}? lists the keys)")


class MonitorApp:
    """Composes the screen: panes, view stack, controllers; refreshes on a timer and routes keys."""

    PANES = ("workers", "tasks")

    def __init__(self, model, status, control=None, *, app_name="", broker_url="", refresh=1.0,
                 enable_events=True, colors="auto", keymap=None, history=None, scope="",
                 fold_offline_after: float | None = 600.0, ascii: bool = False, schedule=None,
                 alerts: ScreenAlerts | None = None):
        self.model = model
        self.status = status
        self.control = control
        self.refresh_interval = max(0.05, float(refresh))
        self.colors = colors
        self.keymap = keymap or Keymap()
        self.loop = None
        self._message = ""
        self._message_until = 0.0
        self._message_holds = None  # while it returns true, the message still describes the screen
        self._new_worker_refresh_due = False
        self.replay = None  # a recording.Replayer when --replay feeds the screen

        self.header = Header(app_name, broker_url, ascii=ascii)
        self.notices = HeaderNotices(audit=control.audit if control is not None else None, scope=scope,
                                    read_only=control is not None and control.read_only)
        self.workers = Pane(WORKER_COLUMNS, lambda row: worker_cells(row, row.hostname in self.selection.worker_marks),
                            key=lambda row: row.hostname, empty_text=" No workers seen yet.")
        self.tasks = Pane(TASK_COLUMNS, lambda uuid: task_cells(self.model.task_row(uuid), uuid in self.selection.marks),
                          empty_text=" No tasks seen yet.")
        self.statusbar = StatusBar()
        self.body = urwid.Pile([("given", 4, self.workers), ("weight", 1, self.tasks)])
        self.frame = urwid.Frame(self.body, header=self.header, footer=self.statusbar)
        self.root = KeyRouter(self, self.frame)
        self.stack = ViewStack(self.frame, self.body, self.statusbar, show=self.root.set, say=self.flash,
                               screen_size=self.screen_size)
        self.selection = Selection(self.tasks, self.workers, self.stack, self.focused_pane_name)
        self.listing = Listing(model, self.tasks, self.workers, self.selection, self.stack, say=self.flash,
                               refresh=self.refresh, fold_offline_after=fold_offline_after)
        deliver = self.deliver
        self.seeding = Seeding(model, control, status, self.notices, deliver=deliver, refresh=self.refresh,
                               enable_events=enable_events)
        self.talk = Conversation(
            say=self.flash, confirm=self.stack.confirm, ask=self.stack.ask, deliver=deliver,
            current_prompt=lambda: self.stack.prompt, broker_down=self.broker_down, message_width=self.message_width)
        self.actions = ControlActions(control, model, self.selection, self.talk, follow=self.follow)
        self.worker_actions = WorkerActions(control, self.actions, model, self.selection, self.talk)
        self.queues = QueueMonitor(control, self.talk, self.actions.allowed,
                                   partial(self.stack.refresh_views, QueuesView.context), self.call_later, model=model)
        self.drilldown = DrillDown(control, model, self.stack, self.selection, self.talk, self.queues)
        self.failures = FailuresController(model, self.stack, self.talk, self.listing,
                                           open_task=self.drilldown.open_task,
                                           focus_tasks=partial(self.focus_pane, "tasks"))
        self.types = TypesController(model, self.stack, self.listing, say=self.flash)
        self.queue_table = QueuesController(model, self.stack, self.listing, self.flash,
                                            show=self.drilldown.show_queues, close=self.close_view,
                                            focus_tasks=partial(self.focus_pane, "tasks"))
        self.beat = BeatController(model, self.stack, self.listing, schedule)  # model/beat.py's BeatPlan
        self.alerting = alerts  # None: no rule evaluated (tests that build the app bare)
        self.notices.alarms += [alerts.headline, alerts.log_error] if alerts is not None else []
        self.alerts = AlertsController(model, self.stack, self.listing, self.flash,
                                       alerts.engine if alerts is not None else AlertEngine(()))
        self.console = CommandConsole(control, model, history if history is not None else History(None), self.talk,
                                      self.stack, self.queues, self.actions, show_queues=self.drilldown.show_queues,
                                      open_task=self.drilldown.open_task, refresh=self.refresh,
                                      show_failures=self.failures.show, show_types=self.types.show,
                                      show_stuck=lambda: self.stuck.show(), show_beat=self.beat.show,
                                      show_alerts=self.alerts.show)
        self.stuck = StuckController(model, self.stack, self.listing, say=self.flash,
                                     focus_tasks=partial(self.focus_pane, "tasks"),
                                     reconcile=partial(self.console.run, "reconcile"))
        # their views draw sparklines or sort arrows: ASCII ones with --ascii
        for part in (self.types, self.failures, self.drilldown, self.stuck, self.beat, self.alerts, self.queue_table):
            part.view_options = {"ascii": ascii}
        self.workers.ascii = self.tasks.ascii = ascii
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
        return self.stack.contexts(self.focused_pane_name())

    def quit(self) -> None:
        raise urwid.ExitMainLoop()

    def show_help(self) -> None:
        self.stack.show_help(self.keymap)

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
        return self.stack.focused(self.workers if self.focused_pane_name() == "workers" else self.tasks)

    # -- views ------------------------------------------------------------------
    def close_view(self) -> None:
        self.stack.pop()
        self.refresh()

    def open_view(self) -> None:
        if self.stack.top is not None:
            self.drilldown.open_linked()
            return
        if self.focused_pane_name() == "workers":
            row = self.workers.walker.focus_item
            if isinstance(row, FoldedWorkers):
                self.listing.toggle_offline_workers()
            elif row is not None:
                self.drilldown.open_worker(row.hostname)
            return
        uuid = self.tasks.walker.focus_item
        if uuid is not None:
            self.drilldown.open_task(uuid)

    def follow(self, uuid: str) -> None:
        """Put the cursor on ``uuid`` as soon as it shows up (a retried task);
        a filter that would hide it is cleared."""
        self.listing.follow_uuid = uuid
        if self.stack.views:
            self.close_view()
        if self.listing.task_filter:
            self.listing.apply_filter("")
        self.refresh()

    def reload_view(self) -> None:
        """Ask again: an inspect view re-sends its question, the queues view samples now."""
        if self.stack.top is not None:
            self.stack.top.reload()

    def _replay_control(self, action: str) -> None:
        if self.replay is None:
            self.flash("Not replaying: celerytop --replay FILE feeds a recording to the screen")
            return
        if action == "step" and not self.replay.paused:
            self.replay.pause()
        getattr(self.replay, action)()
        self.refresh()

    def flash(self, message: str, seconds: float = 5.0, holds=None) -> None:
        """Say ``message`` in the status line for ``seconds``; ``holds()`` ties it to the
        state it describes (a filter, a view): once that returns false, the message goes."""
        self._message = formatting.sanitize(message, limit=300)
        self._message_until = time.monotonic() + seconds
        self._message_holds = holds
        self._update_statusbar()

    def screen_size(self) -> tuple:
        """(cols, rows) of the terminal; 80x24 while no loop runs."""
        return self.loop.screen.get_cols_rows() if self.loop is not None else (80, 24)

    def message_width(self) -> int:
        """Columns the status line has for a message at the terminal's current width."""
        return self.statusbar.message_room(self.screen_size()[0])

    # -- refresh --------------------------------------------------------------
    def refresh(self, reset_cursor: bool = False) -> None:
        self.model.sample_event_rate()
        if self.alerting is not None:
            self.alerting.check(self.model, self.ring_bell)
        summary = self.model.summary()
        status = self.status.snapshot()
        all_worker_rows = self.model.worker_rows()
        self.notices.note_worker_counts(all_worker_rows)
        self.header.update(summary, status, self.notices.notes(summary, status), mode=self.notices.mode(self.replay))
        self.listing.fill_workers(summary, all_worker_rows)
        self._size_workers_pane(len(self.workers.walker.items))
        self.listing.fill_tasks(summary, reset_cursor)
        if self.stack.top is not None:
            self.stack.top.refresh()
        self._update_statusbar()

    def ring_bell(self) -> None:
        """The terminal bell (BEL), once: an alert started firing."""
        if self.loop is not None:
            self.loop.screen.write("\a")
            self.loop.screen.flush()

    def broker_down(self) -> str:
        """The error that took the broker away while it is down, else ''. The first
        connection, not failed yet, is not 'down': commands wait for it."""
        status = self.status.snapshot()
        if status.state in (capture.RETRYING, capture.CONNECTING) and status.error:
            return status.error
        return ""

    def _size_workers_pane(self, count: int) -> None:
        rows = self.screen_size()[1]
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
        if self.stack.help is None and not self.stack.views and pane.walker.items:
            position = f"{pane.walker.focus + 1}/{len(pane.walker.items)}"
        pane_filter = self.listing.filter_of(self.focused_pane_name())
        if pane_filter and not self.stack.views:
            position = f"filter: {pane_filter.text}  {position}"
        self.statusbar.update(self.keymap.hints(self.contexts()), position, message)

    def _tick(self, loop, _data=None) -> None:
        self.refresh()
        loop.set_alarm_in(self.refresh_interval, self._tick)

    # -- the thread bridge ---------------------------------------------------------
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

    def call_later(self, seconds: float, callback) -> None:
        """Run ``callback()`` on the UI thread in ``seconds``, while the loop runs."""
        if self.loop is not None:
            self.loop.set_alarm_in(seconds, lambda *_: callback())

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
        if self.alerting is not None:  # once the loop runs: the sampler delivers its rounds through it
            self.loop.set_alarm_in(0, lambda *_: self.alerting.watch_queues(self.queues))
        try:
            self.loop.run()
        finally:
            self.model.on_new_worker = None
            self.loop = None
            self.queues.close()
