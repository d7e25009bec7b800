"""The ``--db`` history file: celerytop/store.py and the model's export/restore.

No broker: events are built as celery's Receiver delivers them (tests/events.py).
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal

import pytest

from celerytop.model.cluster import ClusterModel
from celerytop.model.filtering import parse
from celerytop.model.sorting import SORT_ORDER
from celerytop.store.sqlite import SnapshotCamera, Store, StoreError
from tests.events import event, heartbeat, task_lifecycle

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOW = 1_700_000_000.0


def make_model(**kwargs):
    """A model on a fixed clock, so a STARTED task's runtime and a worker's liveness compare exactly."""
    kwargs.setdefault("clock", lambda: NOW)
    return ClusterModel(**kwargs)


def feed(model, events):
    for e in events:
        model.on_event(dict(e))


def busy_cluster(model):
    """Every kind of task the screen shows, two workflows, and workers online and gone."""
    t0 = NOW - 100
    feed(model, [heartbeat("w1@host", timestamp=NOW - 1, processed=7, active=1, loadavg=[0.5, 0.25, 0.125]),
                 heartbeat("w2@host", timestamp=NOW - 1, processed=3, loadavg=[1.0, 2.0, 3.0],
                           sw_sys="Linux"),
                 heartbeat("gone@host", timestamp=NOW - 600)])
    ids = {}
    for final in ("task-succeeded", "task-failed", "task-retried", "task-revoked", None):
        ids[final], events = task_lifecycle(name=f"proj.{final}", final=final, t0=t0)
        feed(model, events)
        t0 += 1
    # sent by a client with routing details, then run on w2
    sent = "sent-0001"
    feed(model, [event("task-sent", "client@host", t0, uuid=sent, name="proj.routed", args="('a',)",
                       kwargs="{'k': 1}", retries=0, eta="2024-01-01T00:00:00", expires=None, queue="q1",
                       exchange="ex", routing_key="rk", root_id=sent, parent_id=None),
                 event("task-received", "w2@host", t0 + 0.5, uuid=sent, name="proj.routed", args="('a',)",
                       kwargs="{'k': 1}", retries=0, root_id=sent, parent_id=None),
                 event("task-started", "w2@host", t0 + 0.6, uuid=sent),
                 event("task-succeeded", "w2@host", t0 + 0.9, uuid=sent, result="'done'", runtime=0.3)])
    # a workflow; the child's events make celery move the root to the end of its order
    root = "root-0001"
    feed(model, task_lifecycle(name="wf.root", uuid=root, t0=t0 + 2)[1])
    feed(model, task_lifecycle(name="other", t0=t0 + 3)[1])
    child, events = task_lifecycle(name="wf.child", t0=t0 + 4)
    for e in events:
        e.update(root_id=root, parent_id=root)
    feed(model, events)
    orphan, events = task_lifecycle(name="wf.orphan", final=None, t0=t0 + 5)
    for e in events:
        e.update(root_id="root-unseen", parent_id="parent-unseen")
    feed(model, events)
    ids.update(sent=sent, root=root, child=child, orphan=orphan)
    return ids


def picture(model):
    """Everything the screen reads from the model."""
    order = model.query()
    summary = model.summary()
    return {
        "order": order,
        "sorts": {(s, d): model.query(sort=s, descending=d) for s in SORT_ORDER for d in (False, True)},
        "failures": model.query(parse("state:FAILURE")),
        "rows": [model.task_row(u) for u in order],
        "details": [model.task_detail(u) for u in order],
        "workflows": [model.workflow(u) for u in order],
        "names": model.task_names(),
        "workers": model.worker_rows(),
        "summary": (summary.workers_online, summary.workers_total, summary.task_count, summary.state_counts),
    }


def task_uuids_in(path):
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT uuid FROM tasks ORDER BY seq")]


def saved(model, path):
    store = Store(path)
    assert store.acquire_writer()
    written = store.save(model)
    store.close()
    return written


def loaded(path, **kwargs):
    model = make_model(**kwargs)
    store = Store(path)
    store.load(model)
    store.close()
    return model


# -- round trip ---------------------------------------------------------------
def test_a_saved_model_loads_back_identical(tmp_path):
    path = str(tmp_path / "history.db")
    model = make_model()
    ids = busy_cluster(model)
    before = picture(model)
    saved(model, path)
    again = loaded(path)
    after = picture(again)
    for key in before:
        assert after[key] == before[key], key
    detail = again.task_detail(ids["sent"])
    assert (detail.queue, detail.exchange, detail.routing_key) == ("q1", "ex", "rk")
    assert detail.client == "client@host"
    assert again.task_detail(ids["root"]).children == (ids["child"],)
    assert again.task_detail(ids["task-failed"]).traceback.endswith("ValueError: boom")
    rows = {r.hostname: r for r in again.worker_rows()}
    assert (rows["w1@host"].processed, rows["w1@host"].loadavg) == (7, (0.5, 0.25, 0.125))
    assert rows["w1@host"].online and not rows["gone@host"].online
    summary = again.summary()
    assert (summary.events_total, summary.task_events, summary.evicted) == (0, 0, 0), "restoring is no event"


def test_restored_tasks_keep_following_live_events(tmp_path):
    path = str(tmp_path / "history.db")
    model = make_model()
    ids = busy_cluster(model)
    saved(model, path)
    again = loaded(path)
    # the orphan's parent shows up: celery links them as if it had seen the orphan itself
    feed(again, task_lifecycle(name="wf.parent", uuid="parent-unseen", t0=NOW)[1])
    assert again.task_detail("parent-unseen").children == (ids["orphan"],)
    again.on_event(event("task-succeeded", timestamp=NOW, uuid=ids[None], result="1", runtime=2.0))
    assert again.task_row(ids[None]).state == "SUCCESS"
    assert again.summary().state_counts["STARTED"] == 1  # only the orphan still runs
    assert again.summary().task_events == 4


def test_a_live_child_finds_its_restored_parent(tmp_path):
    path = str(tmp_path / "history.db")
    old = make_model()
    parent, events = task_lifecycle(name="wf.parent", t0=NOW - 10)
    feed(old, events)
    saved(old, path)
    live = make_model()
    child, events = task_lifecycle(name="wf.child", t0=NOW)
    for e in events:
        e.update(root_id=parent, parent_id=parent)
    feed(live, events)
    Store(path).load(live)
    assert live.task_detail(parent).children == (child,)
    assert [uuid for _depth, uuid, _row in live.workflow(child)] == [parent, child]


def test_restore_puts_history_before_live_tasks_and_keeps_live_state(tmp_path):
    path = str(tmp_path / "history.db")
    old = make_model()
    old_ids = []
    for i in range(3):
        uuid, events = task_lifecycle(t0=NOW - 50 + i)
        feed(old, events)
        old_ids.append(uuid)
    old.on_event(heartbeat("w1@host", timestamp=NOW - 500, processed=1))
    saved(old, path)
    live = make_model()
    live.on_event(heartbeat("w1@host", timestamp=NOW - 1, processed=99))
    newest, events = task_lifecycle(t0=NOW)
    feed(live, events)
    Store(path).load(live)
    assert live.query() == [newest] + old_ids[::-1]
    assert live.worker_rows()[0].processed == 99, "a live worker is not replaced by its history"
    assert live.summary().events_total == 4


# -- incremental saves ----------------------------------------------------------
def test_saves_write_only_what_changed(tmp_path):
    path = str(tmp_path / "history.db")
    model = make_model()
    running, events = task_lifecycle(final=None, t0=NOW - 10)
    feed(model, events)
    done = [task_lifecycle(t0=NOW - 9 + i) for i in range(2)]
    for _uuid, events in done:
        feed(model, events)
    store = Store(path)
    assert store.acquire_writer()
    assert store.save(model) == 3 + 1, "the first save writes every task and worker"
    assert store.save(model) == 0
    model.on_event(event("task-succeeded", timestamp=NOW - 1, uuid=running, result="3", runtime=9.0))
    new = [task_lifecycle(t0=NOW - 0.5 + i * 0.1) for i in range(2)]
    for _uuid, events in new:
        feed(model, events)
    # the changed task, the two new ones, and w1 (task events move its heartbeats on)
    assert store.save(model) == 3 + 1
    assert store.save(model) == 0
    again = loaded(path)
    assert again.task_row(running).state == "SUCCESS"
    assert again.query() == model.query()
    store.close()


def test_an_event_that_leaves_the_state_as_it_was_is_still_saved(tmp_path):
    path = str(tmp_path / "history.db")
    model = make_model()
    uuid = "late-received"

    def saved_tasks():
        return [record["uuid"] for record in model.export_changes().tasks]

    feed(model, [event("task-started", timestamp=NOW - 5, uuid=uuid)])
    assert saved_tasks() == [uuid] and saved_tasks() == []
    # received after started: celery merges its fields, the state stays STARTED
    feed(model, [event("task-received", timestamp=NOW - 6, uuid=uuid, name="proj.late", args="(1,)", kwargs="{}")])
    assert model.task_row(uuid).state == "STARTED"
    assert saved_tasks() == [uuid]
    # 64 more starts (a task's timeline stops growing there), the last with times kept beside the numbers
    for step in range(64):
        feed(model, [event("task-started", timestamp=NOW - 4 + step / 100, uuid=uuid)])
    assert saved_tasks() == [uuid]
    feed(model, [event("task-started", timestamp=NOW - 3, uuid=uuid)])
    assert saved_tasks() == [uuid], "a new time alone is a change"
    feed(model, [event("task-started", timestamp=int(NOW - 2), uuid=uuid, clock=2 ** 60)])
    assert saved_tasks() == [uuid], "so is a time a double does not hold"
    feed(model, [event("task-started", timestamp=int(NOW - 1), uuid=uuid, clock=2 ** 61)])
    assert saved_tasks() == [uuid], "and a change between two of those"
    store = Store(path)
    assert store.acquire_writer()
    store.save(model)
    again = loaded(path)
    assert again.task_detail(uuid).name == "proj.late" and again.task_detail(uuid).args == "(1,)"
    assert again._tasks[uuid].timestamp == int(NOW - 1)
    store.close()


def test_order_follows_the_model_when_a_child_moves_its_parent(tmp_path):
    path = str(tmp_path / "history.db")
    model = make_model()
    store = Store(path)
    assert store.acquire_writer()
    root = "root-0002"
    feed(model, task_lifecycle(name="wf.root", uuid=root, t0=NOW - 5)[1])
    for i in range(3):
        feed(model, task_lifecycle(t0=NOW - 4 + i)[1])
    store.save(model)
    child, events = task_lifecycle(name="wf.child", t0=NOW)
    for e in events:
        e.update(root_id=root, parent_id=root)
    feed(model, events)
    assert model.query()[:2] == [root, child], "celery moves the parent to the end of its order"
    assert store.save(model) == 2 + 1  # root (new place, new child), child, worker
    assert loaded(path).query() == model.query()
    assert loaded(path).task_detail(root).children == (child,)
    store.close()


def test_evicted_tasks_leave_the_file(tmp_path):
    path = str(tmp_path / "history.db")
    model = make_model(max_tasks=3)
    store = Store(path)
    assert store.acquire_writer()
    first = [task_lifecycle(t0=NOW - 20 + i) for i in range(3)]
    for _uuid, events in first:
        feed(model, events)
    store.save(model)
    for i in range(2):
        feed(model, task_lifecycle(t0=NOW - 5 + i)[1])
    store.save(model)
    assert task_uuids_in(path) == model.query()[::-1]
    assert first[0][0] not in task_uuids_in(path) and first[1][0] not in task_uuids_in(path)
    store.close()


# -- bounds ---------------------------------------------------------------------------
def test_the_file_is_bounded_and_keeps_failures(tmp_path):
    path = str(tmp_path / "history.db")
    model = make_model(max_tasks=5, max_failures=2)
    store = Store(path)
    assert store.acquire_writer()
    failed = []
    for i in range(3):
        uuid, events = task_lifecycle(name="proj.fail", final="task-failed", t0=NOW - 100 + i)
        feed(model, events)
        failed.append(uuid)
        store.save(model)
    for i in range(40):
        feed(model, task_lifecycle(t0=NOW - 90 + i)[1])
        if i % 7 == 0:
            store.save(model)
    store.save(model)
    store.close()
    kept = task_uuids_in(path)
    assert len(kept) == 7
    assert failed[1] in kept and failed[2] in kept and failed[0] not in kept
    smaller = loaded(path, max_tasks=2, max_failures=1)
    assert smaller.query(parse("state:FAILURE")) == [failed[2]]
    assert smaller.summary().state_counts == {"SUCCESS": 2, "FAILURE": 1}
    assert smaller.query() == model.query()[:2] + [failed[2]]
    # the next writer with smaller bounds shrinks the file to what it keeps
    writer = Store(path)
    assert writer.acquire_writer()
    writer.save(smaller)
    writer.close()
    assert sorted(task_uuids_in(path)) == sorted(smaller.query())


# -- one writer at a time -----------------------------------------------------------
def test_a_second_store_on_the_same_file_only_reads(tmp_path):
    path = str(tmp_path / "history.db")
    model = make_model()
    busy_cluster(model)
    first = Store(path)
    assert first.acquire_writer() and first.acquire_writer()
    first.save(model)
    second = Store(path)
    assert not second.acquire_writer()
    assert second.writer_note == (f"history: another celerytop (pid {os.getpid()}) is writing {path}; "
                                  "this one only reads it")
    reader = make_model()
    assert second.load(reader) == len(model.query())
    assert reader.query() == model.query()
    with pytest.raises(StoreError, match="this one only reads it"):
        second.save(reader)
    first.close()
    first.close()
    assert second.acquire_writer() and second.writer_note == ""
    assert second.save(reader) > 0
    second.close()


HOLD_LOCK = """
import sys
from celerytop.store.sqlite import Store
store = Store(sys.argv[1])
assert store.acquire_writer()
print("locked", flush=True)
sys.stdin.read()
store.close()
"""


def test_a_writer_in_another_process_keeps_this_one_reading(tmp_path):
    path = str(tmp_path / "history.db")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, path], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        store = Store(path)
        assert not store.acquire_writer()
        assert f"another celerytop (pid {holder.pid}) is writing {path}" in store.writer_note
        holder.stdin.close()
        assert holder.wait(timeout=10) == 0
        assert store.acquire_writer()
        store.close()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


# -- killed mid-write ------------------------------------------------------------------
WRITE_UNTIL_KILLED = """
import sys, time
from celerytop.model.cluster import ClusterModel
from celerytop.store.sqlite import Store
from tests.events import task_lifecycle


