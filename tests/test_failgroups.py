"""Failure groups (celerytop.model.failgroups): the normaliser, and the groups the model keeps as events arrive."""

import pytest

from celerytop.model import failgroups
from celerytop.model.cluster import ClusterModel
from celerytop.model.failgroups import FailureGroups, group_key, normalise, split_exception
from celerytop.model.filtering import parse
from tests.events import event, task_lifecycle

T0 = 1_700_000_000.0


@pytest.mark.parametrize("message, expected", [
    ("invoice 42 not found", "invoice <n> not found"),
    ("took 1.5 s after 3 retries", "took <n> s after <n> retries"),
    ("order 3f2a91bc-1234-4abc-9def-0123456789ab failed", "order <uuid> failed"),
    ("order 3f2a91bc12344abc9def0123456789ab failed", "order <uuid> failed"),
    ("bad pointer 0x7f3a2b and digest deadbeef1234", "bad pointer <hex> and digest <hex>"),
    ("user 'alice' has no key \"k-7\"", "user <str> has no key <str>"),
    ("can't parse it, won't retry", "can't parse it, won't retry"),  # apostrophes are not quotes
    ("at 2026-12-01T19:32:13.5Z", "at <time>"),
    ("cannot open /srv/data/2026/report_42.csv", "cannot open /srv/data/<n>/report_<n>.csv"),
    ("cannot open '/srv/data/report_42.csv'", "cannot open '/srv/data/report_<n>.csv'"),  # a quoted path stays
    ("utf8 over ipv4 to s3", "utf8 over ipv4 to s3"),  # digits inside words stay
    ("facade accepted", "facade accepted"),  # a word made of hex letters is a word
])
def test_normalise_replaces_numbers_ids_hex_and_quoted_values_and_keeps_paths_readable(message, expected):
    assert normalise(message) == expected


@pytest.mark.parametrize("exception, expected", [
    ("ValueError('invoice 42 not found')", ("ValueError", "invoice 42 not found")),
    ('ValueError("can\'t find 42")', ("ValueError", "can't find 42")),
    ("KeyError('abc')", ("KeyError", "'abc'")),  # str() of a KeyError is its key's repr
    ("ValueError('a', 2)", ("ValueError", "'a', 2")),
    ("proj.errors.Gone()", ("proj.errors.Gone", "")),
    ("TimeoutError: after 30 s", ("TimeoutError", "after 30 s")),
    ("something odd", ("", "something odd")),
    (None, ("", "")),
])
def test_split_exception_reads_the_type_and_the_message_as_str_of_it_would(exception, expected):
    assert split_exception(exception) == expected


def test_one_group_for_messages_that_differ_only_in_values():
    assert group_key("t", "ValueError('invoice 42 not found')") == group_key("t", "ValueError('invoice 97 not found')")
    assert group_key("t", "KeyError('abc')") == group_key("t", "KeyError('xyz')")
    assert group_key("t", "KeyError('abc')") != group_key("t", "ValueError('abc')")
    assert group_key("t", "KeyError('abc')") != group_key("u", "KeyError('abc')")


def fail(model, name, exception, hostname="w1@a", when=T0, uuid=None, traceback=None):
    """A task received, started and failed on ``hostname`` at ``when``; its uuid."""
    uuid, events = task_lifecycle(name=name, final="task-failed", hostname=hostname, t0=when, uuid=uuid,
                                  exception=exception, traceback=traceback or f"Traceback ...\n{exception}")
    for e in events:
        model.on_event(e)
    return uuid


def by_message(model):
    return {(g["name"], g["exception"], g["message"]): g for g in model.failure_groups()}


def test_groups_count_first_and_last_seen_workers_and_the_latest_example():
    model = ClusterModel()
    fail(model, "proj.bill", "ValueError('invoice 42 not found')", "w1@a", T0 + 10)
    latest = fail(model, "proj.bill", "ValueError('invoice 97 not found')", "w2@b", T0 + 30,
                  traceback="Traceback (most recent call last):\nValueError: invoice 97 not found")
    fail(model, "proj.bill", "ValueError('invoice 7 not found')", "w1@a", T0 + 20)  # out of order: not the latest
    fail(model, "proj.mail", "KeyError('abc')", "w3@c", T0 + 5)
    fail(model, "proj.mail", "KeyError('xyz')", "w3@c", T0 + 6)
    for e in task_lifecycle(name="proj.bill", hostname="w1@a", t0=T0)[1]:  # a success is no failure
        model.on_event(e)
    groups = by_message(model)
    assert set(groups) == {("proj.bill", "ValueError", "invoice <n> not found"), ("proj.mail", "KeyError", "<str>")}
    bill = groups["proj.bill", "ValueError", "invoice <n> not found"]
    assert bill["count"] == 3
    assert bill["first_seen"] == pytest.approx(T0 + 10.03) and bill["last_seen"] == pytest.approx(T0 + 30.03)
    assert bill["workers"] == ["w1@a", "w2@b"] and not bill["more_workers"]
    assert bill["example_task_id"] == latest
    assert bill["example_traceback"].endswith("ValueError: invoice 97 not found")
    assert bill["example_exception"] == "ValueError('invoice 97 not found')"
    assert groups["proj.mail", "KeyError", "<str>"]["count"] == 2


