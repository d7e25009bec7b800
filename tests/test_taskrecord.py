"""The task record's compact storage gives back exactly what celery's Task holds.

``TaskRecord`` keeps numbers as doubles in one array, args and kwargs as
one string and rarely set attributes in a dict made on demand (issue 7's
memory target).  Whatever a worker sends must still read back as celery's
``Task`` would hold it, type included: an int timestamp stays an int, a NaN
stays a NaN, a string where a time belongs stays a string, args that are
not text stay what they were.  These tests replay such events through the
model and through celery's ``State`` and compare type and value.
"""

import math

from celerytop.model.cluster import ClusterModel
from celerytop.model.taskfields import EVENT_FIELDS
from celerytop.model.taskrecord import TaskRecord
from tests.events import event
from tests.test_model_equivalence import assert_same_tasks, run_both


def same(ours, theirs) -> bool:
    if isinstance(ours, float) and isinstance(theirs, float) and math.isnan(ours) and math.isnan(theirs):
        return True
    return type(ours) is type(theirs) and ours == theirs


def assert_same_types_and_values(model, reference):
    assert list(model._tasks) == list(reference.tasks.data)
    for uuid, theirs in reference.tasks.data.items():
        ours = model._tasks[uuid]
        for name in EVENT_FIELDS:
            assert same(getattr(ours, name), getattr(theirs, name, None)), (uuid, name, getattr(ours, name))


def test_values_a_double_cannot_hold_come_back_as_they_were_sent():
    odd = [
        # an int timestamp, a float clock, an int clock too big for a double
        event("task-received", timestamp=1700000000, uuid="t-int", name="proj.a", args="()", kwargs="{}"),
        event("task-started", timestamp=1700000001.5, uuid="t-int"),
        event("task-succeeded", timestamp=1700000002.5, uuid="t-int", result="1", runtime=0.25, clock=7.0),
        event("task-received", timestamp=1700000003.5, uuid="t-str", name="proj.b", args="()", kwargs="{}",
              clock=2 ** 60),
        # a NaN runtime, a string where a time belongs, a time of True: malformed (celerytop.events.eventcheck)
        event("task-succeeded", timestamp=1700000003.6, uuid="t-int", runtime=float("nan")),
        event("task-succeeded", timestamp=1700000003.7, uuid="t-str", runtime="soon"),
        # args that are not text, args with a NUL, args without kwargs
        event("task-received", timestamp=1700000004.5, uuid="t-list", name="proj.c", args=[1, 2], kwargs={"a": 1}),
        event("task-received", timestamp=1700000005.5, uuid="t-nul", name="proj.d", args="('a\0b',)", kwargs="{}"),
        event("task-received", timestamp=1700000006.5, uuid="t-half", name="proj.e", args="(1,)"),
        event("task-failed", timestamp=True, uuid="t-bool", exception="E()", traceback="tb"),
        # results that are not text or hold the separators; a queue that is not a string
        event("task-succeeded", timestamp=1700000007.5, uuid="t-list", result={"rows": [1]}, runtime=0.5),
        event("task-succeeded", timestamp=1700000008.5, uuid="t-nul", result="'x\0y'", runtime=0.5),
        event("task-sent", hostname="client@web", timestamp=1700000009.5, uuid="t-odd", name="proj.f",
              args="('\x01',)", kwargs="{}", queue=["q1"], exchange="", routing_key="q1"),
        event("task-succeeded", timestamp=1700000010.5, uuid="t-odd", result="'\x01'", runtime=0.5),
        event("task-received", timestamp=1700000011.5, uuid="t-res1", name="proj.g", args="()", kwargs="{}"),
        event("task-succeeded", timestamp=1700000012.5, uuid="t-res1", result="\x01", runtime=0.5),
        event("task-received", timestamp=1700000013.5, uuid="t-res2", name="proj.g", args="()", kwargs="{}"),
        event("task-succeeded", timestamp=1700000014.5, uuid="t-res2", result="'\0'", runtime=0.5),
    ]
    model, reference = run_both(odd)
    assert_same_types_and_values(model, reference)
    assert model.summary().malformed_events == 3  # the NaN runtime, the runtime of "soon", the time True
    assert_same_tasks(model, reference)  # order, children, extra
    tasks = model._tasks
    assert type(tasks["t-int"].received) is int and type(tasks["t-int"].clock) is float
    assert tasks["t-int"].runtime == 0.25 and tasks["t-str"].runtime is None and "t-bool" not in tasks
    assert tasks["t-str"].clock == 2 ** 60, "an int too big for a double stays exact"
    assert tasks["t-list"].args == [1, 2] and tasks["t-list"].kwargs == {"a": 1}
    assert tasks["t-nul"].args == "('a\0b',)" and tasks["t-nul"].kwargs == "{}"
    assert tasks["t-half"].args == "(1,)" and tasks["t-half"].kwargs is None and tasks["t-half"].result is None
    assert tasks["t-list"].result == {"rows": [1]} and tasks["t-nul"].result == "'x\0y'"
    assert (tasks["t-odd"].args, tasks["t-odd"].result, tasks["t-odd"].queue) == ("('\x01',)", "'\x01'", ["q1"])
    assert tasks["t-odd"].client == "client@web" and tasks["t-odd"].routing_key == "q1"
    for uuid, result in (("t-res1", "\x01"), ("t-res2", "'\0'")):
        assert (tasks[uuid].args, tasks[uuid].kwargs, tasks[uuid].result) == ("()", "{}", result)


