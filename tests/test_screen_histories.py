"""Rates over time on the screen and in batch JSON, from recordings with known answers, and across a --db restart.

The first recording is one minute from T0: proj.a finishes 10 tasks in each 10 s bucket, proj.b 1, 2, .. 6,
w1's heartbeats every 10 s say 15 more processed each time and a load rising by 0.25, and proj.c fails 3 times
(2 in T0's minute, 1 in the next).  The second is two minutes later: one proj.a task and a heartbeat.
"""

import json
import sqlite3
import subprocess

from tests.events import heartbeat, task_lifecycle
from tests.screen import BIN
from tests.terminal import Terminal

T0 = 1_700_000_000.0  # a multiple of 10, 20 s into its minute
B_SPARK = "▂▃▄▆▇█"  # 1 .. 6 scaled to 6 in 8 levels
LOAD_SPARK = "▂▃▄▆▇█"  # 0.25 .. 1.5 scaled to 1.5


def timed(events):
    for e in events:
        e["local_received"] = e["timestamp"]
    return events


def write_first(path):
    events = []
    for k in range(6):
        for n in range(10):
            events += task_lifecycle(name="proj.a", hostname="w1@hist", t0=T0 + 10 * k + n * 0.5)[1]
        for n in range(k + 1):
            events += task_lifecycle(name="proj.b", hostname="w1@hist", t0=T0 + 10 * k + 5 + n * 0.1)[1]
        events.append(heartbeat("w1@hist", timestamp=T0 + 10 * k + 9.5, processed=15 * k,
                                loadavg=[0.25 * (k + 1), 0.1, 0.1]))
    for after in (5, 25, 45):
        events += task_lifecycle(name="proj.c", final="task-failed", hostname="w1@hist", t0=T0 + after,
                                 exception=f"ValueError('invoice {after} not found')")[1]
    events = sorted(timed(events), key=lambda e: e["timestamp"])
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


def write_second(path):
    events = timed(task_lifecycle(name="proj.a", hostname="w1@hist", t0=T0 + 175)[1])
    events.append(heartbeat("w1@hist", timestamp=T0 + 180.5, processed=200, loadavg=[0.5, 0.1, 0.1]))
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