class Model(ClusterModel):
    # save() reads max_failures inside its transaction, after writing the rows:
    # the fourth save stops right there, uncommitted, until the test kills us
    saves = 0

    @property
    def max_failures(self):
        if self.saves == 4:
            print("in transaction", flush=True)
            time.sleep(60)
        return self._max_failures

    @max_failures.setter
    def max_failures(self, value):
        self._max_failures = value


model = Model()
store = Store(sys.argv[1])
assert store.acquire_writer()
while True:
    for _ in range(200):
        _uuid, events = task_lifecycle(name=f"batch{model.saves}")
        for e in events:
            model.on_event(e)
    model.saves += 1
    store.save(model)
    print("saved", len(model.query()), flush=True)
"""


def test_a_writer_killed_mid_save_leaves_the_last_completed_save(tmp_path):
    path = str(tmp_path / "history.db")
    writer = subprocess.Popen([sys.executable, "-c", WRITE_UNTIL_KILLED, path], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        lines = [writer.stdout.readline().strip() for _ in range(4)]
        assert lines == ["saved 200", "saved 400", "saved 600", "in transaction"]
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=10)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    store = Store(path)
    assert store.acquire_writer(), "the kernel dropped the dead writer's lock"
    model = make_model()
    assert store.load(model) == 600
    assert model.task_names() == ["batch0", "batch1", "batch2"]
    store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# -- files that are not ours ---------------------------------------------------------------
def _other_program_db(path):
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("INSERT INTO users (name) VALUES ('ann')")
    db.commit()
    db.close()


def _other_meta_db(path):
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE meta (x)")
    db.commit()
    db.close()


def _other_application_id(path):
    db = sqlite3.connect(path)
    db.execute("PRAGMA application_id = 1234")
    db.commit()
    db.close()


@pytest.mark.parametrize("make, reason", [
    (lambda p: open(p, "w").write("not a database\n"), "not an SQLite file"),
    (lambda p: open(p, "wb").write(b"\x89PNG\r\n\x1a\n" + bytes(200)), "not an SQLite file"),
    (_other_program_db, "an SQLite database of another program, tables: users"),
    (_other_meta_db, "an SQLite database of another program, tables: meta"),
    (_other_application_id, "an SQLite database of another program, tables: none"),
])
def test_a_file_of_another_program_is_refused_untouched(tmp_path, make, reason):
    path = str(tmp_path / "other.file")
    make(path)
    before = open(path, "rb").read()
    with pytest.raises(StoreError) as caught:
        Store(path)
    message = str(caught.value)
    assert message == f"{path} is not a celerytop database ({reason})"
    assert "\n" not in message
    assert open(path, "rb").read() == before
    assert not os.path.exists(path + "-wal")


def test_a_directory_and_a_newer_schema_are_refused(tmp_path):
    with pytest.raises(StoreError, match="is a directory"):
        Store(str(tmp_path))
    path = str(tmp_path / "history.db")
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    db.close()
    with pytest.raises(StoreError, match=r"a newer celerytop \(history schema 99; this one reads up to 1\)"):
        Store(path)


def test_an_empty_file_is_a_new_history(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    model = make_model()
    busy_cluster(model)
    assert saved(model, str(path)) > 0
    assert loaded(str(path)).query() == model.query()
    with sqlite3.connect(str(path)) as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == 0x63746F70


def test_odd_event_fields_never_break_a_save(tmp_path):
    path = str(tmp_path / "history.db")
    model = make_model()
    loop = {}
    loop["self"] = loop
    uuid, events = task_lifecycle(t0=NOW)
    events[0].update(queue="celery", custom=b"bytes", amount=Decimal("1.5"), tags={"a"})
    feed(model, events)
    other, events = task_lifecycle(t0=NOW + 1)
    events[0].update(loop=loop)  # not JSON at all: the record is kept without its extra fields
    feed(model, events)
    saved(model, path)
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT data FROM tasks WHERE uuid = ?", (uuid,)).fetchone()
    extra = json.loads(row[0])["extra"]
    assert [extra[k] for k in ("queue", "custom", "amount", "tags")] == ["celery", "bytes", 1.5, ["a"]]
    again = loaded(path)
    assert again.task_detail(uuid).queue == "celery"
    assert again.task_row(other) == model.task_row(other)


def test_broken_rows_are_skipped(tmp_path):
    path = str(tmp_path / "history.db")
    model = make_model()
    uuid, events = task_lifecycle(t0=NOW)
    feed(model, events)
    saved(model, path)
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO tasks VALUES ('bad-json', -2, 'SUCCESS', '{not json')")
        db.execute("INSERT INTO tasks VALUES ('no-state', -1, 'SUCCESS', '{\"uuid\": \"no-state\"}')")
        db.execute("INSERT INTO tasks VALUES ('odd', 1000, 'SUCCESS', ?)", (json.dumps(
            {"uuid": "odd", "state": "SUCCESS", "name": "proj.odd", "timeline": [1, ["x"]],
             "extra": {"hostname": [1]}, "worker": 5}),))
        # fields an event could not carry either (see eventcheck): the row is skipped
        db.execute("INSERT INTO tasks VALUES ('list-name', 1001, 'SUCCESS', ?)", (json.dumps(
            {"uuid": "list-name", "state": "SUCCESS", "name": ["a", "list"]}),))
        db.execute("INSERT INTO tasks VALUES ('nan-time', 1002, 'SUCCESS', ?)",
                   ('{"uuid": "nan-time", "state": "SUCCESS", "received": NaN}',))
        db.execute("INSERT INTO workers VALUES ('x', '[1, 2]')")
    db.close()
    again = loaded(path)
    assert again.query() == ["odd", uuid]
    assert again.task_row("odd").worker == "" and again.task_detail("odd").timeline == ()


def test_a_malformed_event_does_not_stop_the_snapshots(tmp_path):
    path = str(tmp_path / "history.db")
    model = make_model()
    model.on_event(event("task-received", timestamp=NOW, uuid="weird", name="proj.weird", eta=[1, 2], queue=["q"]))
    assert model.has_task("weird")
    store = Store(path)
    assert store.acquire_writer()
    assert store.save(model) >= 1
    model.on_event(event("task-started", timestamp=NOW, uuid="weird"))
    assert store.save(model) >= 1
    store.close()
    assert loaded(path).task_row("weird").state == model.task_row("weird").state


# -- the camera -------------------------------------------------------------------------------
def test_the_camera_saves_periodically_and_once_more_on_stop(tmp_path):
    path = str(tmp_path / "history.db")
    model = make_model()
    feed(model, task_lifecycle(t0=NOW)[1])
    store = Store(path)
    assert store.acquire_writer()
    camera = SnapshotCamera(store, model, interval=0.1)
    camera.start()
    deadline = time.monotonic() + 5
    while camera.saves < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert camera.saves >= 2
    assert len(task_uuids_in(path)) == 1
    camera.stop()
    camera.stop()
    assert not camera.is_alive() and not store.is_writer
    with pytest.raises(StoreError, match="closed"):
        store.load(make_model())
    # a camera that never got to its first period still saves on stop()
    store = Store(path)
    assert store.acquire_writer()
    camera = SnapshotCamera(store, model, interval=3600)
    camera.start()
    last, events = task_lifecycle(t0=NOW + 1)
    feed(model, events)
    camera.stop()
    assert camera.saves == 1 and not camera.is_alive()
    assert last in task_uuids_in(path)


def test_the_camera_reports_a_failed_save_and_goes_on(tmp_path):
    store = Store(str(tmp_path / "history.db"))
    assert store.acquire_writer()

    class Broken:
        def export_all(self):
            raise RuntimeError("boom")

    errors = []
    camera = SnapshotCamera(store, Broken(), interval=0.05, on_error=errors.append)
    camera.start()
    deadline = time.monotonic() + 5
    while len(errors) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    camera.stop()
    assert errors[:2] == ["RuntimeError: boom"] * 2
    assert camera.last_error == "RuntimeError: boom"


def test_a_reader_camera_does_not_write(tmp_path):
    path = str(tmp_path / "history.db")
    writer = Store(path)
    assert writer.acquire_writer()
    reader = Store(path)
    assert not reader.acquire_writer()
    model = make_model()
    feed(model, task_lifecycle(t0=NOW)[1])
    camera = SnapshotCamera(reader, model, interval=0.05)
    assert camera.snapshot() is False
    camera.stop()
    assert task_uuids_in(path) == []
    writer.close()
