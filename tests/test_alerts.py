"""The alert rules and engine with a fake clock and known answers: each rule fires and clears; the log's lines."""

import json
import os

import pytest

from celerytop.control.alertlog import AlertLog, beside
from celerytop.model.alertrules import (RULE_NAMES, FactRule, FailureRate, QueueDepth, QueueGrowing, Silence,
                                        WorkerOffline, build_rules)
from celerytop.model.alerts import AlertEngine, gather
from celerytop.model.cluster import ClusterModel
from celerytop.model.rows import WorkerRow
from celerytop.model.typestats import TypeStats
from celerytop.options import Options, UsageError
from tests.events import event, heartbeat

T0 = 1_700_000_000.0


def type_row(name, finished, failed):
    return (name, finished, failed)  # as TypeStats.window_counts gives it


def worker(hostname, online, age=1.0):
    return WorkerRow(hostname, online, 0 if online else None, 0, None, age, "py-celery 5.7.0")


def keys(engine):
    return [(alert.rule, alert.subject) for alert in engine.firing_alerts()]


def test_failure_rate_fires_above_the_percentage_once_enough_finished_and_clears():
    engine = AlertEngine([FailureRate(20, min_count=10)])
    facts = {"now": T0, "window": 300.0}
    # one failure of one task is 100 %, but under the minimum count: no alert
    started, cleared = engine.evaluate({**facts, "types": [type_row("rare", 1, 1)]})
    assert (started, cleared) == ([], [])
    # 3 of 10 = 30 % > 20 %: fires, with the figures
    started, _ = engine.evaluate({**facts, "types": [type_row("a", 10, 3), type_row("b", 10, 2)]})
    assert [(a.subject, a.message) for a in started] == [("a", "30 % failed (3 of 10) over the last 5 min")]
    assert started[0].fired_at == T0 and started[0].kind == "type"
    # still firing: not started again, the message follows the figures
    started, cleared = engine.evaluate({**facts, "now": T0 + 10, "types": [type_row("a", 20, 9)]})
    assert (started, cleared) == ([], [])
    assert engine.firing_alerts()[0].message.startswith("45 % failed (9 of 20)")
    # exactly 20 % is not above 20 %: clears at that evaluation's time
    _, cleared = engine.evaluate({**facts, "now": T0 + 20, "types": [type_row("a", 20, 4)]})
    assert [(a.subject, a.cleared_at) for a in cleared] == [("a", T0 + 20)]
    assert keys(engine) == [] and [a.subject for a in engine.history] == ["a"]


def test_worker_offline_fires_per_worker_and_clears_when_it_comes_back():
    engine = AlertEngine([WorkerOffline()])
    started, _ = engine.evaluate({"now": T0, "workers": [worker("w1@a", True), worker("w2@b", False, 30)]})
    assert [(a.subject, a.message) for a in started] == [("w2@b", "last heard 30 s ago")]
    assert engine.headline() == "ALERT worker offline: w2@b · last heard 30 s ago"
    engine.evaluate({"now": T0 + 1, "workers": [worker("w1@a", False), worker("w2@b", False)]})
    assert engine.headline().startswith("ALERT worker offline: w2@b (+1)")
    _, cleared = engine.evaluate({"now": T0 + 2, "workers": [worker("w1@a", True), worker("w2@b", False)]})
    assert [a.subject for a in cleared] == ["w1@a"] and keys(engine) == [("worker-offline", "w2@b")]


def test_queue_depth_fires_above_n_and_nothing_without_samples():
    engine = AlertEngine([QueueDepth(1000)])
    assert engine.evaluate({"now": T0}) == ([], [])  # no "queues" fact: not sampled, no guess
    started, _ = engine.evaluate({"now": T0, "queues": {"q1": [(T0, 1000)], "q2": [(T0 - 3, 5), (T0, 1001)]}})
    assert [(a.subject, a.message) for a in started] == [("q2", "1,001 messages (more than 1,000)")]
    _, cleared = engine.evaluate({"now": T0 + 3, "queues": {"q2": [(T0 + 3, 999)]}})
    assert [a.subject for a in cleared] == ["q2"]


def test_queue_growing_needs_the_whole_span_and_a_rise():
    engine = AlertEngine([QueueGrowing(5)])
    rising = [(T0 + 30 * i, 10 + i) for i in range(11)]  # 5 min of samples, +1 every 30 s
    # 4.5 minutes of samples are not enough to say it grew for 5
    assert engine.evaluate({"now": T0, "queues": {"q": rising[1:]}}) == ([], [])
    started, _ = engine.evaluate({"now": T0, "queues": {"q": rising, "flat": [(T0 + 30 * i, 7) for i in range(11)],
                                                         "draining": [(t, 100 - m) for t, m in rising]}})
    assert [(a.subject, a.message) for a in started] == [("q", "grew from 10 to 20 messages over 5 min")]
    # a drop at the end: the newest depth is not above the oldest in the span
    _, cleared = engine.evaluate({"now": T0 + 330, "queues": {"q": rising + [(T0 + 330, 5)]}})
    assert [a.subject for a in cleared] == ["q"]


