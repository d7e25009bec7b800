"""Stuck and lost tasks (model/stuckness.py) with known answers, on a model with a fake clock."""

import pytest

from celerytop.model.cluster import ClusterModel
from celerytop.model.filtering import parse
from celerytop.model.stuckness import LOST, STUCK, StuckRules, flagged_tasks, lost_count, lost_tasks, stuck_tasks
from tests.events import event, heartbeat, task_lifecycle

T0 = 1_700_000_000.0


def make_model(after=600.0, multiple=5.0):
    now = [T0]
    model = ClusterModel(clock=lambda: now[0])
    model.stuck_rules = StuckRules(after, multiple)
    return model, now


def feed(model, events):
    for e in events:
        model.on_event(e)


def alive_at(model, now, when, *hosts):
    """Heartbeats from ``hosts`` at ``when``, and the clock there: the workers are alive."""
    now[0] = when
    for host in hosts or ("w1@host",):
        model.on_event(heartbeat(host, timestamp=when))


def runs(model, name, runtime, count, t0=T0):
    """``count`` tasks of ``name`` that succeeded after ``runtime`` seconds: the type's p95 is ``runtime``."""
    for n in range(count):
        feed(model, task_lifecycle(name=name, t0=t0 + n, runtime=runtime)[1])


def started(model, name, at, hostname="w1@host", uuid=None):
    return task_lifecycle(name=name, final=None, hostname=hostname, t0=at - 0.01, uuid=uuid)


def test_a_task_is_stuck_past_its_types_p95_times_the_multiple():
    model, now = make_model()
    runs(model, "proj.slow", 200.0, 20)  # p95 200 s (within the sketch's 1 %): stuck past 1000 s, not 600
    uuid, events = started(model, "proj.slow", T0 + 100)
    feed(model, events)
    alive_at(model, now, T0 + 100 + 900)
    assert stuck_tasks(model) == [] and model.task_row(uuid).flag == ""
    alive_at(model, now, T0 + 100 + 1020)
    [stuck] = stuck_tasks(model)
    assert (stuck.kind, stuck.uuid, stuck.name, stuck.state, stuck.worker) == (STUCK, uuid, "proj.slow", "STARTED",
                                                                                "w1@host")
    assert stuck.since == pytest.approx(T0 + 100) and stuck.duration == pytest.approx(1020)
    assert stuck.threshold == pytest.approx(1000, rel=0.01) and stuck.reason.startswith("5×p95 ")
    assert model.task_row(uuid).flag == STUCK and not model.task_row(uuid).worker_offline
    assert lost_tasks(model) == [] and lost_count(model) == 0


def test_the_multiple_is_an_option():
    model, now = make_model(multiple=2.0)
    runs(model, "proj.slow", 400.0, 20)
    uuid, events = started(model, "proj.slow", T0 + 100)
    feed(model, events)
    alive_at(model, now, T0 + 100 + 790)
    assert stuck_tasks(model) == []
    alive_at(model, now, T0 + 100 + 820)
    assert [f.uuid for f in stuck_tasks(model)] == [uuid] and stuck_tasks(model)[0].reason.startswith("2×p95 ")


@pytest.mark.parametrize("history", ["fast type", "no runtime yet"])
def test_stuck_after_is_the_floor_and_the_rule_for_types_without_a_p95(history):
    model, now = make_model(after=600.0)
    if history == "fast type":
        runs(model, "proj.quick", 0.5, 20)  # 5 × p95 is 2.5 s: --stuck-after (10 min) still holds
    uuid, events = started(model, "proj.quick", T0 + 100)
    feed(model, events)
    alive_at(model, now, T0 + 100 + 599)
    assert flagged_tasks(model) == []
    alive_at(model, now, T0 + 100 + 601)
    [stuck] = flagged_tasks(model)
    assert (stuck.kind, stuck.uuid, stuck.threshold, stuck.reason) == (STUCK, uuid, 600.0, "--stuck-after")


def test_a_received_task_is_never_stuck():
    model, now = make_model(after=60.0)
    uuid, events = task_lifecycle(name="proj.x", final=None, t0=T0)
    feed(model, events[:1])  # task-received only
    alive_at(model, now, T0 + 3600)
    assert flagged_tasks(model) == [] and model.task_row(uuid).state == "RECEIVED"


