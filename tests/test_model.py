import time

import pytest
from celery.events.state import State

from celerytop.model.cluster import ClusterModel
from tests.events import event, heartbeat, task_lifecycle


def feed(model, events):
    for e in events:
        model.on_event(dict(e))


def test_tasks_are_listed_newest_first_with_their_states():
    model = ClusterModel()
    first, events1 = task_lifecycle(name="proj.add")
    second, events2 = task_lifecycle(name="proj.fail", final="task-failed")
    feed(model, events1 + events2)
    assert model.query() == [second, first]
    assert model.task_row(first).state == "SUCCESS"
    failed = model.task_row(second)
    assert (failed.state, failed.name, failed.worker) == ("FAILURE", "proj.fail", "w1@host")
    assert model.summary().state_counts == {"SUCCESS": 1, "FAILURE": 1}


def test_state_counts_follow_transitions():
    model = ClusterModel()
    uuid, events = task_lifecycle(final=None)
    feed(model, events)
    assert model.summary().state_counts == {"STARTED": 1}
    model.on_event(event("task-succeeded", uuid=uuid, result="3", runtime=0.5))
    assert model.summary().state_counts == {"SUCCESS": 1}
    assert model.task_row(uuid).runtime == 0.5


def test_started_task_runtime_keeps_counting():
    model = ClusterModel()
    uuid, events = task_lifecycle(final=None, t0=time.time() - 30)
    feed(model, events)
    assert 29 < model.task_row(uuid).runtime < 60


def test_eviction_drops_oldest_finished_tasks_before_unfinished_ones():
    model = ClusterModel(max_tasks=3)
    running, events = task_lifecycle(final=None)  # oldest, still STARTED
    feed(model, events)
    done = []
    for _ in range(4):
        uuid, events = task_lifecycle()
        feed(model, events)
        done.append(uuid)
    order = model.query()
    assert len(order) == 3
    assert running in order, "an unfinished task was evicted while finished ones remained"
    assert order[:2] == [done[3], done[2]]
    assert model.summary().evicted == 2
    assert sum(model.summary().state_counts.values()) == 3


def test_eviction_falls_back_to_oldest_when_nothing_is_finished():
    model = ClusterModel(max_tasks=2)
    uuids = []
    for _ in range(3):
        uuid, events = task_lifecycle(final=None)
        feed(model, events)
        uuids.append(uuid)
    assert model.query() == [uuids[2], uuids[1]]


def test_unknown_event_types_are_counted_and_ignored():
    model = ClusterModel()
    model.on_event(event("task-exploded", uuid="x"))
    model.on_event(event("custom-thing"))
    summary = model.summary()
    assert summary.unknown_events == 2
    assert set(summary.unknown_types) == {"task-exploded", "custom-thing"}
    assert model.query() == []


def test_broken_events_never_raise():
    model = ClusterModel()
    broken = [
        {},
        {"type": None},
        {"no": "type"},
        event("task-received", uuid=None, name="x"),
        event("task-received", uuid="u1", hostname=None),
        event("task-started", uuid="u2", timestamp="not a number"),
        event("worker-heartbeat", hostname=12),
        heartbeat("w9@host", freq="often", loadavg="high"),
    ]
    for e in broken:
        model.on_event(e)
    summary = model.summary()
    assert summary.malformed_events >= 5
    # whatever made it in still renders
    for uuid in model.query():
        model.task_row(uuid)
    assert [r.hostname for r in model.worker_rows() if r.hostname == "w9@host"]


def test_workers_go_offline_when_heartbeats_stop():
    model = ClusterModel()
    model.on_event(heartbeat("alive@host"))
    model.on_event(heartbeat("dead@host", timestamp=time.time() - 30))
    rows = {r.hostname: r for r in model.worker_rows()}
    assert rows["alive@host"].online and not rows["dead@host"].online
    assert rows["dead@host"].heartbeat_age > 29
    assert rows["alive@host"].software == "py-celery 5.7.0"
    assert [r.hostname for r in model.worker_rows()] == ["alive@host", "dead@host"]
    summary = model.summary()
    assert (summary.workers_online, summary.workers_total) == (1, 2)


def test_worker_offline_event():
    model = ClusterModel()
    model.on_event(heartbeat("w1@host"))
    model.on_event(event("worker-offline", "w1@host"))
    assert not model.worker_rows()[0].online


def fifty_events_in_two_seconds():
    """A model that took a rate sample, then 50 events over 2 s; and its clock."""
    now = [100.0]
    model = ClusterModel(monotonic=lambda: now[0])
    model.sample_event_rate()
    for _ in range(50):
        model.on_event(heartbeat())
    now[0] += 2.0
    return model, now


def test_events_per_second_over_a_window():
    model, _now = fifty_events_in_two_seconds()
    model.sample_event_rate()
    assert model.summary().events_per_second == 25.0