def test_silence_fires_after_n_seconds_without_events_while_workers_are_online():
    engine = AlertEngine([Silence(60)])
    assert engine.evaluate({"now": T0, "events_total": 5, "workers_online": 1}) == ([], [])
    assert engine.evaluate({"now": T0 + 59, "events_total": 5, "workers_online": 1}) == ([], [])
    started, _ = engine.evaluate({"now": T0 + 60, "events_total": 5, "workers_online": 2})
    assert [(a.subject, a.message) for a in started] == [("events", "no event for 60 s while 2 worker(s) are "
                                                                    "online")]
    _, cleared = engine.evaluate({"now": T0 + 61, "events_total": 6, "workers_online": 2})  # an event came
    assert len(cleared) == 1
    # no worker online: silence is expected, nothing fires
    assert engine.evaluate({"now": T0 + 500, "events_total": 6, "workers_online": 0}) == ([], [])


def test_fact_rules_read_what_other_modules_fill_and_fire_nothing_without_it():
    lost = FactRule("lost", "lost tasks", "lost", "lost task(s)", "task", subject="tasks")
    beat = FactRule("beat-missed", "periodic task missed", "beat_missed", "missed run", "beat")
    engine = AlertEngine([lost, beat])
    assert engine.evaluate({"now": T0}) == ([], [])  # neither model function wired in
    started, _ = engine.evaluate({"now": T0, "lost": 3, "beat_missed": {"nightly": "due 02:00, not seen"}})
    assert [(a.rule, a.subject, a.message) for a in started] == [
        ("lost", "tasks", "3 lost task(s)"), ("beat-missed", "nightly", "due 02:00, not seen")]
    started, cleared = engine.evaluate({"now": T0 + 1, "lost": ["id-1"], "beat_missed": {}})
    assert [a.subject for a in started] == ["id-1"] and len(cleared) == 2


def test_gather_reads_the_model_on_its_clock_and_the_optional_facts_only_where_they_exist():
    now = [T0]
    model = ClusterModel(clock=lambda: now[0])
    model.on_event(heartbeat("w1@a", timestamp=T0))
    for n in range(10):
        model.on_event(event("task-received", "w1@a", T0, uuid=f"t{n}", name="proj.x"))
        model.on_event(event("task-failed" if n < 3 else "task-succeeded", "w1@a", T0 + 1, uuid=f"t{n}"))
    facts = gather(model, model.now())
    assert facts["workers_online"] == 1 and facts["events_total"] == 21 and "queues" not in facts
    assert "beat_missed" not in facts  # no schedule
    engine = AlertEngine(build_rules(failure_rate=20, min_tasks=10, queue_depth=1000, queue_growing=5,
                                     silence=60))
    started, _ = engine.evaluate(facts)
    assert [(a.rule, a.subject) for a in started] == [("failure-rate", "proj.x")]
    now[0] = T0 + 3600  # an hour later: the worker's heartbeats stopped, the window is empty
    _, cleared = engine.evaluate(gather(model, model.now()))
    assert [a.rule for a in cleared] == ["failure-rate"]
    assert keys(engine) == [("worker-offline", "w1@a")]


def test_a_task_lost_with_its_worker_fires_the_lost_rule_and_clears_when_reconciled():
    now = [T0]
    model = ClusterModel(clock=lambda: now[0])
    for ev in (heartbeat("w1@host", timestamp=T0), event("task-received", uuid="t1", name="proj.a", timestamp=T0),
               event("task-started", uuid="t1", timestamp=T0 + 1), event("worker-offline", timestamp=T0 + 2)):
        ev["local_received"] = ev["timestamp"]
        model.on_event(ev)
    now[0] = T0 + 3
    engine = AlertEngine(build_rules(failure_rate=20, min_tasks=10, queue_depth=1000, queue_growing=5,
                                     silence=60, disabled=("worker-offline", "silence")))
    facts = gather(model, now[0])
    assert facts["lost"] == 1 and "beat_missed" not in facts  # no schedule (no -A): nothing said of beat
    started, _ = engine.evaluate(facts)
    assert [(a.rule, a.subject, a.kind) for a in started] == [("lost", "tasks", "task")]
    model.reconcile([("t1", "STARTED", event("task-succeeded", uuid="t1", timestamp=T0 + 4))])
    _, cleared = engine.evaluate(gather(model, now[0]))
    assert [(a.rule, a.subject) for a in cleared] == [("lost", "tasks")]