def test_a_task_failed_event_that_arrives_twice_counts_once_even_after_the_task_was_evicted():
    model = ClusterModel(max_tasks=5, max_failures=2)
    uuid, events = task_lifecycle(name="proj.bill", final="task-failed", t0=T0, exception="ValueError('x 1')")
    for e in events:
        model.on_event(e)
    model.on_event(dict(events[-1]))  # the same event again, at once
    group = by_message(model)["proj.bill", "ValueError", "x <n>"]
    assert group["count"] == 1
    for n in range(5):  # push it out of memory
        fail(model, "proj.other", f"OSError('disk {n}')", when=T0 + n + 1)
    assert not model.has_task(uuid)
    model.on_event(dict(events[-1]))  # and again, now that the model has forgotten the task
    assert by_message(model)["proj.bill", "ValueError", "x <n>"]["count"] == 1


def test_eviction_does_not_change_the_groups():
    model = ClusterModel(max_tasks=10, max_failures=3)
    for n in range(50):
        fail(model, "proj.bill", f"ValueError('invoice {n} not found')", f"w{n % 2}@a", T0 + n)
    assert model.summary().evicted > 0 and model.summary().state_counts["FAILURE"] == 3
    group = by_message(model)["proj.bill", "ValueError", "invoice <n> not found"]
    assert group["count"] == 50
    assert group["first_seen"] == pytest.approx(T0 + 0.03) and group["last_seen"] == pytest.approx(T0 + 49.03)
    assert group["workers"] == ["w0@a", "w1@a"]


def test_workers_are_a_bounded_list_that_says_there_were_more():
    model = ClusterModel()
    for n in range(failgroups.MAX_WORKERS + 3):
        fail(model, "proj.bill", "ValueError('boom')", f"w{n:02d}@a", T0 + n)
    group = model.failure_groups()[0]
    assert group["count"] == failgroups.MAX_WORKERS + 3
    assert len(group["workers"]) == failgroups.MAX_WORKERS and group["more_workers"]


def test_past_the_group_limit_failures_are_counted_in_one_other_group():
    groups = FailureGroups(max_groups=3)
    for n in range(10):
        groups.add(f"id-{n}", f"proj.t{n}", "w1@a", T0 + n, "ValueError('boom')", "tb")
    groups.add("id-0b", "proj.t0", "w1@a", T0 + 20, "ValueError('bang')", "tb")  # a new group for a known task
    rows = groups.rows()
    assert len(rows) == 4 and [r["name"] for r in rows[:3]] == ["proj.t0", "proj.t1", "proj.t2"]
    other = rows[-1]
    assert other["name"] == failgroups.OTHER and other["id"] == "other" and "more than 3 groups" in other["message"]
    assert other["count"] == 8 and other["example_task_id"] == "id-0b"
    groups.add("id-1b", "proj.t1", "w1@a", T0 + 30, "ValueError('boom')", "tb")  # a kept group still counts
    assert groups.rows()[1]["count"] == 2 and sum(r["count"] for r in groups.rows()) == groups.total == 12


def test_a_long_traceback_is_kept_capped_with_its_end():
    groups = FailureGroups()
    long = "Traceback (most recent call last):\n" + "  frame\n" * 5000 + "ValueError: the end"
    groups.add("id", "proj.t", "w1@a", T0, "ValueError('the end')", long)
    kept = groups.rows()[0]["example_traceback"]
    assert len(kept) < failgroups.TRACEBACK_MAX + 100 and kept.endswith("ValueError: the end")
    assert kept.startswith("… (") and "characters cut" in kept.splitlines()[0]


def test_a_hostile_exception_or_timestamp_does_not_break_the_model():
    model = ClusterModel()
    uuid, events = task_lifecycle(name="proj.t", final="task-failed", t0=T0)
    events[-1]["exception"] = {"not": "text"}
    events[-1]["traceback"] = ["a", "list"]
    for e in events:
        model.on_event(e)
    model.on_event(event("task-failed", uuid="other-id", timestamp=T0, exception="E('" + "x" * 100000))
    rows = model.failure_groups()
    assert sum(r["count"] for r in rows) == 2
    assert all(len(r["message"]) <= failgroups.MESSAGE_MAX for r in rows)


def test_the_failgroup_filter_term_selects_exactly_a_groups_failed_tasks():
    model = ClusterModel()
    members = {fail(model, "proj.bill", f"ValueError('invoice {n} not found')", when=T0 + n) for n in range(3)}
    fail(model, "proj.bill", "ValueError('no customer 4')", when=T0 + 5)  # same task and type, other message
    fail(model, "proj.mail", "ValueError('invoice 5 not found')", when=T0 + 6)  # same message, other task
    for e in task_lifecycle(name="proj.bill", t0=T0 + 7)[1]:
        model.on_event(e)
    group = by_message(model)["proj.bill", "ValueError", "invoice <n> not found"]
    assert set(model.query(parse(f"failgroup:{group['id']}"))) == members
    assert set(model.query(parse(f"state:FAILURE name:proj.bill failgroup:{group['id']}"))) == members
