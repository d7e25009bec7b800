"""Stuck and lost tasks on a replayed recording with known answers: on screen (pyte: the LOST and STUCK marks and
their colours, the header's lost count in red, the S view, Enter) and in batch JSON, at --speed 0."""

import json
import os
import subprocess
import sys

import pytest

from celerytop.model.sketch import ALPHA
from celerytop.present import formatting
from tests.events import event, heartbeat
from tests.screen import BIN, cell_fg
from tests.terminal import Terminal

T0 = 1_700_000_000.0
END = T0 + 400  # the last event: the replay's "now"
#: With --stuck-after 1 (a minute): proj.fast's 5×p95 (10 s) is under the floor, proj.slow's (150 s) over it.
STUCK_AFTER = "1"
SLOW_STUCK = "a1a1a1a1-0000-4000-8000-000000000001"  # proj.slow on w1, started T0+100: 300 s > 150 s, STUCK
SLOW_FINE = "b2b2b2b2-0000-4000-8000-000000000002"  # proj.slow on w1, started T0+300: 100 s (> 60 s, < 150 s)
FAST_STUCK = "c3c3c3c3-0000-4000-8000-000000000003"  # proj.fast on w1, started T0+320: 80 s > 60 s, STUCK
LOST_SILENT = "d4d4d4d4-0000-4000-8000-000000000004"  # proj.fast STARTED on w2, whose heartbeats stop at T0+210
LOST_OFFLINE = "e5e5e5e5-0000-4000-8000-000000000005"  # proj.slow RECEIVED on w3, worker-offline at T0+260
DONE_ON_W2 = "f6f6f6f6-0000-4000-8000-000000000006"  # finished on w2 before it went quiet: not lost


def received(uuid, name, host, at):
    return event("task-received", host, at, uuid=uuid, name=name, args="()", kwargs="{}", retries=0)


def started(uuid, name, host, at):
    return [received(uuid, name, host, at - 0.5), event("task-started", host, at, uuid=uuid)]


def write_recording(path):
    events = [heartbeat(host, timestamp=T0) for host in ("w1@stuck", "w2@stuck", "w3@stuck")]
    for n in range(20):  # the types' history: proj.fast runs 2 s, proj.slow 30 s
        for name, runtime in (("proj.fast", 2.0), ("proj.slow", 30.0)):
            uuid = f"{name[5:]}-{n:02d}"
            events += started(uuid, name, "w1@stuck", T0 + 1 + n)
            events.append(event("task-succeeded", "w1@stuck", T0 + 1 + n + runtime, uuid=uuid, runtime=runtime))
    events += started(SLOW_STUCK, "proj.slow", "w1@stuck", T0 + 100)
    events += started(DONE_ON_W2, "proj.fast", "w2@stuck", T0 + 150)
    events.append(event("task-succeeded", "w2@stuck", T0 + 152, uuid=DONE_ON_W2, runtime=2.0))
    events += started(LOST_SILENT, "proj.fast", "w2@stuck", T0 + 200)
    events.append(heartbeat("w2@stuck", timestamp=T0 + 210))  # then w2 is killed: nothing more from it
    events.append(received(LOST_OFFLINE, "proj.slow", "w3@stuck", T0 + 250))
    events.append(event("worker-offline", "w3@stuck", T0 + 260))
    events += started(SLOW_FINE, "proj.slow", "w1@stuck", T0 + 300)
    events += started(FAST_STUCK, "proj.fast", "w1@stuck", T0 + 320)
    events += [heartbeat("w1@stuck", timestamp=t) for t in range(int(T0) + 330, int(END) + 1, 10)]
    events.sort(key=lambda e: e["timestamp"])
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


def row_with(term, uuid):
    return next(line for line in term.lines() if uuid[:8] in line)


def view_rows(term):
    return [line.split() for line in term.lines() if line.startswith((" LOST ", " STUCK "))]