def test_build_rules_leaves_out_the_rules_turned_off():
    rules = build_rules(failure_rate=20, min_tasks=10, queue_depth=1, queue_growing=5, silence=60,
                        disabled=("silence", "lost"))
    assert [rule.name for rule in rules] == [n for n in RULE_NAMES if n not in ("silence", "lost")]


@pytest.mark.parametrize("changes, message", [
    ({"alert_failure_rate": 100}, "--alert-failure-rate"),
    ({"alert_min_tasks": 0}, "--alert-min-tasks"),
    ({"alert_queue_growing": 61}, "--alert-queue-growing"),
    ({"alert_silence": 0.5}, "--alert-silence"),
    ({"no_alert": ("silense",)}, "no rule named 'silense'"),
    ({"exit_on_alert": True}, "--exit-on-alert is for --batch"),
])
def test_bad_alert_options_are_one_line_errors(changes, message):
    with pytest.raises(UsageError, match=message):
        Options(**changes).check()


def test_the_alert_log_writes_one_json_line_per_fire_and_clear(tmp_path):
    path = beside(str(tmp_path / "audit.log"))
    assert path == str(tmp_path / "alerts.log")
    log = AlertLog(path)
    engine = AlertEngine([WorkerOffline()])
    started, _ = engine.evaluate({"now": T0, "workers": [worker("w1@a", False, 5)]})
    log.write("fired", started[0])
    _, cleared = engine.evaluate({"now": T0 + 7, "workers": [worker("w1@a", True)]})
    log.write("cleared", cleared[0])
    lines = [json.loads(line) for line in open(path)]
    assert [(r["event"], r["rule"], r["subject"], r["fired_at"], r["cleared_at"]) for r in lines] == [
        ("fired", "worker-offline", "w1@a", T0, None), ("cleared", "worker-offline", "w1@a", T0, T0 + 7)]
    assert lines[0]["message"] == "last heard 5 s ago" and lines[1]["time"].startswith("2023-11-1")
    assert oct(os.stat(path).st_mode & 0o777) == "0o600" and log.error == ""


def test_an_alert_log_that_cannot_be_written_says_so_and_keeps_saying_it(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    log = AlertLog(str(blocker / "alerts.log"))
    engine = AlertEngine([WorkerOffline()])
    started, _ = engine.evaluate({"now": T0, "workers": [worker("w1@a", False)]})
    log.write("fired", started[0])
    assert "cannot write the alert log" in log.error and "1 line(s) lost" in log.error
    log.path = str(tmp_path / "alerts.log")  # writable again: the lost line is still said
    log.write("fired", started[0])
    assert "1 line(s) lost" in log.error and log.written == 1


def test_the_rule_reads_the_types_views_own_window_figures():
    """window_counts (what the rule reads) and rows (what the view and batch show) agree, type by type."""
    stats = TypeStats(window=300.0)
    model = ClusterModel(clock=lambda: T0 + 400)
    model.type_stats = stats
    for n in range(30):
        uuid, when = f"t{n}", T0 + (0 if n < 10 else 200)  # the first 10 fall out of the window ending at T0+400
        model.on_event(event("task-received", "w1@a", when, uuid=uuid, name=f"proj.{n % 3}"))
        model.on_event(event("task-failed" if n % 4 == 0 else "task-succeeded", "w1@a", when + 1, uuid=uuid))
    counts = {name: (finished, failed) for name, finished, failed in stats.window_counts(T0 + 400)}
    rows = {row.name: row for row in stats.rows(T0 + 400)}
    assert set(counts) == set(rows) == {"proj.0", "proj.1", "proj.2"}
    for name, (finished, failed) in counts.items():
        assert finished * 60.0 / 300.0 == rows[name].rate_per_min
        assert 100.0 * failed / finished == rows[name].failure_pct
    assert sum(finished for finished, _ in counts.values()) == 20


def test_batch_queue_rules_see_the_whole_growing_span_and_only_the_queues_measured():
    # --batch --queues: one depth sample per snapshot.  A 30-minute 'growing' span at a snapshot every
    # 2 s needs 900 samples; a queue no longer measured must not keep its last depth firing.
    import io

    from celerytop.modes.batch import Printer

    clock = [T0]
    model = ClusterModel(clock=lambda: clock[0])
    engine = AlertEngine([QueueGrowing(30), QueueDepth(100)])
    printer = Printer(model, "json", 120, "app", "broker", out=io.StringIO(), alerts=engine,
                      queues=lambda: None, queue_window=30 * 60 + 2 * 2)
    for n in range(30 * 30 + 2):
        clock[0] = T0 + 2 * n
        measured = [{"name": "grows", "messages": n // 10}] + ([{"name": "gone", "messages": 500}] if n < 5 else [])
        printer._firing({"round_seconds": 0.0, "queues": measured})
        if n == 4:
            assert keys(engine) == [("queue-depth", "gone")]
    assert keys(engine) == [("queue-growing", "grows")]
