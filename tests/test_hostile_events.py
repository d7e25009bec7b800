"""Hostile events, of every shape, through every path: model, every view, batch
text and JSON, dump, record, replay and --db.  Nothing raises, nothing a worker
sent reaches the output as a control character, rows keep the screen's width.

The fuzz tests are derandomized and bounded (hypothesis), so CI runs the same
examples every time, in seconds.
"""

import io
import json
import os
import pathlib
import re
import tempfile
import tracemalloc

import urwid
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from celerytop.events import eventcheck
from celerytop.events.capture import ConnectionStatus
from celerytop.events.recording.reader import replay_all
from celerytop.events.recording.writer import Recorder
from celerytop.model.cluster import ClusterModel
from celerytop.modes import batch
from celerytop.modes.dump import JsonDumper, SafeDumper
from celerytop.store.sqlite import Store
from celerytop.ui.app import MonitorApp
from celerytop.ui.views.inspect_views import InspectView
from celerytop.ui.views.task_detail import TaskDetailView
from celerytop.ui.views.worker_detail import WorkerDetailView
from celerytop.ui.views.workflow_view import WorkflowView
from tests.events import task_lifecycle
from tests.hostile import T0, events, hostile_events, nested, recording_text, visible_controls

FUZZ = settings(derandomize=True, max_examples=40, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
COLS, ROWS = 100, 40


def fed(event_list, **kwargs) -> ClusterModel:
    model = ClusterModel(max_tasks=20, max_failures=5, clock=lambda: T0 + 50, **kwargs)
    for event in event_list:
        model.on_event(event)
    return model


def assert_clean_rows(widget, cols=COLS, rows=ROWS, what=""):
    """Render ``widget`` at cols x rows: every row exactly ``cols`` wide, no control character in it."""
    size = (cols, rows) if rows else (cols,)
    canvas = widget.render(size, focus=True)
    for number, raw in enumerate(canvas.text):
        line = raw.decode("utf-8")
        assert not visible_controls(line), f"{what} row {number} holds {visible_controls(line)!r}: {line!r}"
        assert urwid.calc_width(line, 0, len(line)) == cols, f"{what} row {number} is not {cols} wide: {line!r}"


def render_every_view(model):
    app = MonitorApp(model, ConnectionStatus())
    app.refresh()
    assert_clean_rows(app.root, what="main screen")
    for uuid in model.query()[:6]:
        assert_clean_rows(TaskDetailView(model, uuid), what=f"task {uuid!r}")
        assert_clean_rows(WorkflowView(model, uuid), what=f"workflow {uuid!r}")
    for row in model.worker_rows()[:4]:
        view = WorkerDetailView(model, row.hostname)
        assert_clean_rows(view, what=f"worker {row.hostname!r}")
    return app


def render_outputs(model):
    text = batch.render_text(model, ConnectionStatus().snapshot(), COLS)
    assert not visible_controls(text), text
    assert all(urwid.calc_width(line, 0, len(line)) <= COLS for line in text.splitlines())
    document = batch.render_json(model, ConnectionStatus().snapshot())
    json.loads(document)  # one JSON document, whatever the events held
    assert not visible_controls(document)


def through_files(event_list, tmp_path):
    """record -> replay -> model -> --db save -> load: the same tasks come back."""
    path = tmp_path / "events.jsonl"
    path.unlink(missing_ok=True)
    with Recorder(str(path)) as recorder:
        for event in event_list:
            recorder.record(event)
    replayed = ClusterModel(max_tasks=20, max_failures=5, clock=lambda: T0 + 50)
    assert replay_all(str(path), replayed.on_event) == len(event_list)
    db = tmp_path / "history.db"
    for leftover in tmp_path.glob("history.db*"):
        leftover.unlink()
    store = Store(str(db))
    assert store.acquire_writer()
    store.save(replayed)
    store.close()
    loaded = ClusterModel(max_tasks=20, max_failures=5, clock=lambda: T0 + 50)
    reader = Store(str(db))
    reader.load(loaded)
    reader.close()
    assert sorted(loaded.query()) == sorted(replayed.query())
    return replayed, loaded


def dumped(event_list) -> str:
    out = io.StringIO()
    text, as_json = SafeDumper(out=out), JsonDumper(out)
    for event in event_list:
        text.on_event(event)
        as_json.on_event(event)
    return out.getvalue()


# -- the fixed set -------------------------------------------------------------------------------
def test_the_fixed_hostile_set_goes_through_every_path(tmp_path):
    hostile = hostile_events()
    good_uuid, good = task_lifecycle(name="proj.after", hostname="w1@fine", t0=T0)
    model = fed(hostile + good)
    summary = model.summary()
    refused = sum(1 for event in hostile if eventcheck.problem(event) is not None)
    assert summary.malformed_events >= refused > 10
    assert model.task_row(good_uuid).state == "SUCCESS", "good events after hostile ones still apply"
    # its task-received (a time of 1e308) is refused; its task-started (a time of -1) is kept
    assert model.task_row("hostile-1e308").state == "STARTED"
    render_every_view(model)
    render_outputs(model)
    replayed, loaded = through_files(hostile_events() + task_lifecycle(uuid=good_uuid, t0=T0)[1], tmp_path)
    assert replayed.summary().malformed_events == summary.malformed_events
    render_every_view(loaded)
    assert not visible_controls(dumped(hostile).replace("\n", ""))


def test_a_task_with_times_that_are_not_times_opens_in_detail():
    model = fed(hostile_events())
    for uuid in ("hostile-1e308", "hostile-name"):  # a time of -1; a runtime of 1e308
        screen = "\n".join(line.decode() for line in TaskDetailView(model, uuid).render((COLS, ROWS)).text)
        assert "Timeline" in screen and "runtime" in screen
    assert "?" in screen.split("runtime", 1)[1].split("\n")[0], "a runtime of 1e308 is shown as '?'"


def test_inspect_rows_take_any_reply():
    evil = "\x1b]0;T\x07\x9b2J"
    replies = {evil: [{"id": evil, "name": evil, "args": [evil], "kwargs": {evil: evil}, "time_start": 1e308},
                      {"id": [1]}, 7, None, {"time_start": float("nan")}],
               "w2": {"not": "a list"}, "w3": None}
    for method in ("active", "reserved", "scheduled", "revoked", "stats", "active_queues", "registered"):
        view = InspectView(method, expected=("w4",))
        view.answered(replies)
        assert_clean_rows(view, what=f"inspect {method}")
    worker = WorkerDetailView(fed(hostile_events()), "w3@hostile")
    worker.inspected = {"stats": {"total": {evil: "many", "b": None}, "pool": [evil], "uptime": float("inf")},
                        "active": [evil, {"id": evil, "name": evil}], "reserved": evil,
                        "active_queues": [{"name": evil, "exchange": evil}, 3]}
    worker.refresh()
    assert_clean_rows(worker, what="worker detail with a hostile inspect reply")


def test_memory_stays_bounded_by_the_task_limits():
    """10 MB strings and ever-new uuids: what is kept stays within max_tasks and max_failures."""
    model = ClusterModel(max_tasks=3, max_failures=2)
    big = "x" * 10_000_000
    tracemalloc.start()
    try:
        for n in range(8):
            for event in task_lifecycle(name=f"proj.big{n}", t0=T0 + n, final="task-failed" if n % 2 else
                                        "task-succeeded", exception=big)[1]:
                event["args"] = big
                model.on_event(event)
            model.on_event({"type": "task-received", "uuid": f"x{n}", "hostname": big, "timestamp": T0,
                            "name": big, "args": nested(900), "kwargs": big})
        kept, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(model.query()) <= 5
    # each kept task holds its own big strings at most (args, kwargs, exception): never all sixteen tasks'
    assert kept < 5 * 3 * len(big) + 50_000_000, f"{kept / 1e6:.0f} MB kept"


# -- generated -----------------------------------------------------------------------------------
@FUZZ
@given(st.lists(events(), max_size=25))
def test_no_event_of_any_shape_raises_or_breaks_a_view(event_list):
    model = fed(event_list)
    summary = model.summary()
    assert summary.events_total == len(event_list)
    render_every_view(model)
    render_outputs(model)
    assert not visible_controls(dumped(event_list).replace("\n", ""))


@FUZZ
@given(st.lists(events(), max_size=15))
def test_record_replay_and_db_keep_whatever_was_applied(event_list):
    direct = fed([json.loads(json.dumps(event)) for event in event_list])  # as a recording reads back
    with tempfile.TemporaryDirectory() as folder:
        replayed, loaded = through_files(event_list, pathlib.Path(folder))
    assert replayed.summary().malformed_events == direct.summary().malformed_events
    assert replayed.query() == direct.query()
    render_every_view(loaded)


# -- the real program ----------------------------------------------------------------------------
#: What celerytop never draws itself: only a worker could have put these in the output.
FOREIGN_SEQUENCES = {"OSC": "\x1b]", "DCS": "\x1bP", "C1 CSI": "\x9b", "BEL": "\x07", "NUL": "\x00",
                     "RLO": "\u202e"}


def test_the_screen_replays_hostile_events_and_shows_only_what_it_draws(tmp_path):
    from celerytop.paths import state_dir
    from tests.screen import BIN
    from tests.terminal import Terminal

    log = os.path.join(state_dir(), "celerytop.log")
    log_before = os.path.getsize(log) if os.path.exists(log) else 0
    path = tmp_path / "hostile.jsonl"
    _uuid, good = task_lifecycle(name="proj.after_the_attack", hostname="w1@fine", t0=T0 + 5)
    for event in good:
        event["local_received"] = event["timestamp"]
    path.write_text(recording_text(hostile_events() + good))
    # --no-bell: the bell an alert rings is the one BEL celerytop writes itself; here any BEL is a worker's
    with Terminal([BIN, "--replay", str(path), "--speed", "0", "--refresh", "0.1", "--no-bell"], cols=140,
                  rows=40) as term:
        term.wait_for("proj.after_the_attack")
        term.wait_for(" malformed")
        malformed = re.search(r"(\d+) malformed", term.text())
        assert malformed and int(malformed.group(1)) >= 15, term.text()
        term.press("/", *"hostile-name", "\r")  # the task with escapes in every field, then its detail
        term.wait_for("1 of 5 match")
        term.press("\r")
        term.wait_for("Timeline")
        term.press("q")  # back to the list, then quit
        term.wait_gone("Timeline")
        term.press("q")
        assert term.wait_exit() == 0
        assert term.modes_left_on() == set()
        assert term.tty_attrs() == term.initial_tty_attrs
        output = term.raw.decode("utf-8", "replace")
    found = {name: output.count(seq) for name, seq in FOREIGN_SEQUENCES.items() if seq in output}
    assert not found, f"escape sequences the program did not draw reached the terminal: {found}"
    with open(log, encoding="utf-8", errors="replace") as written:
        written.seek(log_before)
        logged = written.read()
    assert "Substantial drift from evil" in logged, "celery's warning naming the hostile host was logged"
    assert not visible_controls(logged.replace("\n", "")), "the log holds raw control characters"


def test_a_camera_replays_hostile_events_into_celerys_state(tmp_path):
    from celery import Celery

    from celerytop.modes import camera

    path = tmp_path / "hostile.jsonl"
    _uuid, good = task_lifecycle(name="proj.after", t0=T0)
    path.write_text(recording_text(hostile_events() + good))
    app = Celery("hostile-camera", broker="memory://", set_as_current=False)
    out = io.StringIO()
    camera.run_camera(app, "celery.events.snapshot.Polaroid", 60.0, None, replay=str(path), speed=0, out=out)
    assert "Taking snapshots" in out.getvalue()
