"""The command prompt's language (celerytop.control.cmdline) and its history file."""

import pytest

from celerytop.control import cmdline, history
from celerytop.control.cmdline import CommandLineError, Invocation, parse


@pytest.mark.parametrize("line, expected", [
    ("inspect active", Invocation("inspect", "active")),
    ("inspect active -d w1@alpha,w2@beta --timeout 2.5",
     Invocation("inspect", "active", destination=("w1@alpha", "w2@beta"), timeout=2.5)),
    ("inspect --destination=w1@alpha -d w2@beta stats",
     Invocation("inspect", "stats", destination=("w1@alpha", "w2@beta"))),
    ("inspect query_task a-1 b-2", Invocation("inspect", "query_task", args=("a-1", "b-2"))),
    ("inspect registered rate_limit", Invocation("inspect", "registered", args=("rate_limit",))),
    ("control rate_limit proj.add 10/m",
     Invocation("control", "rate_limit", arguments={"task_name": "proj.add", "rate_limit": "10/m"})),
    ("control rate_limit proj.add 0",
     Invocation("control", "rate_limit", arguments={"task_name": "proj.add", "rate_limit": "0"})),
    ("control time_limit proj.add 30 60",
     Invocation("control", "time_limit", arguments={"task_name": "proj.add", "soft": 30.0, "hard": 60.0})),
    ("control time_limit proj.add 30",
     Invocation("control", "time_limit", arguments={"task_name": "proj.add", "soft": 30.0, "hard": None})),
    ("control revoke a-1 b-2",
     Invocation("control", "revoke", arguments={"task_id": ["a-1", "b-2"], "terminate": False, "signal": "TERM"})),
    ("control terminate KILL a-1",
     Invocation("control", "revoke", arguments={"task_id": ["a-1"], "terminate": True, "signal": "KILL"})),
    ("control shutdown -d w2@beta", Invocation("control", "shutdown", destination=("w2@beta",))),
    ("control pool_grow", Invocation("control", "pool_grow", arguments={"n": 1})),
    ("control pool_shrink 3 -t 4", Invocation("control", "pool_shrink", arguments={"n": 3}, timeout=4.0)),
    ("control autoscale 10 3", Invocation("control", "autoscale", arguments={"max": 10, "min": 3})),
    ("control add_consumer hipri ex direct key",
     Invocation("control", "add_consumer",
                arguments={"queue": "hipri", "exchange": "ex", "exchange_type": "direct", "routing_key": "key"})),
    ("control cancel_consumer hipri", Invocation("control", "cancel_consumer", arguments={"queue": "hipri"})),
    ("control enable_events", Invocation("control", "enable_events")),
    ("purge", Invocation("purge")),
    ("purge -Q celery,hipri -X lopri", Invocation("purge", queues=("celery", "hipri"), exclude=("lopri",))),
    ("result 5d7c-11", Invocation("result", task_id="5d7c-11")),
    ("status --timeout 3", Invocation("status", timeout=3.0)),
    ("migrate redis://127.0.0.1:6379/3 -Q hipri", Invocation("migrate", url="redis://127.0.0.1:6379/3",
                                                              queues=("hipri",))),
    ("queues", Invocation("queues")),
])
def test_commands_parse_as_the_celery_cli_reads_them(line, expected):
    assert parse(line) == expected


@pytest.mark.parametrize("line, message", [
    ("", "type a command: inspect, control"),
    ("frobnicate", "unknown command 'frobnicate': use inspect, control, purge"),
    ("inspect", "inspect what? active, scheduled"),
    ("inspect actve", "unknown inspect method 'actve'"),
    ("inspect active extra", "inspect active takes no arguments, got 'extra'"),
    ("inspect query_task", "query_task needs at least one task id"),
    ("inspect active --timeout soon", "--timeout takes seconds, not 'soon'"),
    ("inspect active --timeout 0", "--timeout must be more than 0"),
    ("inspect active -d", "-d needs a value"),
    ("inspect active -Q celery", "inspect does not take -Q (it takes -d, --destination, -t, --timeout)"),
    ("control", "control what? enable_events"),
    ("control reboot", "unknown control command 'reboot'"),
    ("control rate_limit proj.add fast", "control rate_limit: 'fast' is not a rate limit"),
    ("control rate_limit proj.add", "usage: control rate_limit TASK RATE"),
    ("control time_limit proj.add 60 30", "the soft limit (60 s) must be below the hard limit (30 s)"),
    ("control terminate NOPE a-1", "'NOPE' is not a signal"),
    ("control terminate KILL", "usage: control terminate SIGNAL ID…"),
    ("control pool_grow many", "'many' is not a whole number"),
    ("control autoscale 3 10", "MAX (3) must be at least 1 and at least MIN (10)"),
    ("purge -d w1@alpha", "purge does not take -d"),
    ("purge hipri", "purge takes no arguments, got 'hipri'"),
    ("result", "result takes one task id"),
    ("migrate", "migrate takes the destination broker URL"),
    ("migrate localhost", "'localhost' is not a broker URL"),
    ('inspect "active', "cannot read the line: No closing quotation"),
])
def test_bad_commands_explain_themselves_in_one_line(line, message):
    with pytest.raises(CommandLineError) as exc:
        parse(line)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_every_command_in_the_reference_parses_with_its_own_usage():
    sample = {"ID…": "a-1", "ATTR…": "rate_limit", "TASK": "proj.add", "RATE": "10/s", "SOFT": "30",
              "[HARD]": "60", "SIGNAL": "KILL", "[N]": "2", "MAX": "4", "[MIN]": "1", "QUEUE": "hipri",
              "[EXCHANGE": "", "[TYPE": "", "[ROUTING_KEY]]]": "", "URL": "redis://h:6379/0", "ID": "a-1"}
    rows = [usage for _title, entries in cmdline.reference() for usage, _help in entries]
    assert len(rows) == len(cmdline.VERBS) + len(cmdline.INSPECT) + len(cmdline.CONTROL)
    for usage in rows:
        words = [w for w in usage.split() if not w.startswith(("[-", "-", "[--", "S]", "WORKER", "QUEUE,"))]
        words = [sample.get(w, w) for w in words if w not in ("METHOD", "COMMAND", "[ARG…]")]
        if words[0] in ("inspect", "control") and len(words) == 1:
            continue
        parse(" ".join(w for w in words if w))


def test_history_is_kept_across_runs_newest_last_without_duplicates(tmp_path):
    path = tmp_path / "state" / "prompt_history"
    first = history.History(str(path))
    for line in ("inspect active", "status", "inspect active", "  ", "purge -Q hipri"):
        first.add(line)
    assert path.read_text().splitlines() == ["status", "inspect active", "purge -Q hipri"]
    again = history.History(str(path), limit=2)
    assert again.lines == ["inspect active", "purge -Q hipri"]
    browser = again.browser()
    assert browser.older("half typed") == "purge -Q hipri"
    assert browser.older("") == "inspect active"
    assert browser.older("") is None
    assert browser.newer() == "purge -Q hipri"
    assert browser.newer() == "half typed"  # what was being typed comes back
    assert browser.newer() is None


def test_an_unwritable_history_is_reported_not_raised(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    kept = history.History(str(blocker / "prompt_history"))
    kept.add("status")
    assert kept.lines == ["status"] and "cannot save the prompt history" in kept.error
