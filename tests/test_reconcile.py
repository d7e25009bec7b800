"""What :reconcile makes of the answers (the live test asks real workers: tests/test_live_reconcile.py)."""

import time

from celerytop.control import reconcile
from celerytop.model.cluster import ClusterModel
from tests.events import event, heartbeat, task_lifecycle


def model_with(*finals, t0=None):
    model = ClusterModel()
    ids = []
    for final in finals:
        uuid, events = task_lifecycle(final=final, t0=t0)
        for e in events:
            model.on_event(dict(e))
        ids.append(uuid)
    return model, ids


def test_finished_tasks_are_corrected_from_the_backend_and_the_rest_say_why_they_stay():
    model, (done, failed, running, waiting, silent) = model_with(None, None, None, None, None)
    model.on_event(event("task-received", uuid="r1", name="proj.add"))  # RECEIVED, yet already running
    asked = reconcile.candidates(model)
    assert {c.uuid for c in asked} == {done, failed, running, waiting, silent, "r1"}
    answers = reconcile.Answers(
        on_worker={running: ("w1@host", "active", {}), waiting: ("w1@host", "reserved", {}),
                   "r1": ("w1@host", "active", {"time_start": 1700000000.0})},
        answered={"w1@host"},
        backend={done: {"status": "SUCCESS", "result": 3, "date_done": "2026-01-01T00:00:00+00:00"},
                 failed: {"status": "FAILURE", "result": ValueError("boom"), "traceback": "Traceback…"},
                 silent: {"status": "PENDING", "result": None}})
    fixes, kept = reconcile.corrections(asked, answers, now=model.now())
    changed = model.reconcile([(uuid, shown, e) for uuid, shown, e, _source in fixes])
    assert sorted(changed) == sorted([(done, "STARTED", "SUCCESS"), (failed, "STARTED", "FAILURE"),
                                      ("r1", "RECEIVED", "STARTED")])
    assert model.task_detail(done).result == "3"
    assert model.task_detail(failed).exception == "ValueError('boom')"
    assert dict((uuid, why) for uuid, _state, why in kept) == {
        running: "running on w1@host", waiting: "waiting on w1@host",
        silent: "unknown: on no worker, and no outcome in the result backend (lost, or its result not kept)"}


def test_an_event_that_arrived_meanwhile_wins_and_made_up_events_revive_no_worker():
    model, (uuid,) = model_with(None)
    model.on_event(heartbeat("w1@host", timestamp=model.now() - 600))  # long gone
    asked = reconcile.candidates(model)
    model.on_event(event("task-failed", uuid=uuid, exception="E()", traceback=""))  # the real outcome, late
    fixes, _kept = reconcile.corrections(asked, reconcile.Answers(backend={uuid: {"status": "SUCCESS"}}),
                                         now=model.now())
    assert model.reconcile([(u, shown, e) for u, shown, e, _s in fixes]) == []
    assert model.task_row(uuid).state == "FAILURE"
    model2, (uuid2,) = model_with(None, t0=time.time() - 600)  # its worker long gone
    model2.on_event(heartbeat("w1@host", timestamp=model2.now() - 600))
    asked = reconcile.candidates(model2)
    fixes, _kept = reconcile.corrections(asked, reconcile.Answers(backend={uuid2: {"status": "SUCCESS"}}),
                                         now=model2.now())
    assert model2.reconcile([(u, shown, e) for u, shown, e, _s in fixes]) == [(uuid2, "STARTED", "SUCCESS")]
    assert model2.summary().events_total == 3, "made-up events are not counted"
    assert model2.summary().workers_online == 0, "nor taken for a sign of the worker's life"


def test_the_summary_line_counts_by_outcome():
    report = reconcile.Report(asked=4, changed=(("a", "STARTED", "SUCCESS", "result backend"),
                                                ("b", "STARTED", "SUCCESS", "result backend")),
                              unchanged=(("c", "STARTED", "running on w1@h"),
                                         ("d", "STARTED", "unknown: its worker w2@h did not answer")))
    assert report.summary() == ("reconcile: corrected 2 of 4 (2 → SUCCESS); 1 still on workers; 1 unknown; "
                                "L for each task")