def test_summary_reads_the_event_rate_without_changing_it():
    model, now = fifty_events_in_two_seconds()
    samples = model._event_rate.samples
    first, second = model.summary(), model.summary()
    assert first == second
    assert first.events_per_second == 25.0
    assert model._event_rate.samples == samples, "summary() took a rate sample"
    now[0] += 10.0  # past the window: only a sample forgets old ones, never a summary
    model.summary()
    assert model._event_rate.samples == samples


def test_uncounted_events_change_the_picture_but_not_the_statistics():
    model = ClusterModel()
    uuid, events = task_lifecycle(final=None)
    for e in events:
        model.on_event(e, counted=False)
    summary = model.summary()
    assert model.task_row(uuid).state == "STARTED"
    assert (summary.events_total, summary.task_events) == (0, 0)


def test_same_final_states_as_celerys_own_state():
    model, reference = ClusterModel(max_tasks=1000), State()
    streams = [task_lifecycle(final=f) for f in ("task-succeeded", "task-failed", "task-retried", "task-revoked", None)]
    for _uuid, events in streams:
        for e in events:
            model.on_event(dict(e))
            reference.event(dict(e))
    for uuid, _ in streams:
        assert model.task_row(uuid).state == reference.tasks[uuid].state


def test_failures_have_their_own_bound_when_successes_flood_in():
    from celerytop.model.filtering import parse

    model = ClusterModel(max_tasks=5, max_failures=2)
    failed = []
    for _ in range(3):
        uuid, events = task_lifecycle(name="proj.fail", final="task-failed")
        feed(model, events)
        failed.append(uuid)
    for _ in range(50):
        feed(model, task_lifecycle()[1])
    kept_failures = model.query(parse("state:FAILURE"))
    assert kept_failures == [failed[2], failed[1]], "the newest failures must survive a flood of successes"
    assert len(model.query()) == 5 + 2
    assert model.summary().state_counts == {"SUCCESS": 5, "FAILURE": 2}


def test_query_filters_and_sorts():
    from celerytop.model.filtering import parse

    model = ClusterModel()
    ids = {}
    for name, final, runtime in (("b.task", "task-succeeded", 3.0), ("a.task", "task-failed", None),
                                 ("c.task", "task-succeeded", 1.0)):
        fields = {"runtime": runtime} if runtime else {}
        uuid, events = task_lifecycle(name=name, final=final, **fields)
        feed(model, events)
        ids[name] = uuid
    assert model.query() == [ids["c.task"], ids["a.task"], ids["b.task"]]
    assert model.query(sort="name") == [ids["a.task"], ids["b.task"], ids["c.task"]]
    assert model.query(sort="name", descending=True) == [ids["c.task"], ids["b.task"], ids["a.task"]]
    assert model.query(sort="runtime")[:2] == [ids["b.task"], ids["c.task"]]
    assert model.query(parse("!state:FAILURE")) == [ids["c.task"], ids["b.task"]]
    assert model.query(parse("name:a.*")) == [ids["a.task"]]


def test_query_sorts_by_worker_and_state():
    model = ClusterModel()
    ids = {}
    for hostname, final in (("b@host", "task-failed"), ("c@host", "task-succeeded"), ("a@host", "task-revoked")):
        ids[hostname], events = task_lifecycle(hostname=hostname, final=final)
        feed(model, events)
    assert model.query(sort="worker") == [ids["a@host"], ids["b@host"], ids["c@host"]]
    assert model.query(sort="state") == [ids["b@host"], ids["a@host"], ids["c@host"]]  # FAILURE, REVOKED, SUCCESS


def test_task_detail_keeps_every_step_of_the_timeline():
    model = ClusterModel()
    uuid, events = task_lifecycle(name="proj.flaky", final="task-retried", t0=1000.0)
    feed(model, events)
    model.on_event(event("task-started", timestamp=1002.0, uuid=uuid))
    model.on_event(event("task-failed", timestamp=1003.5, uuid=uuid, exception="KeyError('x')",
                         traceback="Traceback (most recent call last):\nKeyError: 'x'"))
    detail = model.task_detail(uuid)
    assert [step for step, _ in detail.timeline] == ["received", "started", "retried", "started", "failed"]
    assert detail.timeline[-1][1] == 1003.5
    assert detail.exception == "KeyError('x')" and "KeyError: 'x'" in detail.traceback
    assert detail.args == "(1, 2)" and detail.state == "FAILURE"
    assert model.task_detail("no-such-task") is None


def test_workflow_tree_from_root_and_parent_ids_with_placeholders():
    model = ClusterModel()
    root = "root-0000"
    feed(model, task_lifecycle(name="wf.first", uuid=root)[1])
    second, events = task_lifecycle(name="wf.second")
    for e in events:
        e.update(root_id=root, parent_id=root)
    feed(model, events)
    # a group member whose parent (the chord header) was never seen
    member, events = task_lifecycle(name="wf.member")
    for e in events:
        e.update(root_id=root, parent_id="unseen-parent")
    feed(model, events)
    unrelated, events = task_lifecycle(name="other")
    feed(model, events)
    tree = model.workflow(second)
    assert [(depth, uuid) for depth, uuid, _row in tree] == [
        (0, root), (1, second), (1, "unseen-parent"), (2, member)]
    assert tree[2][2] is None, "an unseen parent is a placeholder"
    assert tree[1][2].name == "wf.second"
    assert model.workflow(unrelated) == [(0, unrelated, model.task_row(unrelated))]


