"""The periodic tasks view on a replayed recording with known answers: on screen (B, sort, Enter, red) and batch JSON."""

import json
import subprocess

from celerytop.model.beat import NO_APP_NOTE
from celerytop.present import formatting
from tests.events import event, heartbeat
from tests.live import REPO_ROOT
from tests.screen import BIN, cell_fg
from tests.terminal import Terminal

T0 = 1_700_000_000.0  # 22:13:20 UTC; tests/beatapp.py's "report" runs at minutes */5 (UTC)
END = T0 + 130


def write_recording(path):
    """proj.tick(1) runs at T0, T0+10, T0+20 then stops; proj.tick(2) never runs; proj.report runs at 22:15:01.
    The recording ends at T0+130, so "now" is T0+130:

    - tick: last run T0+20; missed T0+30 ... T0+120 (10; T0+130 is within its 5 s), next run T0+130.
    - tick-other: no run; watching began at T0 (the first event): missed T0+10 ... T0+120 (12).
    - report: 22:15 seen at 22:15:01; the next is 22:20 (T0+400); none missed.
    """
    events = [heartbeat("w1@beat", timestamp=T0)]
    for n in range(3):
        t = T0 + 10 * n
        uuid = f"tick-{n}"
        events += [event("task-sent", "beat@host", t, uuid=uuid, name="proj.tick", args="(1,)", kwargs="{}"),
                   event("task-received", "w1@beat", t + 0.1, uuid=uuid, name="proj.tick", args="(1,)",
                         kwargs="{}"),
                   event("task-started", "w1@beat", t + 0.2, uuid=uuid),
                   event("task-succeeded", "w1@beat", t + 0.3, uuid=uuid, runtime=0.1, result="None")]
    events += [event("task-received", "w1@beat", T0 + 101, uuid="report-0", name="proj.report", args="()",
                     kwargs="{}"),
               event("task-started", "w1@beat", T0 + 101.1, uuid="report-0"),
               event("task-failed", "w1@beat", T0 + 102, uuid="report-0", exception="ValueError('x')")]
    events.append(heartbeat("w1@beat", timestamp=END))
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


def entry_line(term, name):
    return next(line for line in term.lines() if line.strip().startswith(name + " "))


def test_beat_view_shows_known_runs_missed_in_red_sorts_and_enter_filters_the_tasks(tmp_path):
    recording = tmp_path / "beat.jsonl"
    write_recording(recording)
    argv = [BIN, "-A", "tests.beatapp", "--replay", str(recording), "--speed", "0", "--refresh", "0.1"]
    with Terminal(argv, cols=160, rows=30, cwd=str(REPO_ROOT), env={"PYTHONPATH": str(REPO_ROOT)}) as term:
        term.wait_for("proj.report")
        term.press("B")
        term.wait_for("Periodic tasks")
        term.wait_for(lambda t: "2 with missed runs" in t.text() and "ENTRY" in t.text())
        clock = formatting.format_clock
        # ENTRY TASK SCHEDULE(words) NEXT LAST STATE RUNS MISSED LASTMISS
        tick = entry_line(term, "tick")
        assert "every 10 s" in tick
        assert tick.split()[-6:] == [clock(T0 + 130), clock(T0 + 20), "SUCCESS", "3", "10", clock(T0 + 120)], tick
        other = entry_line(term, "tick-other")
        assert other.split()[-6:] == ["-", "-", "-", "0", "12", clock(T0 + 120)], other
        report = entry_line(term, "report")
        assert "at minutes */5 of every hour" in report
        assert report.split()[-6:] == [clock(T0 + 400), clock(T0 + 101), "FAILURE", "1", "0", "-"], report
        assert cell_fg(term, "tick-other", " 12 ") == "red"  # missed runs in red
        assert cell_fg(term, "every 10 s", clock(T0 + 120)) == "red"
        assert cell_fg(term, "proj.report", " 0 ") != "red"
        names = [line.split()[0] for line in term.lines() if line.strip().split()[:1] in (["tick"], ["tick-other"],
                                                                                          ["report"])]
        assert names == ["report", "tick", "tick-other"]  # by entry name
        for _ in range(7):  # to MISSED, the most first
            term.press(">")
        term.wait_for("MISSED▼")
        names = [line.split()[0] for line in term.lines() if line.strip().split()[:1] in (["tick"], ["tick-other"],
                                                                                          ["report"])]
        assert names == ["tick-other", "tick", "report"]
        term.press("down", "enter")  # on tick: its task, proj.tick
        term.wait_for("match 'name:proj.tick'")
        assert "Periodic tasks" not in term.text()
        shown = [line for line in term.lines() if "proj." in line]
        assert shown and all("proj.tick" in line for line in shown)
        term.press("q")
        assert term.wait_exit() == 0


