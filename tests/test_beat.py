"""Periodic tasks (model/beat.py): schedules in words, next runs, missed runs and what cannot be seen, on a fake clock."""

from datetime import timedelta

import pytest
from celery import Celery
from celery.schedules import crontab, schedule

from celerytop.model.beat import (BROKER_ONLY, NO_APP_NOTE, BeatPlan, Entry, beat_rows, in_words, plan_from_app,
                                  tolerance, watch)
from celerytop.model.cluster import ClusterModel
from tests.events import event

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


class Clock:
    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now


def app_with(schedule_conf, **conf):
    app = Celery("beatproj", set_as_current=False)
    app.conf.beat_schedule = schedule_conf
    app.conf.timezone = "UTC"
    app.conf.update(conf)
    return app


def model_for(plan, clock):
    model = ClusterModel(clock=clock)
    watch(model, plan)
    return model


def run(model, clock, when, uuid, name, args="()", kwargs="{}", kind="task-sent"):
    clock.now = when
    model.on_event(event(kind, "beat@host", when, uuid=uuid, name=name, args=args, kwargs=kwargs))


def row(plan, model, name, now):
    return next(r for r in beat_rows(plan, model, now) if r.name == name)


def test_schedules_in_words():
    assert in_words(schedule(timedelta(seconds=30))) == "every 30 s"
    assert in_words(schedule(90)) == "every 1 min 30 s"
    assert in_words(schedule(timedelta(hours=2))) == "every 2 h"
    assert in_words(crontab(minute=0)) == "at minute 0 of every hour"
    assert in_words(crontab()) == "every minute"
    assert in_words(crontab(minute=30, hour=7)) == "at 07:30 every day"
    assert in_words(crontab(minute=0, hour=9, day_of_week="mon-fri")) == "at 09:00 on days-of-week mon-fri"
    assert in_words(crontab(minute="*/15")) == "at minutes */15 of every hour"


def test_tolerance_is_ten_percent_of_the_period_between_5_s_and_5_min():
    assert tolerance(1) == 5.0 and tolerance(600) == 60.0 and tolerance(86400) == 300.0


def test_interval_entry_next_run_and_missed_runs():
    app = app_with({"tick": {"task": "proj.tick", "schedule": 10.0}})
    plan = plan_from_app(app)
    assert plan.note == "" and [e.name for e in plan.entries] == ["tick"]
    clock = Clock()
    model = model_for(plan, clock)
    for n in range(4):  # on time: T0, T0+10, T0+20, T0+30
        run(model, clock, T0 + 10 * n, f"t{n}", "proj.tick")
    r = row(plan, model, "tick", T0 + 31)
    assert (r.task, r.schedule, r.runs_seen, r.last_run, r.next_run, r.missed) == \
        ("proj.tick", "every 10 s", 4, T0 + 30, T0 + 40, 0)
    assert r.last_state == "PENDING" and r.last_task_id == "t3" and r.tolerance == 5.0
    # the run due at T0+40 is still within its tolerance at T0+44.9, missed at T0+45
    assert row(plan, model, "tick", T0 + 44.9).missed == 0
    r = row(plan, model, "tick", T0 + 45)
    assert (r.missed, r.last_missed) == (1, T0 + 40)
    r = row(plan, model, "tick", T0 + 75)  # T0+40, 50, 60, 70 expected and not seen
    assert (r.missed, r.last_missed, r.next_run) == (4, T0 + 70, T0 + 80)


def test_runs_seen_clear_misses_and_gaps_between_runs_count():
    app = app_with({"tick": {"task": "proj.tick", "schedule": timedelta(seconds=10)}})
    plan = plan_from_app(app)
    clock = Clock()
    model = model_for(plan, clock)
    run(model, clock, T0, "a", "proj.tick")
    assert row(plan, model, "tick", T0 + 26).missed == 2  # T0+10 and T0+20 not seen
    run(model, clock, T0 + 24, "b", "proj.tick", kind="task-received")  # late by 4 s for T0+20: it counts
    r = row(plan, model, "tick", T0 + 25)
    assert (r.missed, r.last_run, r.last_state) == (1, T0 + 24, "RECEIVED")  # only T0+10 stays missed
    run(model, clock, T0 + 34, "c", "proj.tick")
    assert row(plan, model, "tick", T0 + 35).missed == 1
    run(model, clock, T0 + 51, "d", "proj.tick")  # 7 s late for T0+44: that one is missed, the chain restarts
    r = row(plan, model, "tick", T0 + 52)
    assert (r.missed, r.last_missed, r.next_run) == (2, T0 + 44, T0 + 61)


