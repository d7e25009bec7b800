"""Rates over time per task type, per worker and per failure group (issue 15), and the aggregates --db keeps.

Known answers on a fake clock (T0 falls on a 10 s and a 20 s-into-the-minute boundary), the bounds, that task
eviction leaves the histories alone, and a save and load through the SQLite store, old files included.
"""

import math
import sqlite3

from celerytop.model import failhistory, typehistory, workerhistory
from celerytop.model.aggregates_store import sketch_from_dict, sketch_to_dict
from celerytop.model.buckets import Ring
from celerytop.model.cluster import ClusterModel
from celerytop.model.sketch import Sketch
from celerytop.model.typestats import OTHER
from celerytop.store.sqlite import Store
from tests.events import heartbeat, task_lifecycle

T0 = 1_700_000_000.0  # a multiple of 10; 20 s into its minute


def feed(model, name="proj.add", final="task-succeeded", t0=T0, hostname="w1@host", **fields):
    for e in task_lifecycle(name=name, final=final, hostname=hostname, t0=t0, **fields)[1]:
        e["local_received"] = e["timestamp"]
        model.on_event(e)


# -- the ring ----------------------------------------------------------------------------------------------------
def test_a_ring_counts_per_bucket_and_forgets_what_falls_out_without_stamps():
    ring = Ring(10, 6)
    for t in (T0, T0 + 9.9, T0 + 30):
        ring.add(t)
    ring.add(T0 + 15, 5)
    assert ring.series(T0 + 35, 5) == [0, 2, 5, 0, 1]
    ring.add(T0 + 80)  # moves the ring on 5 buckets: T0 .. T0+20 are out, T0+30 is the oldest kept
    assert ring.series(T0 + 80, 6) == [1, 0, 0, 0, 0, 1]
    ring.add(T0 + 20)  # older than the ring now holds: dropped
    ring.add(float("nan"))
    ring.add(None)
    assert ring.series(T0 + 80, 6) == [1, 0, 0, 0, 0, 1]
    assert ring.series(T0 + 80, 100) == ring.series(T0 + 80, 6)  # never more than it holds
    assert len(ring.values) == 6 and ring.values.itemsize == 4


def test_a_jump_past_the_whole_ring_clears_it_and_future_buckets_are_not_shown():
    ring = Ring(10, 4)
    ring.add(T0)
    ring.add(T0 + 1000)
    assert ring.series(T0 + 1000, 4) == [0, 0, 0, 1]
    assert ring.series(T0 + 990, 4) == [0, 0, 0, 0]  # "now" before the newest event


def test_a_peak_ring_keeps_the_largest_value_and_none_where_nothing_came():
    ring = Ring(10, 4, "f")
    ring.peak(T0, 0.5)
    ring.peak(T0 + 5, 0.25)
    ring.peak(T0 + 20, 0.0)
    ring.peak(T0 + 20, math.inf)
    assert ring.series(T0 + 20, 4) == [None, 0.5, None, 0.0]


