"""The model against celery's own ``State`` on replayed streams.

The model keeps tasks in its own compact records instead of celery's
``State`` (issue 7).  These tests replay event streams through both and
compare what each ends up knowing: every task attribute, the task order,
children, workers and their heartbeats.  The streams are issue 7's
benchmark workload (``benchmarks/workload.py``, as celery's Receiver
delivers it), the same stream disordered, and hand-made edge cases.

Eviction is compared with the algorithm the model used before its
indexes: celery's ``State`` trimmed after every event by a walk from the
oldest task (``reference_evict`` below).
"""

import itertools
import random

from celery import states
from celery.events.state import State

from benchmarks import workload
from celerytop.events.eventcheck import problem
from celerytop.model.cluster import FINISHED_STATES, ClusterModel
from celerytop.model.taskfields import EVENT_FIELDS
from tests.events import event, task_lifecycle

#: Compared by value; ``queue`` is on celery's Task only when a task-sent said so.
COMPARED_FIELDS = EVENT_FIELDS


def workload_events(count, seed=7):
    return list(itertools.islice(workload.receiver_events(workload.stream(seed=seed), seed=seed), count))


def disordered(events, seed, window=6):
    """Events shuffled within small windows, as several workers' streams interleave late."""
    rng = random.Random(seed)
    out = []
    for start in range(0, len(events), window):
        chunk = events[start:start + window]
        rng.shuffle(chunk)
        out.extend(chunk)
    return out


def run_both(events, model=None):
    model = model or ClusterModel(max_tasks=10 ** 6, max_failures=10 ** 6)
    reference = State(max_tasks_in_memory=10 ** 6)
    for e in events:
        model.on_event(dict(e))
        if problem(e) is None:  # celerytop counts a malformed event where celery would keep it
            reference.event(dict(e))
    return model, reference


def assert_same_tasks(model, reference):
    tasks = model._tasks
    assert list(tasks) == list(reference.tasks.data), "task order differs from celery's"
    for uuid, theirs in reference.tasks.data.items():
        ours = tasks[uuid]
        for name in COMPARED_FIELDS:
            assert getattr(ours, name) == getattr(theirs, name, None), (uuid, name)
        assert (ours.worker.hostname if ours.worker else None) == (theirs.worker.hostname if theirs.worker else None)
        assert sorted(model._live_children(ours)) == sorted(c.uuid for c in theirs.children if c.uuid in tasks)
        ignored = {"type", "local_received", "utcoffset", "pid", "hostname", "uuid"}
        extra = {k: v for k, v in theirs.__dict__.items()
                 if k not in COMPARED_FIELDS and k not in ignored and k not in (
                     "worker", "children", "cluster_state", "_serializer_handlers", "parent", "root")}
        assert (ours.extra or {}) == extra, uuid
    assert model.task_names() == sorted(reference.task_types())
    counts = {s: n for s, n in model.state_counts.items() if n}
    expected = {}
    for task in reference.tasks.data.values():
        expected[task.state] = expected.get(task.state, 0) + 1
    assert counts == expected


def assert_same_workers(model, reference):
    assert set(model._workers) == set(reference.workers)
    for hostname, theirs in reference.workers.items():
        ours = model._workers[hostname]
        for name in ("heartbeats", "active", "processed", "loadavg", "freq", "sw_ident", "sw_ver", "sw_sys",
                     "clock", "pid"):
            assert getattr(ours, name) == getattr(theirs, name), (hostname, name)


def test_the_benchmark_workload_ends_in_the_same_state_as_celerys():
    events = workload_events(12000)
    assert {e["type"] for e in events} >= {"task-sent", "task-received", "task-started", "task-succeeded",
                                           "task-failed", "worker-online", "worker-heartbeat"}
    assert any(e.get("parent_id") for e in events), "the workload must exercise children"
    model, reference = run_both(events)
    assert len(reference.tasks) > 2000
    assert_same_tasks(model, reference)
    assert_same_workers(model, reference)


def test_events_out_of_order_merge_as_celery_merges_them():
    events = disordered(workload_events(6000, seed=11), seed=3)
    first_seen = {}
    late_received = 0
    for e in events:
        uuid = e.get("uuid")
        if uuid and e["type"] == "task-received" and first_seen.get(uuid) in ("task-started", "task-succeeded"):
            late_received += 1
        first_seen.setdefault(uuid, e["type"])
    assert late_received > 20, "the stream must exercise celery's merge rules"
    model, reference = run_both(events)
    assert_same_tasks(model, reference)
    assert_same_workers(model, reference)