def test_a_failed_task_has_its_runtime_from_started_to_failed():
    model = ClusterModel()
    uuid, events = task_lifecycle(name="proj.fail", final=None, t0=1000.0)
    feed(model, events)  # started at 1000.01
    model.on_event(event("task-failed", timestamp=1003.51, uuid=uuid, exception="ValueError()", traceback=""))
    assert model.task_row(uuid).runtime == 3.5
    assert model.task_detail(uuid).runtime == 3.5


def test_the_timeline_is_in_lifecycle_order_whatever_order_events_arrive():
    model = ClusterModel()
    uuid, events = task_lifecycle(name="proj.add", t0=1000.0)
    feed(model, events)  # the worker's received, started, succeeded arrive first
    model.on_event(event("task-sent", hostname="client@host", timestamp=1000.2, uuid=uuid, name="proj.add"))
    assert [step for step, _ in model.task_detail(uuid).timeline] == ["sent", "received", "started", "succeeded"]
    # a retry sends the task again before its task-retried: that sent opens the second attempt
    other, events = task_lifecycle(name="proj.retry", final=None, t0=2000.0)
    feed(model, events)
    model.on_event(event("task-sent", hostname="w1@host", timestamp=2000.5, uuid=other, name="proj.retry"))
    model.on_event(event("task-retried", timestamp=2000.6, uuid=other, exception="Retry", traceback=""))
    model.on_event(event("task-received", timestamp=2001.0, uuid=other, name="proj.retry", retries=1))
    model.on_event(event("task-started", timestamp=2001.1, uuid=other))
    assert [step for step, _ in model.task_detail(other).timeline] == [
        "received", "started", "retried", "sent", "received", "started"]


def test_an_offline_worker_shows_no_active_count_and_when_it_was_last_heard_from():
    now = [1000.0]
    model = ClusterModel(clock=lambda: now[0])
    model.on_event(heartbeat("w1@host", timestamp=1000.0, active=3))
    model.on_event(heartbeat("w2@host", timestamp=1000.0, active=2))
    model.on_event(event("worker-offline", "w2@host", timestamp=1001.0))
    now[0] = 1100.0  # w1's heartbeats stopped (expired after 2 × freq)
    rows = {row.hostname: row for row in model.worker_rows()}
    assert not rows["w1@host"].online and rows["w1@host"].active is None
    assert rows["w1@host"].heartbeat_age == 100.0
    assert rows["w2@host"].active is None and rows["w2@host"].heartbeat_age == 99.0  # since its worker-offline


def test_a_task_started_on_a_worker_that_went_offline_is_flagged_and_its_clock_stops():
    now = [1000.0]
    model = ClusterModel(clock=lambda: now[0])
    model.on_event(heartbeat("w1@host", timestamp=1000.0))
    running, events = task_lifecycle(final=None, t0=1000.0)
    done, more = task_lifecycle(t0=1000.0)
    feed(model, events + more)
    now[0] = 1002.0
    assert not model.task_row(running).worker_offline
    assert model.task_row(running).runtime == pytest.approx(1.99)
    now[0] = 1300.0
    row = model.task_row(running)
    # last heard from at the other task's task-succeeded (1000.03): the runtime stops there
    assert row.worker_offline and row.runtime == pytest.approx(0.02)
    assert model.task_detail(running).worker_offline
    assert not model.task_row(done).worker_offline, "a finished task is not lost"


@pytest.mark.parametrize("failure_at", [0, 1, 2])
def test_a_failure_is_never_evicted_for_unfinished_tasks(failure_at):
    """max_tasks=2, one failure and three STARTED tasks: the oldest STARTED task goes, the failure stays
    (it has its own bound, --max-failures), whenever it came."""
    model = ClusterModel(max_tasks=2)
    streams = [task_lifecycle(final=None) for _ in range(3)]
    streams.insert(failure_at, task_lifecycle(name="proj.fail", final="task-failed"))
    for _uuid, events in streams:
        feed(model, events)
    failed = streams[failure_at][0]
    started = [uuid for uuid, _events in streams if uuid != failed]
    assert model.task_row(failed).state == "FAILURE"
    assert set(model.query()) == {failed, started[1], started[2]}
    assert model.summary().state_counts == {"FAILURE": 1, "STARTED": 2}
    assert model.summary().evicted == 1


def test_a_restored_failure_is_never_evicted_for_unfinished_tasks():
    source = ClusterModel()
    failed, events = task_lifecycle(name="proj.fail", final="task-failed")
    feed(source, events)
    for _ in range(3):
        feed(source, task_lifecycle(final=None)[1])
    exported = source.export_all()
    model = ClusterModel(max_tasks=2)
    model.restore(exported.tasks, exported.workers)
    assert model.has_task(failed)
    assert model.summary().state_counts == {"FAILURE": 1, "STARTED": 2}
