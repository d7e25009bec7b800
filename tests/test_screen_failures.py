"""The failures view on the screen and failure_groups in batch JSON, from one replayed recording with known answers."""

import json
import subprocess

from tests.events import heartbeat, task_lifecycle
from tests.screen import BIN
from tests.terminal import Terminal

T0 = 1_700_000_000.0
MAX_FAILURES = "4"  # the two proj.mail failures, the oldest, are evicted; their group is not

#: (task name, exception, worker, seconds after T0, uuid): in the recording's order.
FAILURES = [
    ("proj.mail", "KeyError('abc')", "w1@replayed", 1, "aaaaaaaa-0000-4000-8000-000000000001"),
    ("proj.mail", "KeyError('xyz')", "w2@replayed", 2, "aaaaaaaa-0000-4000-8000-000000000002"),
    ("proj.bill", "ValueError('invoice 42 not found')", "w1@replayed", 3, "bbbbbbbb-0000-4000-8000-000000000003"),
    ("proj.bill", "ValueError('invoice 97 not found')", "w2@replayed", 4, "bbbbbbbb-0000-4000-8000-000000000004"),
    ("proj.bill", "ValueError('invoice 5 not found')", "w1@replayed", 5, "bbbbbbbb-0000-4000-8000-000000000005"),
    ("proj.bill", "ValueError('no customer 9')", "w1@replayed", 6, "cccccccc-0000-4000-8000-000000000006"),
]


def traceback_of(exception):
    kind, message = exception.split("(", 1)
    return f"Traceback (most recent call last):\n  File \"proj/tasks.py\", line 7, in run\n{kind}: {message[:-1]}"


def write_recording(path):
    events = [heartbeat("w1@replayed", timestamp=T0), heartbeat("w2@replayed", timestamp=T0)]
    for n in range(3):  # successes are no failures
        events += task_lifecycle(name="proj.ok", hostname="w1@replayed", t0=T0 + 0.5 + n * 0.1)[1]
    for name, exception, worker, after, uuid in FAILURES:
        events += task_lifecycle(name=name, final="task-failed", hostname=worker, t0=T0 + after, uuid=uuid,
                                 exception=exception, traceback=traceback_of(exception))[1]
    events.append(dict(events[-1]))  # the last task-failed event twice: counted once
    events.append(heartbeat("w1@replayed", timestamp=T0 + 96.5))  # the replay's clock: 1m30s after the last
    for e in events:
        e["local_received"] = e["timestamp"]
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


def test_the_failures_view_groups_filters_sorts_lists_members_and_shows_tracebacks(tmp_path):
    recording = tmp_path / "failures.jsonl"
    write_recording(recording)
    argv = [BIN, "--replay", str(recording), "--speed", "0", "--refresh", "0.1", "--max-failures", MAX_FAILURES]
    with Terminal(argv, cols=170, rows=40) as term:
        term.wait_for("ended")
        term.press("F")
        term.wait_for("Failures  6 seen in 3 group(s), by count descending")
        rows = [line for line in term.lines() if line.startswith("  proj.")]
        assert len(rows) == 3
        assert rows[0].split()[:7] == ["proj.bill", "ValueError", "invoice", "<n>", "not", "found", "3"]
        assert "w1@replayed, w2@replayed" in rows[0]
        assert rows[1].split()[:4] == ["proj.mail", "KeyError", "<str>", "2"]  # evicted tasks still counted
        assert rows[2].split()[:7] == ["proj.bill", "ValueError", "no", "customer", "<n>", "1", "1m30s"]
        term.press(">")  # by last seen, newest first
        term.wait_for("by last descending")
        assert [line.split()[2] for line in term.lines() if line.startswith("  proj.")] == ["no", "invoice", "<str>"]
        term.press("/")
        term.send("mail\r")
        term.wait_for("1 match 'mail'")
        assert [line.split()[0] for line in term.lines() if line.startswith("  proj.")] == ["proj.mail"]
        term.press("t")  # its example was evicted: the traceback the group kept
        term.wait_for("kept by its group")
        term.wait_for("KeyError: 'xyz'")
        term.press("esc")
        term.wait_for("1 match 'mail'")
        term.press("/")  # the prompt holds the filter in force: Ctrl-U clears it
        term.send(b"\x15invoice\r")
        term.wait_for("1 match 'invoice'")
        term.press("t")  # its example is in memory: the task's own detail view, at its traceback
        term.wait_for("Task bbbbbbbb-0000-4000-8000-000000000005")
        term.wait_for("ValueError: 'invoice 5 not found'")
        term.press("esc")
        term.wait_for("1 match 'invoice'")
        term.press("enter")  # the tasks pane, filtered to the group's members
        term.wait_for("Tasks  3 of 7 match 'state:FAILURE name:proj.bill failgroup:")
        listed = [line.split()[:3] for line in term.lines() if line.startswith("  bbbbbbbb") or
                  line.startswith("  cccccccc") or line.startswith("  aaaaaaaa")]
        assert listed == [["bbbbbbbb", "proj.bill", "FAILURE"]] * 3  # not the other proj.bill group's task
        assert "Failures " not in term.text()
        term.press("esc")  # the filter clears as any other
        term.wait_for("Tasks  7 in memory")
        term.press(":")
        term.send("failures\r")
        term.wait_for("Failures  6 seen in 3 group(s)")
        term.press("q")
        term.wait_for("Tasks  7 in memory")
        term.press("q")
        assert term.wait_exit() == 0


def test_batch_json_carries_the_failure_groups(tmp_path):
    recording = tmp_path / "failures.jsonl"
    write_recording(recording)
    result = subprocess.run([BIN, "--replay", str(recording), "--speed", "0", "--batch", "--format", "json",
                             "--max-failures", MAX_FAILURES], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    snapshot = json.loads(result.stdout.splitlines()[-1])
    groups = {(g["name"], g["exception"], g["message"]): g for g in snapshot["failure_groups"]}
    assert set(groups) == {("proj.bill", "ValueError", "invoice <n> not found"), ("proj.mail", "KeyError", "<str>"),
                           ("proj.bill", "ValueError", "no customer <n>")}
    invoice = groups["proj.bill", "ValueError", "invoice <n> not found"]
    assert invoice["count"] == 3 and invoice["workers"] == ["w1@replayed", "w2@replayed"]
    assert invoice["first_seen"] == T0 + 3.03 and invoice["last_seen"] == T0 + 5.03
    assert invoice["example_task_id"] == FAILURES[4][4]
    mail = groups["proj.mail", "KeyError", "<str>"]
    assert mail["count"] == 2 and mail["example_task_id"] == FAILURES[1][4]
    assert groups["proj.bill", "ValueError", "no customer <n>"]["count"] == 1  # its event came twice
    assert snapshot["counts"]["states"]["FAILURE"] == int(MAX_FAILURES)  # memory holds fewer than the groups count
    assert set(invoice) == {"id", "name", "exception", "message", "count", "first_seen", "last_seen", "workers",
                            "more_workers", "example_task_id", "history"}
    # per minute over the hour to now (T0 + 96.5): T0 + 3..5 is in the minute before now's (T0 is 20 s into one)
    assert invoice["history"]["bucket_seconds"] == 60 and len(invoice["history"]["failed"]) == 60
    assert invoice["history"]["failed"][-2:] == [3, 0] and sum(invoice["history"]["failed"]) == 3
    assert sum(mail["history"]["failed"]) == 2  # evicted from memory, still in its group's history