def batch_json(*args):
    done = subprocess.run([BIN, "--speed", "0", "--batch", "--format", "json", *map(str, args)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return json.loads(done.stdout.splitlines()[-1])


def type_line(term, name):
    return next(line for line in term.lines() if line.strip().startswith(name))


def history_cell(term, name):
    """The 30 characters under FINISHED/10s in ``name``'s row."""
    head = next(line for line in term.lines() if "FINISHED/10s" in line)
    column = head.index("FINISHED/10s")
    return type_line(term, name)[column:column + 30]


def test_the_types_view_draws_a_sparkline_per_type_newest_right(tmp_path):
    recording = tmp_path / "first.jsonl"
    write_first(recording)
    with Terminal([BIN, "--replay", str(recording), "--speed", "0", "--refresh", "0.1"], cols=170, rows=30) as term:
        term.wait_for("ended")
        term.press("y")
        term.wait_for("FINISHED/10s")
        # 30 buckets to now (T0 + 59.x): the last 6 hold the minute, the oldest 24 are blank
        assert history_cell(term, "proj.a") == " " * 24 + "██████"
        assert history_cell(term, "proj.b") == " " * 24 + B_SPARK
        assert history_cell(term, "proj.c") == " " * 24 + "█ █ █ "  # failures finish tasks too
        term.press("esc")
        term.press("q")
        assert term.wait_exit() == 0


def test_ascii_sparklines_in_the_types_view(tmp_path):
    recording = tmp_path / "first.jsonl"
    write_first(recording)
    with Terminal([BIN, "--replay", str(recording), "--speed", "0", "--refresh", "0.1", "--ascii"],
                  cols=170, rows=30) as term:
        term.wait_for("ended")
        term.press("y")
        term.wait_for("FINISHED/10s")
        assert history_cell(term, "proj.a") == " " * 24 + "@@@@@@"
        assert history_cell(term, "proj.b") == " " * 24 + ":-+*%@"
        assert all(line.isascii() for line in term.lines() if line.startswith("  proj."))
        term.press("esc")
        term.press("q")
        assert term.wait_exit() == 0


def test_worker_detail_shows_processed_and_load_history(tmp_path):
    recording = tmp_path / "first.jsonl"
    write_first(recording)
    with Terminal([BIN, "--replay", str(recording), "--speed", "0", "--refresh", "0.1"], cols=120, rows=40) as term:
        term.wait_for("SUCCESS 81 ")  # the whole recording
        term.press("tab")  # the workers pane
        term.press("enter")
        term.wait_for("History (heartbeats, per 10 s, last 10 min")
        processed = next(line for line in term.lines() if line.strip().startswith("processed/s"))
        load = next(line for line in term.lines() if line.strip().startswith("load 1m"))
        # 60 buckets to now (T0 + 59.x): the first beat is the base, then 15 more in each of 5 buckets
        assert processed.split("processed/s", 1)[1].strip() == "█████  1.5/s"
        assert load.split("load 1m", 1)[1].strip() == LOAD_SPARK + "  1.50"
        term.press("esc")
        term.press("q")
        assert term.wait_exit() == 0


def test_batch_json_has_each_history(tmp_path):
    recording = tmp_path / "first.jsonl"
    write_first(recording)
    snapshot = batch_json("--replay", recording)
    types = {row["name"]: row for row in snapshot["types"]}
    assert types["proj.a"]["history"] == {"bucket_seconds": 10, "finished": [0] * 24 + [10] * 6}
    assert types["proj.b"]["history"]["finished"] == [0] * 24 + [1, 2, 3, 4, 5, 6]
    [worker] = snapshot["workers"]
    assert worker["history"]["bucket_seconds"] == 10
    assert worker["history"]["processed"] == [0] * 55 + [15] * 5
    assert worker["history"]["load"] == [None] * 54 + [0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
    [group] = snapshot["failure_groups"]
    assert group["count"] == 3 and group["history"]["failed"][-2:] == [2, 1]


def test_the_histories_type_stats_and_failure_groups_survive_a_restart(tmp_path):
    first, second, db = tmp_path / "first.jsonl", tmp_path / "second.jsonl", tmp_path / "history.db"
    write_first(first)
    write_second(second)
    before = batch_json("--replay", first, "--db", db)
    with sqlite3.connect(db) as kept:
        assert {row[0] for row in kept.execute("SELECT part FROM aggregates")} == \
            {"rate_history", "type_stats", "histories", "failure_groups"}
    after = batch_json("--replay", second, "--db", db)  # two minutes later
    types = {row["name"]: row for row in after["types"]}
    old = {row["name"]: row for row in before["types"]}
    # the buckets kept their times: 12 buckets further left, then the one new task
    assert types["proj.a"]["history"]["finished"] == [0] * 11 + [10] * 6 + [0] * 11 + [1, 0]
    assert types["proj.b"]["history"]["finished"] == [0] * 11 + [1, 2, 3, 4, 5, 6] + [0] * 13
    assert types["proj.a"]["succeeded"] == 61 and types["proj.b"]["succeeded"] == 21
    assert types["proj.b"]["runtime_p50"] == old["proj.b"]["runtime_p50"]
    assert types["proj.c"]["failed"] == 3 and types["proj.c"]["last_failure"] == old["proj.c"]["last_failure"]
    assert sum(after["rate_history"]["succeeded"]) == 60 + 21 + 1
    assert after["rate_history"]["succeeded"][-19:-13] == [11, 12, 13, 14, 15, 16]
    [worker] = after["workers"]
    # the restored base (75 processed) carried over the restart: 200 - 75 in the new heartbeat's bucket
    assert worker["history"]["processed"][-19:] == [0] + [15] * 5 + [0] * 12 + [125]
    assert worker["history"]["load"][-19:-13] == [0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
    [group] = after["failure_groups"]
    assert group["count"] == 3 and group["first_seen"] == before["failure_groups"][0]["first_seen"]
    assert group["history"]["failed"][-4:] == [2, 1, 0, 0]


def test_the_restored_history_shows_on_the_screen_shifted(tmp_path):
    first, second, db = tmp_path / "first.jsonl", tmp_path / "second.jsonl", tmp_path / "history.db"
    write_first(first)
    write_second(second)
    batch_json("--replay", first, "--db", db)
    with Terminal([BIN, "--replay", str(second), "--speed", "0", "--refresh", "0.1", "--db", str(db)],
                  cols=170, rows=30) as term:
        term.wait_for("ended")
        term.press("y")
        term.wait_for("FINISHED/10s")
        assert history_cell(term, "proj.b") == " " * 11 + B_SPARK + " " * 13
        assert type_line(term, "proj.a").split()[2] == "61"
        term.press("F")
        term.wait_for("Failures  3 seen in 1 group(s)")
        line = next(line for line in term.lines() if line.startswith("  proj.c"))
        assert " " * 11 + "█  w1@hist" in line
        term.press("esc")  # the failures view, then the types view
        term.press("esc")
        term.press("q")
        assert term.wait_exit() == 0


def test_a_saved_part_that_cannot_be_read_is_said_and_the_rest_restored(tmp_path):
    first, second, db = tmp_path / "first.jsonl", tmp_path / "second.jsonl", tmp_path / "history.db"
    write_first(first)
    write_second(second)
    batch_json("--replay", first, "--db", db)
    with sqlite3.connect(db) as kept:
        kept.execute("UPDATE aggregates SET data = '{broken' WHERE part = 'type_stats'")
    done = subprocess.run([BIN, "--speed", "0", "--batch", "--format", "json", "--replay", str(second),
                           "--db", str(db)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == (f"celerytop: history: the saved type_stats in {db} could not be read and start"
                           " empty\n")
    after = json.loads(done.stdout.splitlines()[-1])
    assert {row["name"]: row["succeeded"] for row in after["types"]} == {"proj.a": 1}  # this session's only
    assert sum(after["rate_history"]["succeeded"]) == 82  # the other parts came back
    with sqlite3.connect(db) as kept:  # that run's first save wrote it whole again: break it once more
        kept.execute("UPDATE aggregates SET data = '{broken' WHERE part = 'failure_groups'")
    with Terminal([BIN, "--replay", str(second), "--speed", "0", "--refresh", "0.1", "--db", str(db)],
                  cols=200, rows=30) as term:  # the screen says it in its header
        term.wait_for("the saved failure_groups in")
        assert "could not be read and start empty" in term.text()
        term.press("q")
        assert term.wait_exit() == 0


ARROWS = "▲▼"


def test_ascii_sort_arrows_in_every_table(tmp_path):
    """--ascii: the sorted column's mark is ^ (smallest first) or v (largest first), never ▲ ▼, as the sparklines."""
    recording = tmp_path / "first.jsonl"
    write_first(recording)
    with Terminal([BIN, "--replay", str(recording), "--speed", "0", "--refresh", "0.1", "--ascii"],
                  cols=170, rows=30) as term:
        term.wait_for("ended")
        assert not any(c in line for line in term.lines() for c in ARROWS)
        term.press("<")  # the tasks pane: by the previous column
        term.wait_for(lambda t: any(("UUID^" in line or "RUNTIMEv" in line) for line in t.lines()))
        term.press("y")
        term.wait_for("NAME^")
        term.press(">")
        term.wait_for("FLIGHTv")
        term.press("I")
        term.wait_for("FLIGHT^")
        assert not any(c in line for line in term.lines() for c in ARROWS)
        term.press("esc")
        term.press("F")
        term.wait_for("LAST HOUR")
        head = next(line for line in term.lines() if "EXCEPTION" in line)
        assert ("COUNTv" in head or "LASTv" in head) and not any(c in head for c in ARROWS), head
        term.press("esc")
        term.press("S")
        term.wait_for("Stuck and lost")
        term.wait_for(lambda t: any("FORv" in line for line in t.lines()))
        term.press("esc")
        term.press("q")
        assert term.wait_exit() == 0