def test_no_run_seen_counts_from_when_watching_began():
    app = app_with({"tick": {"task": "proj.tick", "schedule": 10}})
    plan = plan_from_app(app, watching_since=T0)
    model = model_for(plan, Clock())
    r = row(plan, model, "tick", T0 + 14.9)
    assert (r.missed, r.next_run, r.last_run) == (0, None, None)
    assert row(plan, model, "tick", T0 + 25).missed == 2


def test_crontab_entry_next_run_and_missed_runs():
    # T0 is 22:13:20 UTC: runs due at 22:15, 22:20, ... every 5 minutes
    app = app_with({"five": {"task": "proj.report", "schedule": crontab(minute="*/5")}})
    plan = plan_from_app(app)
    clock = Clock()
    model = model_for(plan, clock)
    run(model, clock, T0 - 200 + 0.5, "other", "proj.unrelated")  # watching began 22:10:00.5
    r = row(plan, model, "five", T0)
    assert (r.schedule, r.next_run, r.missed, r.tolerance) == ("at minutes */5 of every hour", T0 + 100, 0, 30.0)
    run(model, clock, T0 + 101, "r1", "proj.report")  # 22:15:01: on time
    assert row(plan, model, "five", T0 + 420).missed == 0  # 22:20 due, 22:20:30 not yet past
    r = row(plan, model, "five", T0 + 431)  # 22:20:31: 22:20 missed
    assert (r.missed, r.last_missed, r.next_run, r.last_run) == (1, T0 + 400, T0 + 700, T0 + 101)
    run(model, clock, T0 + 705, "r2", "proj.report")  # 22:25:05
    r = row(plan, model, "five", T0 + 710)
    assert (r.missed, r.runs_seen, r.next_run) == (1, 2, T0 + 1000)


def test_crontab_at_minute_zero_follows_the_app_timezone():
    app = app_with({"hourly": {"task": "proj.h", "schedule": crontab(minute=0, hour=23)}},
                   timezone="Europe/Paris")  # 23:00 Paris is 22:00 UTC in November
    plan = plan_from_app(app)
    r = row(plan, model_for(plan, Clock()), "hourly", T0)
    assert r.next_run == T0 - 800 + 86400  # 22:00 UTC tomorrow
    assert r.schedule == "at 23:00 every day"


def test_entries_sharing_a_task_match_on_args():
    app = app_with({"a": {"task": "proj.ping", "schedule": 10, "args": (1,)},
                    "b": {"task": "proj.ping", "schedule": 10, "args": [2]}})
    plan = plan_from_app(app)
    clock = Clock()
    model = model_for(plan, clock)
    for n in range(3):
        run(model, clock, T0 + 10 * n, f"a{n}", "proj.ping", args="(1,)")
    run(model, clock, T0, "b0", "proj.ping", args="[2]")
    a, b = beat_rows(plan, model, T0 + 21)
    assert (a.name, a.runs_seen, a.missed) == ("a", 3, 0)
    assert (b.name, b.runs_seen, b.missed) == ("b", 1, 1)  # T0+10 not seen for b


def test_without_an_app_the_schedule_cannot_be_seen():
    app = Celery("celerytop", set_as_current=False)
    setattr(app, BROKER_ONLY, True)
    plan = plan_from_app(app)
    assert plan.entries == () and plan.note == NO_APP_NOTE and "-A" in plan.note
    assert beat_rows(plan, ClusterModel(), T0) == []


