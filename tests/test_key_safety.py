"""No single key changes the cluster: every binding pressed on a real MonitorApp.

The cluster cannot run in a pure test, so the one thing replaced is what
would reach it: :class:`SpyControl` is celerytop's Control whose publishing
methods (execute, send_task, run_on_broker, enable_events) record instead of
sending, whose inspect/ping answer nothing, and whose calls run at once.  The
live tests (tests/test_live_control.py) show the same keys against real workers.
"""

from concurrent.futures import Future

import pytest
import urwid
from celery import Celery

from celerytop.control.control import Control
from celerytop.control.queues.probe import QueueDepth
from celerytop.control.replies import Outcome
from celerytop.events.capture import ConnectionStatus
from celerytop.model import filtering
from celerytop.model.cluster import ClusterModel
from celerytop.ui.app import MonitorApp
from celerytop.ui.keys import commands
from celerytop.ui.keys.keymap import DEFAULT_BINDINGS
from celerytop.ui.views.queues_view import QueuesView
from celerytop.ui.views.task_detail import TaskDetailView
from tests.events import heartbeat, task_lifecycle

SIZE = (120, 40)


class SpyControl(Control):
    """Control with its publishing replaced by a record of what would be sent."""

    def __init__(self, read_only=False):
        super().__init__(Celery("spy", broker="memory://", set_as_current=False), read_only=read_only)
        self.sent = []

    def submit(self, fn, *args, **kwargs):
        future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - as the executor would
            future.set_exception(exc)
        return future

    submit_backend = submit  # result-backend calls too: at once

    def execute(self, command, arguments=None, destination=(), timeout=None):
        self.sent.append((command, arguments, tuple(destination or ())))
        return Outcome(command, tuple(destination or ()), {})

    def send_task(self, name, args, kwargs):
        self.sent.append(("send_task", name))
        return Outcome("retry", (), {}, sent=f"sent {name} again as 00000000-0000-0000-0000-000000000000")

    def run_on_broker(self, command, arguments, action):
        self.sent.append((command, arguments))
        return Outcome(command, (), {}, sent="done")

    def enable_events(self, destination=None):
        self.sent.append(("enable_events", destination))

    def inspect(self, method, destination=None, *args, timeout=None):
        return {}

    def ping(self, destination=None, timeout=None):
        return {}


class SyncExecutor:
    def submit(self, fn, *args, **kwargs):
        return SpyControl.submit(None, fn, *args, **kwargs)


class FakeProbe:
    """Queue depths without a broker (the queues view's sampler)."""

    def measure(self, names):
        return [QueueDepth(name, 3, None) for name in names]


class InPlaceLoop:
    """Stands in for urwid's MainLoop, which needs a terminal: what another thread delivers
    runs on the spot, alarms are dropped, and the screen is 80x24 (as the app assumes without a loop)."""

    class screen:
        @staticmethod
        def get_cols_rows():
            return (80, 24)

    @staticmethod
    def call_from_thread(callback, *args):
        callback(*args)

    @staticmethod
    def set_alarm_in(seconds, callback):
        pass


def make_app(states=("STARTED",), workers=("alpha@vm", "beta@vm"), read_only=False):
    model = ClusterModel()
    for hostname in workers:
        model.on_event(heartbeat(hostname, active=1))
    uuids = []
    for state in states:
        final = {"STARTED": None, "SUCCESS": "task-succeeded", "FAILURE": "task-failed",
                 "RETRY": "task-retried"}[state]
        uuid, events = task_lifecycle(name="proj.add", final=final, hostname=workers[0])
        for event in events:
            model.on_event(event)
        uuids.append(uuid)
    app = MonitorApp(model, ConnectionStatus(), SpyControl(read_only=read_only))
    app.loop = InPlaceLoop()
    app.queues._executor = SyncExecutor()
    app.queues._probe = FakeProbe()
    app.refresh()
    return app, uuids


def put_in_context(app, context):
    """Where a binding of ``context`` applies, with something under the cursor."""
    if context == "workers":
        app.focus_pane("workers")
    elif context == "detail":
        app.stack.push(TaskDetailView(app.model, app.tasks.walker.focus_item))
    elif context == "queues":
        app.queues.start()
        app.stack.push(QueuesView(app.queues))
        app.stack.top.walker.set_focus(1)  # the first queue, under the column head
        assert app.stack.top.selected_queue()
    elif context == "help":
        app.show_help()
    else:
        app.focus_pane("tasks")


