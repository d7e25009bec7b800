"""The task types' aggregates: the sketch's error bound, merge and size; typestats from a hand-built stream."""

import math
import random

import pytest

from celerytop.model import typestats
from celerytop.model.cluster import ClusterModel
from celerytop.model.sketch import ALPHA, Sketch
from celerytop.model.typestats import OTHER, TypeStats
from tests.events import event, task_lifecycle

T0 = 1_700_000_000.0


def exact(values, q):
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sketch_quantiles_are_within_alpha_of_exact(seed):
    rng = random.Random(seed)
    values = [rng.lognormvariate(-3, 2) for _ in range(20000)] + [rng.uniform(0.5, 5) for _ in range(5000)]
    sketch = Sketch()
    for value in values:
        sketch.add(value)
    for q in (0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999):
        truth = exact(values, q)
        assert abs(sketch.quantile(q) - truth) <= ALPHA * truth + 1e-12, q
    assert sketch.max == max(values) and sketch.min == min(values) and sketch.count == len(values)


@pytest.mark.parametrize("max_bins", [2048, 16])
def test_sketch_add_all_counts_as_adding_one_by_one(max_bins):
    """add_all (the ingest's batched path) leaves the sketch exactly as add, value by value, would."""
    rng = random.Random(11)
    values = [10 ** rng.uniform(-8, 6) for _ in range(3000)]
    for i, odd in enumerate([0.0, -1.0, math.nan, math.inf, 1e-7, 5e-7, 1e12]):  # zeros, ignored, far out
        values.insert(400 * i + 5, odd)
    one, batched = Sketch(max_bins=max_bins), Sketch(max_bins=max_bins)
    for value in values:
        one.add(value)
    for start in range(0, len(values), 64):
        batched.add_all(values[start:start + 64])
    assert (batched.count, batched.zeros, batched.min, batched.max, batched.collapsed) == (
        one.count, one.zeros, one.min, one.max, one.collapsed)
    assert batched._offset == one._offset and list(batched._bins) == list(one._bins)


def test_sketch_merge_equals_the_sketch_of_the_union():
    rng = random.Random(7)
    a_values = [rng.expovariate(3) for _ in range(3000)]
    b_values = [rng.expovariate(0.01) for _ in range(3000)] + [0.0]
    a, b, union = Sketch(), Sketch(), Sketch()
    for v in a_values:
        a.add(v)
        union.add(v)
    for v in b_values:
        b.add(v)
        union.add(v)
    a.merge(b)
    assert (a.count, a.zeros, a.min, a.max) == (union.count, union.zeros, union.min, union.max)
    assert a._offset == union._offset and list(a._bins) == list(union._bins)
    for q in (0.1, 0.5, 0.99):
        assert a.quantile(q) == union.quantile(q)


def test_sketch_memory_is_bounded_and_high_quantiles_keep_the_bound():
    sketch = Sketch(max_bins=64)
    rng = random.Random(3)
    values = [10 ** rng.uniform(-5, 8) for _ in range(5000)]
    for value in values:
        sketch.add(value)
    assert sketch.bins <= 64 and sketch.collapsed
    truth = exact(values, 0.99)
    assert abs(sketch.quantile(0.99) - truth) <= ALPHA * truth
    for bad in (float("nan"), float("inf"), -1.0):
        sketch.add(bad)
    assert sketch.count == 5000
    assert Sketch().quantile(0.5) is None


def feed(model, events):
    for e in events:
        e.setdefault("local_received", e["timestamp"])
        model.on_event(dict(e))


def row_of(model, name):
    return {row.name: row for row in model.type_rows()}[name]


