"""The urwid widgets rendered directly, without a terminal."""

from celerytop.capture import ConnectionStatus
from celerytop.model import ClusterModel
from celerytop.ui.app import MonitorApp
from tests.events import heartbeat, task_lifecycle


def model_with_tasks(count, **kwargs):
    model = ClusterModel(max_tasks=count, **kwargs)
    uuids = []
    for i in range(count):
        uuid, events = task_lifecycle(name=f"proj.task{i}")
        for event in events:
            model.on_event(event)
        uuids.append(uuid)
    return model, uuids


def render(app, cols=120, rows=50):
    canvas = app.root.render((cols, rows), focus=True)
    return [line.decode("utf-8") for line in canvas.text]


def test_100k_tasks_build_only_the_rows_on_screen():
    model, uuids = model_with_tasks(100_000)
    app = MonitorApp(model, ConnectionStatus())
    app.refresh()
    screen = render(app)
    assert any(f"proj.task{99_999}" in line for line in screen)
    built = len(app.tasks.walker._cache)
    assert 0 < built <= 50, f"{built} row widgets built for a 50-line screen"
    app.run_command("cursor.bottom")
    screen = render(app)
    assert any("proj.task0 " in line for line in screen)
    assert len(app.tasks.walker._cache) <= 100
    assert "100000/100000" in screen[-1]


def test_the_selected_task_stays_selected_while_new_ones_arrive():
    model, uuids = model_with_tasks(10)
    app = MonitorApp(model, ConnectionStatus())
    app.refresh()
    render(app)
    app.run_command("cursor.down")
    app.run_command("cursor.down")
    selected = app.tasks.walker.focus_item
    assert selected == uuids[-3]
    for _ in range(5):
        for event in task_lifecycle()[1]:
            model.on_event(event)
    app.refresh()
    render(app)
    assert app.tasks.walker.focus_item == selected
    app.run_command("cursor.top")
    for event in task_lifecycle(name="proj.newest")[1]:
        model.on_event(event)
    app.refresh()
    assert "proj.newest" in "\n".join(render(app))
    assert app.tasks.walker.focus == 0


def test_workers_pane_grows_with_workers_and_lists_them():
    model = ClusterModel()
    for i in range(3):
        model.on_event(heartbeat(f"w{i}@host"))
    app = MonitorApp(model, ConnectionStatus())
    app.refresh()
    screen = "\n".join(render(app, 120, 30))
    for i in range(3):
        assert f"w{i}@host" in screen
    assert "Workers  3 online / 3 known" in screen


def test_a_row_whose_task_was_evicted_renders_blank_instead_of_failing():
    model, uuids = model_with_tasks(5)
    app = MonitorApp(model, ConnectionStatus())
    app.refresh()
    with model.lock:
        model._tasks.pop(uuids[-1])
    app.tasks.walker.invalidate()
    screen = render(app)
    assert not any("proj.task4" in line for line in screen)
