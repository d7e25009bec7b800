"""The view stack: views pushed and popped, its one overlay slot and the prompt, and the
view protocol every view implements (its key context, reload, selected_task)."""

from types import SimpleNamespace

import pytest

from celerytop.events.capture import ConnectionStatus
from celerytop.model.cluster import ClusterModel
from celerytop.ui.app import MonitorApp
from celerytop.ui.keys.keymap import CONTEXTS
from celerytop.ui.views import (audit, detail, help, inspect_views, queues_view, task_detail, worker_detail,
                                workflow_view)
from celerytop.ui.views.audit import AuditView
from celerytop.ui.views.detail import DetailView
from celerytop.ui.views.help import HelpOverlay
from celerytop.ui.views.inspect_views import InspectView
from celerytop.ui.views.queues_view import QueuesView
from celerytop.ui.views.task_detail import TaskDetailView
from celerytop.ui.widgets.prompt import Prompt
from tests.events import task_lifecycle

SIZE = (120, 40)


def make_app():
    model = ClusterModel()
    uuid, events = task_lifecycle(name="proj.add", final="task-succeeded")
    for event in events:
        model.on_event(event)
    app = MonitorApp(model, ConnectionStatus())
    app.refresh()
    return app, uuid


def fake_monitor():
    """What a QueuesView reads of its QueueMonitor, sampling counted instead of done."""
    monitor = SimpleNamespace(interval=3.0, error="", sampled_at=None, samples=0)
    monitor.sample_now = lambda: setattr(monitor, "samples", monitor.samples + 1)
    return monitor


def view_classes() -> list:
    """Every view class in celerytop/ui/views/."""
    modules = {m.__name__ for m in (audit, detail, help, inspect_views, queues_view, task_detail, worker_detail,
                                    workflow_view)}
    found, todo = [HelpOverlay], [DetailView]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted({cls for cls in found if cls.__module__ in modules}, key=lambda cls: cls.__name__)


# -- push and pop ---------------------------------------------------------------------
def test_push_shows_the_view_and_pop_goes_back_down_to_the_panes():
    app, uuid = make_app()
    stack = app.stack
    assert stack.top is None and app.frame.body is app.body
    first, second = TaskDetailView(app.model, uuid), QueuesView(fake_monitor())
    stack.push(first)
    stack.push(second)
    assert stack.views == [first, second] and stack.top is second and app.frame.body is second
    stack.pop()
    assert stack.top is first and app.frame.body is first
    stack.pop()
    assert stack.top is None and app.frame.body is app.body
    stack.pop()  # nothing left: still the panes
    assert stack.views == [] and app.frame.body is app.body


def test_escape_pops_one_view_at_a_time():
    app, uuid = make_app()
    app.stack.push(TaskDetailView(app.model, uuid))
    app.stack.push(AuditView(SimpleNamespace(path="", entries=[], error="")))
    app.root.keypress(SIZE, "esc")
    assert isinstance(app.stack.top, TaskDetailView)
    app.root.keypress(SIZE, "esc")
    assert app.stack.top is None


# -- the overlay slot ---------------------------------------------------------------------
def test_help_takes_the_overlay_slot_and_its_context_comes_first():
    app, _uuid = make_app()
    app.run_command("help.show")
    assert app.stack.help is app.stack.overlay and app.stack.dialog is None
    assert app.contexts() == ("help", "list", "global")
    assert app.root._w is not app.frame  # drawn over the frame
    app.run_command("help.close")
    assert app.stack.overlay is None and app.root._w is app.frame
    assert app.contexts() == ("tasks", "list", "global")


def test_a_confirmation_takes_the_one_overlay_slot_and_only_y_runs_it():
    app, _uuid = make_app()
    app.show_help()
    ran = []
    app.stack.confirm("Do it?", ["  this"], lambda: ran.append("yes"))
    assert app.stack.dialog is app.stack.overlay and app.stack.help is None
    app.root.keypress(SIZE, "enter")  # any other key cancels
    assert ran == [] and app.stack.overlay is None and app.root._w is app.frame
    assert app._message == "Cancelled: nothing was sent"
    app.stack.confirm("Do it?", ["  this"], lambda: ran.append("yes"))
    app.root.keypress(SIZE, "y")
    assert ran == ["yes"] and app.stack.overlay is None


