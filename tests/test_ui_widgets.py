"""The urwid widgets rendered directly, without a terminal."""

from celerytop.events.capture import ConnectionStatus
from celerytop.model.cluster import ClusterModel
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


def test_a_filter_narrows_12k_tasks_exactly():
    from tests.events import event

    model = ClusterModel(max_tasks=20_000, max_failures=20_000)
    expected = set()
    for i in range(12_000):
        name = ("billing.charge", "email.send", "images.resize")[i % 3]
        final = "task-failed" if i % 7 == 0 else "task-succeeded"
        uuid, events = task_lifecycle(name=name, final=final, hostname=f"w{i % 4}@host")
        for e in events:
            model.on_event(e)
        if name == "billing.charge" and final == "task-failed" and i % 4 != 2:
            expected.add(uuid)
    model.on_event(event("task-received", uuid="x-1", name="billing.charge", hostname="w2@host"))
    app = MonitorApp(model, ConnectionStatus())
    app.refresh()
    render(app)
    app.listing.apply_filter("name:billing.* state:FAILURE -worker:w2@*")
    assert set(app.tasks.walker.items) == expected
    assert len(expected) > 300
    screen = render(app)
    listed = [line for line in screen if "billing.charge" in line]
    assert listed and all("FAILURE" in line and "w2@host" not in line for line in listed)
    assert f"{len(expected)} of 12001 match" in "\n".join(screen)
    app.listing.apply_filter("name:[unclosed")  # still a glob: matches nothing, no crash
    assert app.tasks.walker.items == []
    app.listing.apply_filter("")
    assert len(app.tasks.walker.items) == 12_001


def test_no_task_events_hint_only_when_workers_are_busy():
    import time

    from celerytop.model.seed import SeedReport

    status = ConnectionStatus(monotonic=lambda: time.monotonic() - 60)
    status.connected()  # connected a minute ago
    model = ClusterModel()
    model.on_event(heartbeat("w1@host", active=0, processed=5))
    app = MonitorApp(model, status)
    app.notices.seed_report = SeedReport(workers=("w1@host",), active=0, reserved=0)
    app.refresh()
    hint = "run tasks but send no task events"
    assert not any(hint in n for n in app.notices.notes(model.summary(), status.snapshot())), "idle cluster warned"
    model.on_event(heartbeat("w1@host", active=0, processed=9))  # it ran tasks we never heard of
    app.refresh()
    assert any(hint in n for n in app.notices.notes(model.summary(), status.snapshot()))


def test_workers_offline_longer_than_the_limit_fold_into_one_line():
    from celerytop.model.rows import WorkerRow
    from celerytop.present.columns import FoldedWorkers, fold_offline, worker_cells

    def row(name, online, age):
        return WorkerRow(name, online, 1 if online else None, 5, None, age, "py-celery 5.7.0")

    rows = [row("a@h", True, 1.0), row("b@h", False, 30.0), row("c@h", False, 700.0), row("d@h", False, 9000.0)]
    folded = fold_offline(rows, 600.0, expanded=False)
    assert [r.hostname for r in folded] == ["a@h", "b@h", None]
    assert isinstance(folded[-1], FoldedWorkers) and folded[-1].count == 2
    assert [text for _style, text in worker_cells(folded[-1])[1:3]] == ["+2 offline", "o lists them"]
    expanded = fold_offline(rows, 600.0, expanded=True)
    assert [r.hostname for r in expanded] == ["a@h", "b@h", "c@h", "d@h", None]
    assert worker_cells(expanded[-1])[2][1] == "o folds them"
    assert fold_offline(rows[:2], 600.0, expanded=False) == rows[:2], "nothing to fold: no line"
    assert worker_cells(rows[3])[2] == ("worker.offline", "offline 2h ago")
    assert worker_cells(rows[1])[3] == ("row", "-"), "no ACTIVE count for an offline worker"


def test_limits_read_from_inspect_registered_show_none_as_a_dash():
    from celerytop.control.limits import limit_text, limits_on_workers, task_info

    # the shape celery's 'inspect registered rate_limit time_limit soft_time_limit' replies in
    replies = {"w1@h": ["tests.add [rate_limit=10/m time_limit=60 soft_time_limit=30]",
                        "tests.echo [rate_limit=None time_limit=None soft_time_limit=None]"],
               "w2@h": ["tests.add [rate_limit=0 time_limit=None soft_time_limit=None]"]}
    assert task_info("tests.add") == ("tests.add", {})
    assert limits_on_workers(replies, "tests.add") == {
        "w1@h": {"rate_limit": "10/m", "time_limit": "60", "soft_time_limit": "30"},
        "w2@h": {"rate_limit": "-", "time_limit": "-", "soft_time_limit": "-"}}
    assert [limit_text(v) for v in (None, "None", "0", "", "5/s", 12)] == ["-", "-", "-", "-", "5/s", "12"]


def test_a_value_offered_in_a_prompt_is_replaced_by_typing_and_kept_by_editing():
    from celerytop.ui.widgets.prompt import Prompt

    prompt = Prompt("rate limit: ", "", lambda text: None, lambda: None)
    prompt.offer("10/m")
    prompt.keypress((40,), "2")
    assert prompt.text == "2"
    prompt.offer("10/m")
    prompt.keypress((40,), "backspace")
    prompt.keypress((40,), "s")
    assert prompt.text == "10/s"
    prompt.set_caption_note("now 10/m on 1 worker")
    assert prompt.edit.caption == "rate limit [now 10/m on 1 worker]: "


def test_the_types_view_keeps_whole_names_and_gives_the_sparkline_what_is_left():
    from celerytop.ui.views.types_view import TypesView

    model = ClusterModel()
    names = [f"demo.payments.capture{i}" for i in range(3)]
    for name in names:
        for event in task_lifecycle(name=name)[1]:
            model.on_event(event)
    for cols, sparkline_room in ((200, 30), (156, 12)):  # wide: all 5 minutes; narrow: the newest only
        canvas = TypesView(model).render((cols, 12), focus=True)
        lines = [line.decode("utf-8") for line in canvas.text]
        head = next(line for line in lines if "FINISHED/10s" in line)
        assert len(head.rstrip()) <= cols
        for name in names:
            assert any(f" {name} " in line for line in lines), (cols, name, lines)
        assert len(head) - head.index("FINISHED/10s") >= sparkline_room
