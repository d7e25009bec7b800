"""The urwid application: layout, the refresh timer and key dispatch.

Data flows one way: the capture thread feeds the model; a timer
(``refresh`` seconds) reads snapshots from the model and the connection
status and updates the widgets.  Keys resolve through the keymap to a
command name, and commands to the handlers below.
"""

from __future__ import annotations

import time

import urwid
from urwid.display import raw

from celerytop import capture, formatting, palettes, seed
from celerytop.keymap import Keymap
from celerytop.ui.header import Header
from celerytop.ui.help import HelpOverlay
from celerytop.ui.panes import TASK_COLUMNS, WORKER_COLUMNS, Pane, task_cells, worker_cells
from celerytop.ui.statusbar import StatusBar

#: Seconds connected with workers answering pings but no task event seen,
#: before the header suggests that task events are off.
NO_TASK_EVENTS_HINT_AFTER = 10.0

COLOR_MODES = {"auto": None, "mono": 1, "16": 16, "256": 256, "truecolor": 2**24}


class KeyRouter(urwid.WidgetWrap):
    """The top widget: every key goes through the keymap before any widget."""

    def __init__(self, app, widget):
        self._app = app
        super().__init__(widget)

    def set(self, widget) -> None:
        self._w = widget

    def keypress(self, size, key):
        command = self._app.keymap.resolve(self._app.contexts(), key)
        if command is not None:
            self._app.run_command(command)
            return None
        return super().keypress(size, key)


class MonitorApp:
    PANES = ("workers", "tasks")

    def __init__(self, model, status, control=None, *, app_name="", broker_url="", refresh=1.0,
                 enable_events=True, colors="auto", keymap=None):
        self.model = model
        self.status = status
        self.control = control
        self.refresh_interval = max(0.05, float(refresh))
        self.enable_events = enable_events
        self.colors = colors
        self.keymap = keymap or Keymap()
        self.loop = None
        self.seed_report = None
        self.seed_error = ""
        self._message = ""
        self._message_until = 0.0
        self._task_version = -1
        self._started = time.monotonic()

        self.header = Header(app_name, broker_url)
        self.workers = Pane(WORKER_COLUMNS, worker_cells, key=lambda row: row.hostname,
                            empty_text=" No workers seen yet.")
        self.tasks = Pane(TASK_COLUMNS, lambda uuid: task_cells(self.model.task_row(uuid)),
                          empty_text=" No tasks seen yet.")
        self.statusbar = StatusBar()
        self.body = urwid.Pile([("given", 4, self.workers), ("weight", 1, self.tasks)])
        self.frame = urwid.Frame(self.body, header=self.header, footer=self.statusbar)
        self.help = None
        self.root = KeyRouter(self, self.frame)
        self._handlers = {
            "quit": self.quit,
            "help.show": self.show_help,
            "help.close": self.close_help,
            "focus.next": lambda: self.cycle_focus(1),
            "focus.prev": lambda: self.cycle_focus(-1),
            "cursor.up": lambda: self._focused_list().move("up"),
            "cursor.down": lambda: self._focused_list().move("down"),
            "cursor.page_up": lambda: self._focused_list().move("page up"),
            "cursor.page_down": lambda: self._focused_list().move("page down"),
            "cursor.top": lambda: self._focused_list().to_top(),
            "cursor.bottom": lambda: self._focused_list().to_bottom(),
        }
        self.focus_pane("tasks")

    # -- commands -------------------------------------------------------------
    @property
    def handlers(self) -> dict:
        return self._handlers

    def run_command(self, name: str) -> None:
        self._handlers[name]()
        self._update_statusbar()

    def contexts(self) -> tuple:
        if self.help is not None:
            return ("help", "list", "global")
        return (self.focused_pane_name(), "list", "global")

    def quit(self) -> None:
        raise urwid.ExitMainLoop()

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
        return self.workers if self.focused_pane_name() == "workers" else self.tasks

    def flash(self, message: str, seconds: float = 5.0) -> None:
        self._message = formatting.sanitize(message, limit=300)
        self._message_until = time.monotonic() + seconds
        self._update_statusbar()

    # -- refresh --------------------------------------------------------------
    def refresh(self) -> None:
        summary = self.model.summary()
        status = self.status.snapshot()
        self.header.update(summary, status, self.notices(summary, status))

        worker_rows = self.model.worker_rows()
        self.workers.set_items(worker_rows)
        self.workers.set_title(f" Workers  {summary.workers_online} online / {summary.workers_total} known")
        self._size_workers_pane(len(worker_rows))

        version = self.model.version
        following = self.tasks.walker.focus == 0
        if version != self._task_version:
            self._task_version = version
            self.tasks.set_items(self.model.task_order(), follow_top=following)
        else:
            self.tasks.walker.invalidate()  # runtimes of started tasks tick on
        title = f" Tasks  {summary.task_count} in memory, newest first"
        if following and summary.task_count:
            title += "  · following new tasks"
        self.tasks.set_title(title)
        self._update_statusbar()

    def notices(self, summary, status) -> list:
        notes = []
        if self.seed_error:
            notes.append(f"Could not ask workers for their state: {self.seed_error}")
        report = self.seed_report
        if (
            report is not None
            and report.workers
            and summary.task_events == 0
            and status.state == capture.CONNECTED
            and status.connected_since is not None
            and time.monotonic() - status.connected_since > NO_TASK_EVENTS_HINT_AFTER
        ):
            notes.append(
                f"{len(report.workers)} worker(s) answer pings but send no task events: "
                "start them with -E or run 'celery control enable_events'"
            )
        if summary.unknown_events or summary.malformed_events:
            kinds = ", ".join(formatting.sanitize(t, limit=40) for t in summary.unknown_types[:3])
            parts = []
            if summary.unknown_events:
                parts.append(f"{summary.unknown_events} of unknown type ({kinds})")
            if summary.malformed_events:
                parts.append(f"{summary.malformed_events} malformed")
            notes.append("Ignored events: " + ", ".join(parts))
        return notes

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
        message = self._message if time.monotonic() < self._message_until else ""
        pane = self._focused_list()
        position = ""
        if self.help is None and pane.walker.items:
            position = f"{pane.walker.focus + 1}/{len(pane.walker.items)}"
        self.statusbar.update(self.keymap.hints(self.contexts()), position, message)

    def _tick(self, loop, _data=None) -> None:
        self.refresh()
        loop.set_alarm_in(self.refresh_interval, self._tick)

    # -- seeding (runs on the control executor) -------------------------------
    def on_connected(self) -> None:
        """Called on the capture thread at each (re)connection."""
        if self.control is None:
            return
        self.control.submit(self._seed)

    def _seed(self) -> None:
        try:
            report = seed.seed(self.model, self.control, enable_events=self.enable_events)
            self._deliver(self._seeded, report, "")
        except Exception as exc:  # noqa: BLE001 - shown on screen, never raised
            self._deliver(self._seeded, None, capture.one_line_error(exc))

    def _seeded(self, report, error) -> None:
        if report is not None:
            self.seed_report = report
        self.seed_error = error
        self.refresh()

    def _deliver(self, callback, *args) -> None:
        loop = self.loop
        if loop is None:
            return
        try:
            loop.call_from_thread(callback, *args)
        except RuntimeError:  # the loop stopped meanwhile
            pass

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
        try:
            self.loop.run()
        finally:
            self.loop = None