def test_without_an_app_the_view_says_it_needs_dash_a(tmp_path):
    recording = tmp_path / "beat.jsonl"
    write_recording(recording)
    with Terminal([BIN, "--replay", str(recording), "--speed", "0", "--refresh", "0.1"], cols=160, rows=30) as term:
        term.wait_for("proj.report")
        term.press(":")
        term.send("beat\r")
        term.wait_for("Periodic tasks")
        term.wait_for("started without -A")
        assert "cannot be seen (start with -A proj)" in term.text()
        assert "ENTRY" not in term.text()
        term.press("q", "q")
        assert term.wait_exit() == 0


def batch_json(recording, *app):
    out = subprocess.run([BIN, *app, "--replay", str(recording), "--speed", "0", "--batch", "--format", "json"],
                         capture_output=True, text=True, timeout=60, cwd=str(REPO_ROOT),
                         env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["beat"]


def test_batch_json_carries_the_same_rows(tmp_path):
    recording = tmp_path / "beat.jsonl"
    write_recording(recording)
    beat = batch_json(recording, "-A", "tests.beatapp")
    assert beat["note"] == ""
    rows = {row["name"]: row for row in beat["entries"]}
    assert list(rows) == ["report", "tick", "tick-other"]
    tick = rows["tick"]
    assert (tick["task"], tick["schedule"], tick["runs_seen"], tick["missed"]) == ("proj.tick", "every 10 s", 3, 10)
    assert (tick["last_run"], tick["next_run"], tick["last_missed"]) == (T0 + 20, T0 + 130, T0 + 120)
    assert (tick["last_state"], tick["last_task_id"], tick["tolerance"]) == ("SUCCESS", "tick-2", 5.0)
    assert (rows["tick-other"]["runs_seen"], rows["tick-other"]["missed"]) == (0, 12)
    report = rows["report"]
    assert (report["missed"], report["last_run"], report["next_run"], report["last_state"]) == \
        (0, T0 + 101, T0 + 400, "FAILURE")
    assert batch_json(recording) == {"note": NO_APP_NOTE, "entries": []}


def test_missed_runs_fire_the_beat_missed_alert_in_batch_and_exit_on_alert_exits_3(tmp_path):
    recording = tmp_path / "beat.jsonl"
    write_recording(recording)
    out = subprocess.run([BIN, "-A", "tests.beatapp", "--replay", str(recording), "--speed", "0", "--batch",
                          "--format", "json", "--exit-on-alert", "--no-alert", "silence"],
                         capture_output=True, text=True, timeout=60, cwd=str(REPO_ROOT),
                         env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 3, out.stderr
    alerts = {a["subject"]: a for a in json.loads(out.stdout)["alerts"] if a["rule"] == "beat-missed"}
    assert sorted(alerts) == ["tick", "tick-other"]  # report ran on time: no alert
    assert alerts["tick"]["message"].startswith("10 run(s) missed")
    assert alerts["tick-other"]["message"].startswith("12 run(s) missed")