def test_help_does_not_cover_a_confirmation():
    app, _uuid = make_app()
    dialog_lines = ["  that"]
    app.stack.confirm("Do it?", dialog_lines, lambda: None)
    dialog = app.stack.dialog
    app.show_help()
    assert app.stack.overlay is dialog


# -- the prompt slot ---------------------------------------------------------------------
def test_the_prompt_takes_the_footer_and_every_key_until_it_closes():
    app, _uuid = make_app()
    submitted = []
    prompt = Prompt("/", "", submitted.append, app.stack.close_prompt)
    app.stack.open_prompt(prompt)
    assert app.stack.prompt is prompt and app.frame.footer is prompt and app.frame.focus_position == "footer"
    app.root.keypress(SIZE, "q")  # typed, not quit
    app.root.keypress(SIZE, "enter")
    assert submitted == ["q"]
    app.stack.close_prompt()
    assert app.stack.prompt is None and app.frame.footer is app.statusbar and app.frame.focus_position == "body"


def test_ask_returns_its_prompt_and_a_value_that_does_not_parse_sends_nothing():
    from celerytop.control import inputs

    app, _uuid = make_app()
    values = []
    prompt = app.stack.ask("how many: ", "x", inputs.count, values.append)
    assert app.stack.prompt is prompt
    prompt.keypress((80,), "enter")
    assert values == [] and app.stack.prompt is None and app._message.startswith("Not sent:")
    app.stack.ask("how many: ", "3", inputs.count, values.append).keypress((80,), "enter")
    assert values == [3]


# -- the view protocol -----------------------------------------------------------------------
@pytest.mark.parametrize("cls", view_classes(), ids=lambda cls: cls.__name__)
def test_every_view_class_declares_a_context_the_keymap_knows_and_the_protocol(cls):
    assert isinstance(cls.context, str) and cls.context in CONTEXTS, f"{cls.__name__}.context = {cls.context!r}"
    for method in ("refresh", "reload", "selected_task", "selected_queue"):
        assert callable(getattr(cls, method, None)), f"{cls.__name__} has no {method}()"


def test_the_view_classes_found_include_every_kind():
    names = {cls.__name__ for cls in view_classes()}
    assert {"HelpOverlay", "TaskDetailView", "WorkerDetailView", "WorkflowView", "AuditView", "InspectView",
            "QueuesView"} <= names


def test_the_top_views_context_comes_first():
    app, uuid = make_app()
    app.stack.push(QueuesView(fake_monitor()))
    assert app.contexts() == ("queues", "detail", "list", "global")
    app.stack.push(TaskDetailView(app.model, uuid))
    assert app.contexts() == ("detail", "list", "global")


def test_reload_goes_to_the_top_view():
    app, uuid = make_app()
    asked = []
    inspect = InspectView("active", ask=asked.append)
    app.stack.push(inspect)
    app.run_command("view.reload")
    assert asked == [inspect]

    monitor = fake_monitor()
    app.stack.push(QueuesView(monitor))
    app.run_command("view.reload")
    assert monitor.samples == 1 and asked == [inspect]

    task_view = TaskDetailView(app.model, uuid)
    app.stack.push(task_view)
    redrawn = []
    task_view.refresh = lambda: redrawn.append(True)
    app.run_command("view.reload")
    assert redrawn == [True]


def test_the_selected_task_is_the_top_views_then_the_panes():
    app, uuid = make_app()
    assert app.selection.selected_task() == uuid  # the tasks pane has the focus
    app.focus_pane("workers")
    assert app.selection.selected_task() is None
    inspect = InspectView("active")
    inspect.answered({"w1@host": [{"id": uuid, "name": "proj.add", "args": "()", "kwargs": "{}"}]})
    app.stack.push(inspect)
    rows = [getattr(widget, "uuid", None) for widget in inspect.walker]
    inspect.walker.set_focus(rows.index(uuid))
    assert app.selection.selected_task() == uuid
    inspect.walker.set_focus(0)
    assert app.selection.selected_task() is None


def test_purge_asks_the_top_view_for_its_queue():
    app, _uuid = make_app()
    purged = []
    app.queues.purge = purged.append
    app.stack.push(InspectView("active"))
    app.run_command("queues.purge")
    assert purged == [] and app._message == "No queue under the cursor"
    view = QueuesView(fake_monitor())
    view.selected_queue = lambda: "celery"
    app.stack.push(view)
    app.run_command("queues.purge")
    assert purged == [["celery"]]