def press(app, key):
    try:
        app.root.keypress(SIZE, key)
    except urwid.ExitMainLoop:
        pass


@pytest.mark.parametrize("binding", DEFAULT_BINDINGS, ids=lambda b: f"{b.context}:{b.key}")
def test_no_single_key_changes_the_cluster(binding):
    app, _uuids = make_app()
    put_in_context(app, binding.context)
    press(app, binding.key)
    assert app.control.sent == [], f"{binding.key!r} sent {app.control.sent} with no prompt or confirmation"
    if commands.COMMANDS[binding.command].changes_cluster:
        assert app.stack.dialog is not None or app.stack.prompt is not None, \
            f"{binding.key!r} ({binding.command}) changes the cluster but neither asked nor confirmed"


@pytest.mark.parametrize("binding", [b for b in DEFAULT_BINDINGS if commands.COMMANDS[b.command].changes_cluster],
                         ids=lambda b: f"{b.context}:{b.key}")
def test_read_only_refuses_every_destructive_key_before_asking(binding):
    app, _uuids = make_app(read_only=True)
    put_in_context(app, binding.context)
    press(app, binding.key)
    assert app.control.sent == [] and app.stack.dialog is None and app.stack.prompt is None
    assert "Read-only mode" in app._message


def test_e_and_E_ask_first_and_E_says_the_monitor_goes_blind():
    app, _uuids = make_app()
    app.focus_pane("workers")
    press(app, "E")
    text = dialog_text(app)
    assert "Disable task events on 1 worker(s)?" in text
    assert "stop seeing that worker's tasks" in text and "Sent to: alpha@vm only." in text
    press(app, "n")
    assert app.control.sent == [] and "Cancelled: nothing was sent" in app._message
    press(app, "e")
    press(app, "y")
    assert app.control.sent == [("enable_events", {}, ("alpha@vm",))]


def dialog_text(app):
    """The screen as rendered (the dialog over the panes)."""
    assert app.stack.dialog is not None, app._message
    canvas = app.root.render((200, 40), focus=True)
    return "\n".join(line.decode("utf-8") for line in canvas.text)


def test_a_key_that_means_nothing_here_says_so():
    app, _uuids = make_app()
    app.focus_pane("workers")
    press(app, "c")  # revoke: a tasks-pane key
    assert app._message == "c: no such key here (it works in: Tasks pane; ? lists the keys)"
    press(app, "x")
    assert app._message == "x: no such key here (? lists the keys)"


def test_keys_a_prompt_or_dialog_takes_are_not_unknown():
    app, _uuids = make_app()
    app.focus_pane("workers")
    press(app, "/")
    for key in "x?c":
        press(app, key)
    assert app.stack.prompt is not None and "no such key" not in app._message
    press(app, "esc")
    press(app, "X")
    press(app, "x")  # cancels the dialog: that is its meaning
    assert app._message == "Cancelled: nothing was sent"


def test_typing_a_hostname_filter_in_the_workers_pane_sends_nothing():
    app, _uuids = make_app()
    app.focus_pane("workers")
    for key in "/beta":
        press(app, key)
    press(app, "enter")
    assert app.control.sent == []
    assert [row.hostname for row in app.workers.walker.items] == ["beta@vm"]
    assert app.workers._title.text.startswith(" Workers  1 of 2 match 'beta'")
    press(app, "esc")
    assert len(app.workers.walker.items) == 2 and "match" not in app.workers._title.text


@pytest.mark.parametrize("text, shown", [
    ("beta", ["beta@vm"]),
    ("!beta", ["alpha@vm", "gamma@k8s"]),
    ("-beta", ["alpha@vm", "gamma@k8s"]),
    ("*@vm", ["alpha@vm", "beta@vm"]),
    ("*@vm !alpha*", ["beta@vm"]),
    ("a k", ["gamma@k8s"]),
    ("ALPHA", ["alpha@vm"]),
    ("", ["alpha@vm", "beta@vm", "gamma@k8s"]),
])
def test_hostname_filter(text, shown):
    class Row:
        def __init__(self, hostname):
            self.hostname = hostname

    rows = [Row(h) for h in ("alpha@vm", "beta@vm", "gamma@k8s")]
    assert [r.hostname for r in filtering.parse_hosts(text).narrow(rows)] == shown