def stream():
    """10 proj.add: 7 succeed (runtimes 0.1..0.7 s), 2 fail, 1 still running; 1 proj.retry retried then succeeds."""
    events = []
    for n in range(10):
        uuid = f"add-{n}"
        t = T0 + n
        events.append(event("task-sent", "client", t - 0.5, uuid=uuid, name="proj.add"))
        events.append(event("task-received", "w1", t, uuid=uuid, name="proj.add"))
        events.append(event("task-started", "w1", t + 0.25, uuid=uuid))
        if n < 7:
            events.append(event("task-succeeded", "w1", t + 1, uuid=uuid, runtime=0.1 * (n + 1)))
        elif n < 9:
            events.append(event("task-failed", "w1", t + 1, uuid=uuid, exception="ValueError()"))
    events += [
        event("task-received", "w1", T0 + 20, uuid="r-1", name="proj.retry"),
        event("task-started", "w1", T0 + 21, uuid="r-1"),
        event("task-retried", "w1", T0 + 22, uuid="r-1"),
        event("task-received", "w1", T0 + 23, uuid="r-1", name="proj.retry"),
        event("task-started", "w1", T0 + 24, uuid="r-1"),
        event("task-succeeded", "w1", T0 + 25, uuid="r-1", runtime=2.0),
    ]
    return events


def test_typestats_counts_failure_rate_and_percentiles_from_a_known_stream():
    model = ClusterModel(clock=lambda: T0 + 30, window=300)
    feed(model, stream())
    add = row_of(model, "proj.add")
    assert (add.in_flight, add.succeeded, add.failed, add.retried, add.revoked) == (1, 7, 2, 0, 0)
    assert add.failure_pct == pytest.approx(100 * 2 / 9)
    assert add.rate_per_min == pytest.approx(9 / 5)
    assert add.runtime_p50 == pytest.approx(0.4, rel=ALPHA)
    assert add.runtime_max == pytest.approx(0.7)
    assert add.wait_p50 == pytest.approx(0.75, rel=ALPHA)  # sent -> started
    assert add.last_failure == T0 + 9
    retry = row_of(model, "proj.retry")
    assert (retry.in_flight, retry.succeeded, retry.retried, retry.failed) == (0, 1, 1, 0)
    assert retry.wait_p50 == pytest.approx(1.0, rel=ALPHA)  # received -> started, no task-sent


def test_duplicated_and_late_events_do_not_count_twice_and_eviction_changes_nothing():
    events = stream()
    model = ClusterModel(clock=lambda: T0 + 30)
    feed(model, events + events[::-1])  # every event twice, the second time in reverse order
    small = ClusterModel(max_tasks=2, max_failures=0, clock=lambda: T0 + 30)
    feed(small, stream())
    assert small.evicted > 0
    for m in (model, small):
        add = row_of(m, "proj.add")
        assert (add.succeeded, add.failed, add.in_flight) == (7, 2, 1)
        assert add.runtime_p50 == pytest.approx(0.4, rel=ALPHA)


def test_a_failure_later_seen_succeeding_moves_and_the_window_forgets():
    model = ClusterModel(clock=lambda: T0 + 1000, window=60)
    feed(model, [event("task-received", "w1", T0, uuid="x", name="proj.x"),
                 event("task-failed", "w1", T0 + 1, uuid="x"),
                 event("task-succeeded", "w1", T0 + 2, uuid="x", runtime=1.0)])
    x = row_of(model, "proj.x")
    assert (x.failed, x.succeeded, x.in_flight) == (0, 1, 0)
    assert x.rate_per_min == 0 and x.failure_pct is None  # long out of the window


def test_names_past_the_bound_fold_into_other():
    stats = TypeStats(max_types=3)
    model = ClusterModel(clock=lambda: T0)
    model.type_stats = stats
    for n in range(10):
        _uuid, lifecycle = task_lifecycle(name=f"random.{n}", t0=T0 + n)
        feed(model, lifecycle)
    rows = {row.name: row for row in model.type_rows()}
    assert len(rows) == 3 and rows[OTHER].succeeded == 8 and stats.folded_names
    assert not math.isnan(rows[OTHER].runtime_p50)


def test_types_past_a_rows_first_room_count_in_their_own_columns_and_history():
    # Rows are made with room for 64 types and grow: 150 types, the later ones after rows were made.
    model = ClusterModel(clock=lambda: T0 + 9)
    for n in range(150):
        for k in range(n % 3 + 1):
            _uuid, lifecycle = task_lifecycle(name=f"proj.t{n}", t0=T0 + n * 0.01 + k * 0.001)
            feed(model, lifecycle)
    rows = {row.name: row for row in model.type_rows()}
    assert len(rows) == 150
    assert all(rows[f"proj.t{n}"].succeeded == n % 3 + 1 for n in range(150))
    assert all(rows[f"proj.t{n}"].rate_per_min == pytest.approx((n % 3 + 1) / 5) for n in range(150))
    history = model.type_history(2)
    assert all(history[f"proj.t{n}"] == [0, n % 3 + 1] for n in range(150))