def test_a_clean_value_replaces_an_odd_one_and_none_clears_it():
    record = TaskRecord("u", 1)
    record.set_fields({"timestamp": 5, "runtime": "x", "args": [1], "kwargs": "{}", "eta": "2026-01-01"})
    assert (record.timestamp, record.runtime, record.args, record.kwargs, record.eta) == (5, "x", [1], "{}", "2026-01-01")
    record.set_fields({"timestamp": 6.5, "runtime": 0.25, "args": "(1,)", "eta": None})
    assert (record.timestamp, record.runtime, record.args, record.kwargs, record.eta) == (6.5, 0.25, "(1,)", "{}", None)
    assert type(record.timestamp) is float
    assert record._rare in (None, {}), "nothing odd is left behind"
    record.runtime = None
    assert record.runtime is None


def test_a_copy_does_not_share_its_numbers_or_rare_fields():
    record = TaskRecord("u", 1)
    record.set_fields({"timestamp": 1.5, "exception": "E()", "args": "(1,)", "kwargs": "{}"})
    twin = record.copy(seq=9)
    twin.set_fields({"timestamp": 2.5, "exception": "F()", "args": "(2,)"})
    assert (record.seq, record.timestamp, record.exception, record.args) == (1, 1.5, "E()", "(1,)")
    assert (twin.seq, twin.timestamp, twin.exception, twin.args, twin.kwargs) == (9, 2.5, "F()", "(2,)", "{}")


def test_tasks_sent_the_same_way_share_one_route():
    model = ClusterModel()
    for uuid, queue in (("a", "billing"), ("b", "billing"), ("c", "media")):
        model.on_event(event("task-sent", hostname="client@web", uuid=uuid, name="proj.x", args="()", kwargs="{}",
                             queue=queue, exchange="", routing_key=queue))
    a, b, c = (model._tasks[u] for u in "abc")
    assert (a.queue, a.exchange, a.routing_key) == ("billing", "", "billing") == (b.queue, b.exchange, b.routing_key)
    assert a._route is b._route and c._route is not a._route and c.queue == "media"
    c.queue = "billing"
    assert c.routing_key == "media" and c.queue == "billing" and c._route is not a._route
    c.routing_key = "billing"
    assert c._route is a._route


def test_text_fields_read_back_after_each_change():
    record = TaskRecord("u", 1)
    assert (record.args, record.kwargs, record.result) == (None, None, None)
    record.set_fields({"result": "'r'"})
    assert (record.args, record.kwargs, record.result) == (None, None, "'r'")
    record.set_fields({"args": "()", "kwargs": "{'a': 1}"})
    assert (record.args, record.kwargs, record.result) == ("()", "{'a': 1}", "'r'")
    record.kwargs = ""
    record.result = None
    assert (record.args, record.kwargs, record.result) == ("()", "", None)
    assert record.search_text() == "u\0\0()\0\0\0"


def test_order_of_eviction_heaps_is_first_seen():
    older, newer = TaskRecord("a", 3), TaskRecord("b", 10)
    assert older < newer and not newer < older


def test_the_model_reads_times_back_for_rows_and_detail():
    model = ClusterModel()
    model.on_event(event("task-received", timestamp=100.5, uuid="x", name="proj.a", args="(1,)", kwargs="{'k': 2}"))
    model.on_event(event("task-started", timestamp=101.5, uuid="x"))
    model.on_event(event("task-failed", timestamp=103.0, uuid="x", exception="KeyError()", traceback="tb"))
    detail = model.task_detail("x")
    assert (detail.received, detail.started, detail.args, detail.kwargs) == (100.5, 101.5, "(1,)", "{'k': 2}")
    assert detail.exception == "KeyError()" and detail.traceback == "tb"
    assert detail.timeline == (("received", 100.5), ("started", 101.5), ("failed", 103.0))