def test_lost_and_stuck_tasks_on_screen(tmp_path):
    recording = tmp_path / "stuck.jsonl"
    write_recording(recording)
    argv = [BIN, "--replay", str(recording), "--speed", "0", "--refresh", "0.1", "--stuck-after", STUCK_AFTER]
    with Terminal(argv, cols=160, rows=60) as term:
        term.wait_for("ended")
        term.wait_for("lost 2")
        assert cell_fg(term, "Workers 1/3 online", "lost 2") == "red"
        for uuid, mark, colour in ((LOST_SILENT, "LOST", "red"), (LOST_OFFLINE, "LOST", "red"),
                                   (SLOW_STUCK, "STUCK", "yellow"), (FAST_STUCK, "STUCK", "yellow")):
            assert mark in row_with(term, uuid).split(), row_with(term, uuid)
            assert cell_fg(term, uuid[:8], mark) == colour
        for uuid, state in ((SLOW_FINE, "STARTED"), (DONE_ON_W2, "SUCCESS")):
            cells = row_with(term, uuid).split()
            assert state in cells and "LOST" not in cells and "STUCK" not in cells

        term.press("S")
        term.wait_for("Stuck and lost  2 lost · 2 stuck (STARTED past 5×p95 of its type, at least 1m00s)")
        rows = view_rows(term)
        # by FOR, the longest first: KIND TASK UUID WORKER STATE SINCE FOR THRESHOLD
        assert [row[:5] for row in rows] == [
            ["STUCK", "proj.slow", SLOW_STUCK[:8], "w1@stuck", "STARTED"],
            ["LOST", "proj.fast", LOST_SILENT[:8], "w2@stuck", "STARTED"],
            ["LOST", "proj.slow", LOST_OFFLINE[:8], "w3@stuck", "RECEIVED"],
            ["STUCK", "proj.fast", FAST_STUCK[:8], "w1@stuck", "STARTED"],
        ], term.text()
        assert rows[0][5:7] == [formatting.format_clock(T0 + 100), "5m00s"]
        assert rows[0][8].startswith("(5×p95")  # 2m30s (5×p95 30s), within the sketch's 1 %
        assert rows[1][5:] == [formatting.format_clock(T0 + 210), "3m10s", "heartbeats", "stopped"]
        assert rows[2][5:] == [formatting.format_clock(T0 + 260), "2m20s", "worker-offline"]
        assert rows[3][5:] == [formatting.format_clock(T0 + 320), "1m20s", "1m00s", "(--stuck-after)"]
        assert cell_fg(term, LOST_OFFLINE[:8], "LOST") == "red"
        term.press(">")  # by THRESHOLD, the largest first
        term.wait_for("THRESHOLD▼")
        term.press("/")
        term.send("w2@\r")
        term.wait_for("1 match 'w2@'")
        assert [row[2] for row in view_rows(term)] == [LOST_SILENT[:8]]
        term.press("r")  # a replay has no app to ask: said, nothing else
        term.wait_for("Not connected to an app")
        term.press("enter")  # the tasks pane lists the lost tasks, the cursor on this one
        term.wait_for("Tasks  2 of 46 match 'is:lost'")
        assert "Stuck and lost" not in term.text()
        listed = [line for line in term.lines() if "LOST" in line.split()]
        assert sorted(line.split()[0] for line in listed) == sorted([LOST_SILENT[:8], LOST_OFFLINE[:8]])
        # the cursor is on the chosen task, not on the newest (the top row, where a new filter puts it)
        assert term.bg(LOST_SILENT[:8]) != "default" and term.bg(LOST_OFFLINE[:8]) == "default", term.text()
        term.press("enter")  # its detail says so too
        term.wait_for(f"Task {LOST_SILENT}")
        term.wait_for("STARTED  LOST (S lists why)")
        assert term.fg("STARTED  LOST", bright=False) == "red"
        term.press("esc")
        term.wait_for("match 'is:lost'")
        term.press(":")  # the prompt's :stuck opens the same view
        term.send("stuck\r")
        term.wait_for("Stuck and lost  2 lost · 2 stuck")
        term.press("esc")
        term.press("q")
        assert term.wait_exit() == 0


def batch(recording, *args):
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "celerytop"), "--replay", str(recording),
                          "--speed", "0", "--batch", *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_batch_json_carries_the_same_lost_and_stuck_tasks(tmp_path):
    recording = tmp_path / "stuck.jsonl"
    write_recording(recording)
    snapshot = json.loads(batch(recording, "--format", "json", "--stuck-after", STUCK_AFTER))
    assert snapshot["counts"]["lost_tasks"] == 2
    lost = {row["uuid"]: row for row in snapshot["lost"]}
    assert lost[LOST_SILENT] == {"kind": "LOST", "uuid": LOST_SILENT, "name": "proj.fast", "state": "STARTED",
                                 "worker": "w2@stuck", "since": T0 + 210, "duration": 190.0, "threshold": None,
                                 "reason": "heartbeats stopped"}
    assert (lost[LOST_OFFLINE]["state"], lost[LOST_OFFLINE]["since"], lost[LOST_OFFLINE]["reason"]) == (
        "RECEIVED", T0 + 260, "worker-offline")
    stuck = {row["uuid"]: row for row in snapshot["stuck"]}
    assert set(stuck) == {SLOW_STUCK, FAST_STUCK}
    assert stuck[SLOW_STUCK]["threshold"] == pytest.approx(150.0, rel=ALPHA)
    assert stuck[SLOW_STUCK]["duration"] == 300.0 and stuck[SLOW_STUCK]["since"] == T0 + 100
    assert (stuck[FAST_STUCK]["threshold"], stuck[FAST_STUCK]["reason"]) == (60.0, "--stuck-after")
    assert snapshot["stuck_rules"] == {"after": 60.0, "multiple": 5.0}
    flags = {task["uuid"]: task["flag"] for task in snapshot["tasks"]}
    assert flags[LOST_SILENT] == "LOST" and flags[FAST_STUCK] == "STUCK" and flags[SLOW_FINE] == ""


def test_the_defaults_judge_the_same_recording_otherwise(tmp_path):
    """--stuck-after 10 (the default): nothing ran 10 minutes, so nothing is stuck; lost tasks stay lost."""
    recording = tmp_path / "stuck.jsonl"
    write_recording(recording)
    snapshot = json.loads(batch(recording, "--format", "json"))
    assert snapshot["stuck"] == [] and len(snapshot["lost"]) == 2 and snapshot["counts"]["lost_tasks"] == 2
    text = batch(recording, "--stuck-multiple", "1", "--stuck-after", "0.5")  # past p95 and 30 s: both slow ones
    assert "lost 2" in text
    assert "STUCK" in next(line for line in text.splitlines() if SLOW_FINE[:8] in line)