def test_an_app_without_a_schedule_says_so():
    plan = plan_from_app(app_with({}))
    assert plan.entries == () and plan.note == "the app has no beat_schedule: no periodic tasks to show"


def test_django_celery_beat_scheduler_says_what_it_cannot_see():
    app = app_with({"tick": {"task": "proj.tick", "schedule": 10}},
                   beat_scheduler="django_celery_beat.schedulers:DatabaseScheduler")
    plan = plan_from_app(app)
    assert [e.name for e in plan.entries] == ["tick"]
    assert "django_celery_beat.schedulers:DatabaseScheduler" in plan.note
    assert "Django database" in plan.note and "not entries added in the database" in plan.note
    other = plan_from_app(app_with({}, beat_scheduler="redbeat.RedBeatScheduler"))
    assert "redbeat.RedBeatScheduler" in other.note and "elsewhere" in other.note


def test_only_the_schedules_tasks_are_kept_and_at_most_a_ring_of_them():
    app = app_with({"tick": {"task": "proj.tick", "schedule": 1}})
    plan = plan_from_app(app)
    clock = Clock()
    model = model_for(plan, clock)
    log = model.type_stats.runs
    for n in range(log.per_name + 10):
        run(model, clock, T0 + n, f"t{n}", "proj.tick")
        run(model, clock, T0 + n, f"o{n}", "proj.other")
    log = model.type_stats.runs  # read again: reading it counts the runs noted since
    assert list(log.runs) == ["proj.tick"] and len(log.runs["proj.tick"]) == log.per_name
    # the ring forgot the first 10 runs: misses are counted from the oldest one kept, none here
    assert row(plan, model, "tick", T0 + log.per_name + 9.5).missed == 0


def test_an_entry_whose_times_cannot_be_worked_out_says_why():
    class Broken(schedule):
        def remaining_estimate(self, last_run_at):
            raise RuntimeError("no clock here")

    plan = BeatPlan((Entry("odd", "proj.odd", Broken(10)),), "")
    r = beat_rows(plan, ClusterModel(clock=Clock()), T0)[0]
    assert r.problem.startswith("cannot work out its times") and r.missed == 0 and r.next_run is None


@pytest.mark.parametrize("first", ["task-sent", "task-received"])
def test_a_run_is_the_first_of_sent_or_received(first):
    app = app_with({"tick": {"task": "proj.tick", "schedule": 10}})
    plan = plan_from_app(app)
    clock = Clock()
    model = model_for(plan, clock)
    run(model, clock, T0, "x", "proj.tick", kind=first)
    run(model, clock, T0 + 0.5, "x", "proj.tick", kind="task-received")
    assert row(plan, model, "tick", T0 + 1).runs_seen == 1


def test_a_minutely_crontab_watched_for_days_counts_the_recent_misses():
    app = app_with({"minutely": {"task": "proj.m", "schedule": crontab()}})
    plan = plan_from_app(app, watching_since=T0 - 3 * 86400)  # three days, no run seen
    r = row(plan, model_for(plan, Clock()), "minutely", T0)
    # looked for over the last 1,000 minutes only (not three days' 4,320), up to 22:13, 20 s past (tolerance 5 s)
    assert (r.missed, r.last_missed) == (1000, T0 - 20)


def test_the_beat_view_says_under_an_entry_why_its_times_cannot_be_worked_out():
    from celerytop.ui.views.beat_view import BeatView

    class Broken(schedule):
        def remaining_estimate(self, last_run_at):
            raise RuntimeError("no clock here")

    plan = BeatPlan((Entry("odd", "proj.odd", Broken(10)), Entry("fine", "proj.fine", schedule(10))), "")
    view = BeatView(ClusterModel(clock=Clock()), plan)
    screen = [line.decode().rstrip() for line in view.render((120, 12)).text]
    odd = next(i for i, line in enumerate(screen) if line.startswith(" odd "))
    assert "cannot work out its times: no clock here" in screen[odd + 1]
    assert not any("cannot work out" in line for line in screen[odd + 2:])  # under that entry only