def test_edge_cases_end_as_in_celery():
    uuid1, life1 = task_lifecycle(name="proj.retry", final="task-retried")
    again = [event("task-received", uuid=uuid1, name="proj.retry", args="(1,)", kwargs="{}", retries=1),
             event("task-started", uuid=uuid1), event("task-succeeded", uuid=uuid1, result="1", runtime=0.1)]
    uuid2, life2 = task_lifecycle(name="proj.late")
    late = [life2[2], life2[0], life2[1]]  # succeeded first, then received (merged), then started
    uuid3, life3 = task_lifecycle(name="proj.revoked", final="task-revoked")
    rejected = [event("task-rejected", uuid="rej-1", requeue=False),
                event("task-received", uuid="rej-1", name="proj.rejected", args="()", kwargs="{}")]
    parent, child = "parent-1", "child-1"
    family = [event("task-received", uuid=child, name="proj.child", parent_id=parent, root_id=parent),
              event("task-received", uuid=parent, name="proj.parent"),
              event("task-started", uuid=child, parent_id=parent, root_id=parent)]
    custom = [event("task-received", uuid="custom-1", name="proj.x", shard=7, tags=["a"])]
    long_traceback = "Traceback (most recent call last):\n" + "  Fichier « tâche.py » \ud800\n" * 80
    failed = [event("task-failed", uuid="custom-1", exception="KeyError('é')", traceback=long_traceback)]
    offline = [event("worker-online", hostname="w2@host", freq=2.0, sw_ident="py-celery", sw_ver="5.7.0"),
               event("worker-heartbeat", hostname="w2@host", active=1, processed=4, loadavg=[0.1, 0.2, 0.3]),
               event("worker-offline", hostname="w2@host"), event("worker-offline", hostname="ghost@host")]
    model, reference = run_both(life1 + again + late + life3 + rejected + family + custom + failed + offline)
    assert reference.tasks.data[uuid2].state == states.SUCCESS and reference.tasks.data[uuid2].name == "proj.late"
    assert [c.uuid for c in reference.tasks.data[parent].children] == [child]
    assert model._tasks["custom-1"].extra == {"shard": 7, "tags": ["a"]}
    assert model.task_detail("custom-1").traceback == long_traceback, "kept compressed, read back whole"
    assert_same_tasks(model, reference)
    assert_same_workers(model, reference)


# -- eviction against the walk the model used to do -------------------------------------------------------


def reference_evict(state, max_tasks, max_failures):
    """The model's eviction before issue 7: walk from the oldest task, every time."""
    tasks = state.tasks.data
    failures = sum(1 for t in tasks.values() if t.state == states.FAILURE)
    excess_failures = failures - max_failures
    excess_others = len(tasks) - failures - max_tasks
    if excess_failures <= 0 and excess_others <= 0:
        return
    doomed = []
    for uuid, task in tasks.items():
        if excess_failures <= 0 and excess_others <= 0:
            break
        if task.state == states.FAILURE:
            if excess_failures > 0:
                doomed.append(uuid)
                excess_failures -= 1
        elif excess_others > 0 and task.state in FINISHED_STATES:
            doomed.append(uuid)
            excess_others -= 1
    if excess_others > 0:
        chosen = set(doomed)
        for uuid, task in tasks.items():
            if excess_others <= 0:
                break
            if uuid not in chosen and task.state != states.FAILURE:
                doomed.append(uuid)
                excess_others -= 1
    for uuid in doomed:
        tasks.pop(uuid)


def test_bounded_model_keeps_the_same_tasks_as_the_old_eviction():
    events = disordered(workload_events(8000, seed=5), seed=9, window=40)
    # some tasks never finish, so the fallback (oldest unfinished) is used too
    events = [e for i, e in enumerate(events) if not (e["type"] == "task-succeeded" and i % 7 == 0)]
    model = ClusterModel(max_tasks=300, max_failures=25)
    reference = State(max_tasks_in_memory=10 ** 6)
    for e in events:
        model.on_event(dict(e))
        reference.event(dict(e))
        reference_evict(reference, 300, 25)
    assert model.summary().evicted > 1000
    assert list(model._tasks) == list(reference.tasks.data)
    for uuid, theirs in reference.tasks.data.items():
        assert model._tasks[uuid].state == theirs.state


# -- the timeline, kept compact while no event repeats -------------------------------------------------------


def test_timeline_keeps_every_event_with_its_own_time():
    model = ClusterModel()
    uuid, life = task_lifecycle(name="proj.retry", final="task-retried", t0=1000.0)
    again = [event("task-received", timestamp=1010.0, uuid=uuid, name="proj.retry", retries=1),
             event("task-started", timestamp=1011.0, uuid=uuid),
             event("task-succeeded", timestamp=1012.0, uuid=uuid, result="1", runtime=1.0)]
    for e in life + again:
        model.on_event(dict(e))
    assert model.task_detail(uuid).timeline == (
        ("received", 1000.0), ("started", 1000.01), ("retried", 1000.03),
        ("received", 1010.0), ("started", 1011.0), ("succeeded", 1012.0))
    other, life = task_lifecycle(t0=2000.0)
    for e in life:
        model.on_event(dict(e))
    assert model.task_detail(other).timeline == (("received", 2000.0), ("started", 2000.01),
                                                 ("succeeded", 2000.03))
    # an event carrying another event's time as a field: celery takes the field, the timeline keeps the event
    model.on_event(event("task-revoked", timestamp=2001.0, uuid=other, received=5.0))
    assert model.task_detail(other).timeline[0] == ("received", 2000.0)
    assert model.task_detail(other).timeline[-1] == ("revoked", 2001.0)
    assert model._tasks[other].received == 5.0