def test_a_bad_hostname_filter_is_explained_in_one_line():
    with pytest.raises(filtering.FilterError, match="need a term after them, e.g. !beta"):
        filtering.parse_hosts("beta !")
    with pytest.raises(filtering.FilterError, match="close the quote"):
        filtering.parse_hosts('"beta')


def test_the_shutdown_dialog_says_how_many_tasks_each_worker_runs():
    app, _uuids = make_app(states=("STARTED", "STARTED", "SUCCESS"), workers=("alpha@vm", "beta@vm"))
    app.model.on_event(heartbeat("beta@vm", active=0))
    app.refresh()
    app.focus_pane("workers")
    press(app, "*")
    press(app, "X")
    text = dialog_text(app)
    assert "alpha@vm: 2 tasks running" in text and "beta@vm: no task running" in text


def test_revoke_skips_finished_tasks_and_says_so():
    app, uuids = make_app(states=("STARTED", "SUCCESS", "FAILURE", "RETRY"))
    app.selection.marks.update(uuids)
    press(app, "c")
    text = dialog_text(app)
    assert "Revoke 2 task(s)?" in text
    assert "Skipped, 2 already finished (1 FAILURE, 1 SUCCESS): revoke cannot stop or undo them." in text
    press(app, "y")
    [(command, arguments, _where)] = app.control.sent
    assert command == "revoke" and sorted(arguments["task_id"]) == sorted([uuids[0], uuids[3]])


def test_revoking_only_finished_tasks_sends_nothing():
    app, uuids = make_app(states=("SUCCESS",))
    press(app, "c")
    assert app.stack.dialog is None and app.control.sent == []
    assert app._message == "Nothing to revoke: 1 already finished (1 SUCCESS); nothing was sent"


def test_marks_clear_once_a_command_used_them_and_the_status_line_says_so():
    app, uuids = make_app(states=("STARTED", "STARTED", "STARTED"))
    app.selection.marks.update(uuids)
    press(app, "c")
    press(app, "n")  # cancelled: the marks stay for another try
    assert app.selection.marks == set(uuids)
    press(app, "c")
    press(app, "y")
    assert app.selection.marks == set() and app._message.startswith("3 marks cleared · revoke → all workers")
    app.focus_pane("workers")
    press(app, "*")
    press(app, "+")
    press(app, "enter")
    assert app.selection.worker_marks == set() and app._message.startswith("2 marks cleared · pool_grow → alpha@vm, beta@vm")


def test_a_confirmation_at_80_columns_wraps_and_still_shows_what_y_does():
    long_name = "celery-worker-7f9c8d6b5-x2x9z@k8s-node-pool-a-3"
    app, _uuids = make_app(workers=(long_name,))
    app.focus_pane("workers")
    press(app, "E")
    screen = "\n".join(line.decode("utf-8") for line in app.root.render((80, 24), focus=True).text)
    assert "will stop seeing that worker's tasks." in screen
    assert "y send     any other key cancel (nothing is sent)" in screen


def test_a_limit_goes_to_the_marked_tasks_type_and_clears_the_marks_or_says_why_not():
    app, uuids = make_app(states=("STARTED", "STARTED"))
    app.selection.marks.update(uuids)
    press(app, "l")
    assert "rate limit for proj.add" in app.stack.prompt.edit.caption
    for key in "10/m":
        press(app, key)
    press(app, "enter")
    [(command, arguments, _where)] = app.control.sent
    assert (command, arguments) == ("rate_limit", {"task_name": "proj.add", "rate_limit": "10/m"})
    assert app.selection.marks == set() and app._message.startswith("2 marks cleared · rate_limit → all workers")

    other, events = task_lifecycle(name="proj.mul", final=None, hostname="alpha@vm")
    for event in events:
        app.model.on_event(event)
    app.selection.marks.update([uuids[0], other])
    press(app, "T")  # a time limit is per type too: two types marked, nothing asked or sent
    assert app.stack.prompt is None and len(app.control.sent) == 1
    assert app._message == ("time_limit is set per task type, and the marked tasks are of 2: proj.add, proj.mul; "
                            "mark tasks of one type (U clears the marks)")
    assert app.selection.marks == {uuids[0], other}