def test_a_ring_saved_keeps_its_buckets_times_and_restores_shifted_later():
    ring = Ring(10, 6)
    ring.add(T0, 3)
    ring.add(T0 + 20)
    saved = ring.to_dict()
    assert saved == {"width": 10, "buckets": [[int(T0 // 10), 3], [int(T0 // 10) + 2, 1]]}
    again = Ring(10, 6)
    again.restore(saved)
    again.restore({"width": 10, "buckets": [["x", 1], [1, -5], [2], "odd"]})  # skipped
    again.restore({"width": 60, "buckets": [[int(T0 // 60), 9]]})  # another width: skipped
    assert again.series(T0 + 40, 5) == [3, 0, 1, 0, 0]  # 20 s later the same buckets sit 2 further left


# -- per task type -----------------------------------------------------------------------------------------------
def test_each_type_counts_its_finished_tasks_per_10_s_retries_and_revokes_not():
    model = ClusterModel(clock=lambda: T0 + 25)
    for n in range(3):
        feed(model, "proj.add", t0=T0 + n)
    feed(model, "proj.add", "task-failed", t0=T0 + 12)
    feed(model, "proj.mul", t0=T0 + 21)
    feed(model, "proj.mul", "task-retried", t0=T0 + 22)
    history = model.type_history(4)
    assert history == {"proj.add": [0, 3, 1, 0], "proj.mul": [0, 0, 0, 1]}
    assert len(model.type_history()["proj.add"]) == typehistory.SHOWN


def test_types_past_the_bound_count_in_other_like_the_type_rows():
    model = ClusterModel(clock=lambda: T0 + 5)
    model.type_stats.max_types = 3  # two names and (other)
    for n, name in enumerate(["a", "b", "c", "d", "a"]):
        feed(model, name, t0=T0 + n * 0.1)
    history = model.type_history(1)
    assert history == {"a": [2], "b": [1], OTHER: [2]}
    assert set(history) == {row.name for row in model.type_rows()}


def test_eviction_leaves_every_history_alone():
    model = ClusterModel(max_tasks=2, max_failures=1, clock=lambda: T0 + 9)
    for n in range(6):
        feed(model, "proj.add", "task-failed" if n % 2 else "task-succeeded", t0=T0 + n, exception="KeyError('k')")
    assert model.evicted > 0
    assert model.type_history(1) == {"proj.add": [6]}
    assert list(model.failure_history(1).values()) == [[3]]
    assert model.rate_series(1) == ([3], [3])


# -- per worker --------------------------------------------------------------------------------------------------
def test_a_worker_counts_processed_deltas_and_keeps_its_peak_load_per_10_s():
    model = ClusterModel(clock=lambda: T0 + 35)
    beats = [(0, 100, 0.5), (5, 104, 1.5), (12, 110, 0.75), (31, 107, 2.0), (33, 109, 1.0)]  # 107: restarted
    for after, processed, load in beats:
        model.on_event(heartbeat("w1@host", timestamp=T0 + after, processed=processed, loadavg=[load, 0, 0]))
    processed, load = model.worker_history("w1@host", 4)
    assert processed == [4, 6, 0, 2]  # 100 is the base; 107 a new base after the restart
    assert load == [1.5, 0.75, None, 2.0]
    assert model.worker_history("nobody@host") is None
    assert len(model.worker_history("w1@host")[0]) == workerhistory.SHOWN


def test_worker_histories_are_bounded_forgetting_the_one_heard_from_longest_ago():
    history = workerhistory.WorkerHistory(max_workers=2)
    for n, host in enumerate(["a", "b", "a", "c"]):
        history.event(host, {"processed": n, "loadavg": [1.0], "local_received": T0 + 10 * n})
    assert set(history.workers) == {"a", "c"}


# -- per failure group -------------------------------------------------------------------------------------------
def test_each_failure_group_counts_per_minute_repeats_once():
    model = ClusterModel(clock=lambda: T0 + 100)  # now is 2 minutes on from T0's minute
    for after in (0, 30, 50):  # T0 + 0 and + 30 are in T0's minute, T0 + 50 in the next
        feed(model, "proj.bill", "task-failed", t0=T0 + after, exception=f"ValueError('invoice {after} not found')",
             uuid=f"bill-{after}")
    feed(model, "proj.bill", "task-failed", t0=T0 + 50, exception="ValueError('invoice 50 not found')",
         uuid="bill-50")  # the same task's event again: counted once, as in its group
    [group] = model.failure_groups()
    assert group["count"] == 3
    assert model.failure_history(3) == {group["id"]: [2, 1, 0]}
    assert len(model.failure_history()[group["id"]]) == failhistory.SHOWN


# -- --db: export, save, load ------------------------------------------------------------------------------------
def busy_model(clock):
    model = ClusterModel(clock=clock)
    for n in range(4):
        feed(model, "proj.add", t0=T0 + n, runtime=0.5 * (n + 1))
    feed(model, "proj.add", "task-failed", t0=T0 + 11, exception="KeyError('abc')")
    feed(model, "proj.mul", t0=T0 + 21)
    for e in task_lifecycle(name="proj.slow", t0=T0 + 22)[1][:2]:  # received, started: in flight
        model.on_event(e)
    for n in range(3):
        model.on_event(heartbeat("w1@host", timestamp=T0 + 10 * n, processed=10 * n, loadavg=[0.5 * n, 0, 0]))
    return model


def test_a_sketch_survives_json_and_a_broken_one_is_refused():
    sketch = Sketch()
    for value in (0.0, 0.001, 0.5, 2.0, 7.5):
        sketch.add(value)
    again = sketch_from_dict(sketch_to_dict(sketch))
    assert [again.quantile(q) for q in (0, 0.5, 0.95, 1)] == [sketch.quantile(q) for q in (0, 0.5, 0.95, 1)]
    assert again.count == 5 and again.zeros == 1
    broken = dict(sketch_to_dict(sketch), count=99)
    assert sketch_from_dict(broken) is None
    assert sketch_from_dict({"alpha": "x"}) is None and sketch_from_dict(None) is None
    assert sketch_from_dict(sketch_to_dict(Sketch())).quantile(0.5) is None


def test_the_aggregates_survive_a_restart_with_their_times(tmp_path):
    path = str(tmp_path / "history.db")
    before = busy_model(lambda: T0 + 25)
    store = Store(path)
    assert store.acquire_writer()
    store.save(before)
    store.close()

    after = ClusterModel(clock=lambda: T0 + 145)  # two minutes later
    Store(path).load(after)
    by_name = {row.name: row for row in after.type_rows()}
    old = {row.name: row for row in before.type_rows()}
    for name in ("proj.add", "proj.mul", "proj.slow"):
        keep = ("in_flight", "succeeded", "failed", "retried", "revoked", "runtime_p50", "runtime_p95",
                "runtime_max", "wait_p50", "last_failure", "failure_pct", "rate_per_min")  # still in the window
        assert [getattr(by_name[name], f) for f in keep] == [getattr(old[name], f) for f in keep], name
    assert by_name["proj.slow"].in_flight == 1
    # the buckets keep their times: what was the last 4 buckets to T0 + 25 is now 12 buckets back
    assert before.type_history(4)["proj.add"] == [0, 4, 1, 0]
    assert after.type_history(16)["proj.add"] == [0, 4, 1, 0] + [0] * 12
    assert after.rate_series(16) == ([0, 4, 0, 1] + [0] * 12, [0, 0, 1, 0] + [0] * 12)
    assert after.worker_history("w1@host", 16)[0] == [0, 0, 10, 10] + [0] * 12  # the first beat is the base
    assert after.worker_history("w1@host", 16)[1][:5] == [None, 0.0, 0.5, 1.0, None]
    assert [(g["name"], g["exception"], g["count"], g["example_task_id"]) for g in after.failure_groups()] == \
        [(g["name"], g["exception"], g["count"], g["example_task_id"]) for g in before.failure_groups()]
    [group] = after.failure_groups()
    assert sum(after.failure_history()[group["id"]]) == 1
    # and live events go on counting on top: the restored task in flight finishes once
    feed(after, "proj.add", t0=T0 + 140)
    assert {row.name: row.succeeded for row in after.type_rows()}["proj.add"] == 5


def test_an_old_file_without_the_aggregates_table_opens_and_gains_it(tmp_path):
    path = str(tmp_path / "old.db")
    store = Store(path)
    store.close()
    with sqlite3.connect(path) as db:  # as celerytop wrote it before the table existed
        db.execute("DROP TABLE aggregates")
    model = ClusterModel(clock=lambda: T0 + 25)
    store = Store(path)
    assert store.load(model) == 0 and model.type_rows() == []
    assert store.acquire_writer()
    store.save(busy_model(lambda: T0 + 25))
    store.close()
    with sqlite3.connect(path) as db:
        parts = {row[0] for row in db.execute("SELECT part FROM aggregates")}
    assert parts == {"rate_history", "type_stats", "histories", "failure_groups"}


def test_unchanged_aggregates_are_not_rewritten_and_broken_ones_are_skipped(tmp_path):
    path = str(tmp_path / "history.db")
    model = busy_model(lambda: T0 + 25)
    store = Store(path)
    assert store.acquire_writer()
    store.save(model)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE aggregates SET data = 'not json' WHERE part = 'type_stats'")
    store.save(model)  # nothing changed: the broken row stays broken (proof it was not rewritten)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT data FROM aggregates WHERE part = 'type_stats'").fetchone()[0] == "not json"
    store.close()
    after = ClusterModel(clock=lambda: T0 + 25)
    Store(path).load(after)
    assert after.type_rows() == []  # that part skipped...
    assert after.rate_series(4) == model.rate_series(4)  # ...the others restored