def test_tasks_on_a_worker_that_sent_worker_offline_are_lost_and_counted():
    model, now = make_model()
    alive_at(model, now, T0, "w1@host", "w2@host")
    running, events = started(model, "proj.a", T0 + 1)
    waiting, more = task_lifecycle(name="proj.b", final=None, t0=T0 + 2)
    elsewhere, other = started(model, "proj.a", T0 + 1, hostname="w2@host")
    feed(model, events + more[:1] + other)
    model.on_event(event("worker-offline", "w1@host", timestamp=T0 + 3))
    alive_at(model, now, T0 + 4, "w2@host")
    lost = lost_tasks(model)
    assert {f.uuid: f.state for f in lost} == {running: "STARTED", waiting: "RECEIVED"}
    assert {f.reason for f in lost} == {"worker-offline"} and {f.since for f in lost} == {T0 + 3}
    assert [f.duration for f in lost] == [1.0, 1.0]
    assert lost_count(model) == 2 and model.summary().lost_tasks == 2
    assert model.task_row(running).flag == LOST and model.task_row(waiting).flag == LOST
    assert model.task_row(elsewhere).flag == ""


def test_tasks_are_lost_once_their_workers_heartbeats_expire():
    model, now = make_model()
    alive_at(model, now, T0, "w1@host", "w2@host")
    uuid, events = started(model, "proj.a", T0 + 1)
    feed(model, events)
    alive_at(model, now, T0 + 2.5, "w2@host")  # w1 last heard at T0 + 1 (its task-started); freq 2 s
    assert lost_count(model) == 0, "within two heartbeat intervals the worker is alive"
    alive_at(model, now, T0 + 5.5, "w2@host")  # past T0 + 1 + 2 × 2 s: nothing changed in the model but time
    [lost] = lost_tasks(model)
    assert (lost.uuid, lost.reason, lost.since, lost.duration) == (uuid, "heartbeats stopped", T0 + 1, 4.5)
    assert lost_count(model) == 1 and model.summary().lost_tasks == 1


def test_a_lost_task_that_finishes_is_lost_no_more():
    """Its final event put right by :reconcile (which marks no sign of life: local_received 0): the worker stays
    dead, the task is no longer lost."""
    model, now = make_model()
    alive_at(model, now, T0)
    uuid, events = task_lifecycle(name="proj.a", t0=T0 + 1)
    feed(model, events[:2])
    alive_at(model, now, T0 + 60, "w2@host")
    assert lost_count(model) == 1
    model.reconcile([(uuid, "STARTED", dict(events[2], local_received=0.0))])
    assert model.task_row(uuid).state == "SUCCESS" and model.task_row(uuid).flag == ""
    assert lost_count(model) == 0 and flagged_tasks(model) == []
    assert not model.worker_rows()[1].online, "w1 is still dead"


def test_a_dead_worker_coming_back_unloses_its_tasks():
    model, now = make_model()
    alive_at(model, now, T0)
    uuid, events = started(model, "proj.a", T0 + 1)
    feed(model, events)
    now[0] = T0 + 30
    assert lost_count(model) == 1
    alive_at(model, now, T0 + 31)
    assert lost_count(model) == 0 and model.task_row(uuid).flag == ""


def test_lost_comes_before_stuck():
    model, now = make_model(after=60.0)
    alive_at(model, now, T0)
    uuid, events = started(model, "proj.a", T0 + 1)
    feed(model, events)
    now[0] = T0 + 3600
    assert [(f.kind, f.uuid) for f in flagged_tasks(model)] == [(LOST, uuid)]


def test_the_tasks_filter_lists_lost_and_stuck_tasks_as_time_passes():
    model, now = make_model(after=60.0)
    alive_at(model, now, T0, "w1@host", "w2@host")
    lost, events = started(model, "proj.a", T0 + 1)
    stuck, more = started(model, "proj.a", T0 + 1, hostname="w2@host")
    fine, done = task_lifecycle(name="proj.a", hostname="w2@host", t0=T0 + 2)
    feed(model, events + more + done)
    alive_at(model, now, T0 + 3, "w1@host", "w2@host")
    assert model.query(parse("is:lost")) == [] and model.query(parse("is:stuck")) == []
    alive_at(model, now, T0 + 120, "w2@host")  # w1 went quiet; the other task ran past a minute
    assert model.query(parse("is:lost")) == [lost]
    assert model.query(parse("is:stuck")) == [stuck]
    assert set(model.query(parse("!is:lost"))) == {stuck, fine}


def test_lost_count_follows_workers_dying_without_any_event():
    """The count is cached by the model's version and the dead workers: time alone must still move it."""
    model, now = make_model()
    alive_at(model, now, T0, "w1@host", "w2@host")
    feed(model, started(model, "proj.a", T0 + 1)[1] + started(model, "proj.a", T0 + 1, hostname="w2@host")[1])
    model.on_event(heartbeat("w2@host", timestamp=T0 + 10))
    now[0] = T0 + 11
    assert lost_count(model) == 1
    now[0] = T0 + 20
    assert lost_count(model) == 2