def test_a_window_that_is_not_the_historys_keeps_its_own_buckets_and_late_events_count_in_theirs():
    # --window 1 (minute): 2-second buckets of its own; the history stays at 10 s.
    model = ClusterModel(clock=lambda: T0 + 61, window=60)
    for n, final in enumerate(["task-succeeded", "task-failed", "task-succeeded", "task-failed"]):
        _uuid, lifecycle = task_lifecycle(name="proj.w", final=final, t0=T0 + 30 - 10 * n)  # newest first
        feed(model, lifecycle)
    w = row_of(model, "proj.w")
    # 30 s, 20 s and 10 s after T0 are inside the minute ending at T0 + 61; the one at T0 + 0 is not
    assert w.rate_per_min == pytest.approx(3.0) and w.failure_pct == pytest.approx(100 / 3)
    assert (w.succeeded, w.failed) == (2, 2)
    assert model.type_history(7)["proj.w"] == [1, 1, 1, 1, 0, 0, 0]


def test_a_history_file_of_before_the_columns_loads_its_float_bucket_numbers():
    from celerytop.model import aggregates_store

    bucket = int((T0 + 5) // 10)
    saved = {"type_stats": {"window": 300.0, "folded_names": 0, "types": {"proj.old": {
        "in_flight": 0, "succeeded": 4, "failed": 1, "revoked": 0, "retried": 0, "last_failure": T0 + 5,
        "recent": [[float(bucket), 5, 1]]}}},
        "histories": {"types": {"proj.old": {"width": 10, "buckets": [[bucket, 5]]}}}}
    for window in (300, 60):
        model = ClusterModel(clock=lambda: T0 + 20, window=window)
        with model.lock:
            aggregates_store.restore_aggregates(model, saved)
        old = row_of(model, "proj.old")
        assert (old.succeeded, old.failed, old.last_failure) == (4, 1, T0 + 5)
        assert model.type_history(3)["proj.old"] == [5, 0, 0]
        if window == 300:  # the same window: its buckets back, once (the history's rows are the window's)
            assert old.rate_per_min == pytest.approx(1.0) and old.failure_pct == pytest.approx(20.0)
        else:  # another window's buckets have another width: not restored
            assert old.rate_per_min == 0 and old.failure_pct is None


def test_moves_are_counted_in_turn_an_in_flight_task_evicted_before_they_are_counted_included():
    # The model notes moves and counts them in batches (TypeStats.fold): an eviction noted after a task's
    # move into RECEIVED must undo it, not be lost because the move was not counted yet.
    model = ClusterModel(max_tasks=1, clock=lambda: T0 + 5)
    for n in range(3):
        feed(model, [event("task-received", "w1", T0 + n, uuid=f"in-{n}", name="proj.in")])
    assert model.evicted == 2
    assert row_of(model, "proj.in").in_flight == 1
    # and the moves waiting are bounded whatever the stream
    for n in range(2000):
        feed(model, [event("task-received", "w1", T0 + 4, uuid=f"more-{n}", name="proj.in")])
        assert len(model.type_stats._moves) <= typestats.FOLD_EVERY
    assert row_of(model, "proj.in").in_flight == 1


def test_a_move_that_cannot_be_counted_is_said_as_a_malformed_event_and_stops_nothing():
    model = ClusterModel(clock=lambda: T0 + 5)
    _uuid, lifecycle = task_lifecycle(name="proj.ok", t0=T0)
    feed(model, lifecycle)
    task = next(iter(model._tasks.values()))
    model.type_stats.transition(task, task.name, "STARTED", "SUCCESS", "not a time")  # only a bug could do this
    _uuid, lifecycle = task_lifecycle(name="proj.ok", t0=T0 + 1)
    feed(model, lifecycle)
    assert model.summary().malformed_events == 1
    assert row_of(model, "proj.ok").succeeded == 3  # the odd move counted up to where it broke, the rest all
