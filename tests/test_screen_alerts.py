"""Alerts on a replayed recording with known answers: the header in red, the bell once, the ``!`` view,
Enter filtering the tasks pane, alerts.log; and batch JSON, text and exit status 3."""

import json
import subprocess
import time

from tests.events import event, heartbeat
from tests.screen import BIN
from tests.terminal import Terminal

T0 = 1_700_000_000.0
BEL = b"\x07"


def write_recording(path, recovers=False):
    """proj.flaky: 12 finish, every other one fails (6 of 12 = 50 %); proj.steady: 5 succeed;
    w2@alerts says worker-offline at T0+20 while w1@alerts keeps beating.

    ``recovers``: then w2@alerts beats again and 20 more proj.flaky succeed (6 of 32 = 18.75 %, under 20 %)."""
    events = [heartbeat("w1@alerts", timestamp=T0), heartbeat("w2@alerts", timestamp=T0)]
    t = T0
    for n in range(12):
        uuid = f"flaky-{n}"
        events += [event("task-received", "w1@alerts", t, uuid=uuid, name="proj.flaky", args="()", kwargs="{}"),
                   event("task-started", "w1@alerts", t + 0.1, uuid=uuid)]
        events.append(event("task-failed", "w1@alerts", t + 0.5, uuid=uuid, exception="ValueError('x')")
                      if n % 2 else event("task-succeeded", "w1@alerts", t + 0.5, uuid=uuid, runtime=0.4))
        t += 1
    for n in range(5):
        uuid = f"steady-{n}"
        events += [event("task-received", "w2@alerts", t, uuid=uuid, name="proj.steady", args="()", kwargs="{}"),
                   event("task-succeeded", "w2@alerts", t + 0.2, uuid=uuid, runtime=0.2)]
        t += 1
    events += [event("worker-offline", "w2@alerts", T0 + 20), heartbeat("w1@alerts", timestamp=T0 + 21)]
    if recovers:
        events.append(heartbeat("w2@alerts", timestamp=T0 + 30))
        for n in range(20):
            uuid = f"flaky-ok-{n}"
            events += [event("task-received", "w1@alerts", T0 + 31 + n, uuid=uuid, name="proj.flaky"),
                       event("task-succeeded", "w1@alerts", T0 + 31.5 + n, uuid=uuid, runtime=0.4)]
        events.append(heartbeat("w2@alerts", timestamp=T0 + 51))
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


def rules_listed(term):
    """The RULE column of the alerts view's rows."""
    return [line.split()[0] for line in term.lines() if line.strip().startswith(("failure-rate", "worker-offline"))]


def settled_bells(term, seconds=1.5):
    """The BELs written so far, once ``seconds`` of refreshes (every 0.1 s) added none; fails if they never stop."""
    for _attempt in range(5):
        count = bytes(term.raw).count(BEL)
        time.sleep(seconds)
        if bytes(term.raw).count(BEL) == count:
            return count
    raise AssertionError(f"the bell keeps ringing: {bytes(term.raw).count(BEL)} BELs")


def test_alerts_show_in_red_ring_once_list_in_the_view_and_go_to_alerts_log(tmp_path):
    recording = tmp_path / "alerts.jsonl"
    write_recording(recording)
    audit = tmp_path / "logs" / "audit.log"
    argv = [BIN, "--replay", str(recording), "--speed", "0", "--refresh", "0.1", "--audit-log", str(audit)]
    with Terminal(argv, cols=160, rows=30) as term:
        term.wait_for("w2@alerts")
        term.wait_for(lambda t: "ALERT " in t.text() and "(+1)" in t.text())
        assert term.fg("ALERT ", bright=False) == "red"
        header = next(line for line in term.lines() if "ALERT " in line)
        # the oldest firing alert names itself; at --speed 0 either may have fired first
        assert ("ALERT failure rate: proj.flaky (+1)" in header or "ALERT worker offline: w2@alerts (+1)" in header)
        # one BEL per refresh that found new alerts (the two may fire at one refresh or two), never again
        bells = settled_bells(term)
        assert 1 <= bells <= 2, bells
        term.press("!")
        term.wait_for("Alerts  2 firing, 0 cleared")
        rows = {line.split()[0]: line for line in term.lines() if line.strip().startswith(("failure-rate",
                                                                                          "worker-offline"))}
        assert set(rows) == {"failure-rate", "worker-offline"}
        assert "proj.flaky" in rows["failure-rate"] and "50 % failed (6 of 12) over the last 5 min" in \
            rows["failure-rate"] and rows["failure-rate"].rstrip().endswith("firing")
        assert "w2@alerts" in rows["worker-offline"]
        assert term.fg("50 % failed", bright=False) == "red"  # firing rows in red
        term.press("/")
        term.send("flaky\r")
        term.wait_for(lambda t: rules_listed(t) == ["failure-rate"])
        term.press("enter")  # the tasks pane, filtered to the type
        term.wait_for("filter: name:proj.flaky")
        term.wait_for("Tasks  12 of 17 match")
        term.press(":")
        term.send("alerts\r")
        term.wait_for("Alerts  2 firing")
        term.press("/")
        term.send(b"\x15w2*\r")  # a glob on the subject
        term.wait_for(lambda t: rules_listed(t) == ["worker-offline"])
        term.press("enter")
        term.wait_for("filter: worker:w2@alerts")
        term.wait_for("Tasks  5 of 17 match")
        assert settled_bells(term, 0.5) == bells  # still the same alerts: no more bells
        term.press("q")
        assert term.wait_exit() == 0
    lines = [json.loads(line) for line in (tmp_path / "logs" / "alerts.log").read_text().splitlines()]
    assert sorted((r["event"], r["rule"], r["subject"]) for r in lines) == [
        ("fired", "failure-rate", "proj.flaky"), ("fired", "worker-offline", "w2@alerts")]
    offline = next(r for r in lines if r["rule"] == "worker-offline")
    assert offline["fired_at"] == T0 + 21 and offline["cleared_at"] is None  # the recording's clock


def test_no_bell_no_alert_and_an_alert_log_that_cannot_be_written_said_in_red(tmp_path):
    recording = tmp_path / "alerts.jsonl"
    write_recording(recording)
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    argv = [BIN, "--replay", str(recording), "--speed", "0", "--refresh", "0.1", "--no-bell",
            "--no-alert", "failure-rate", "--audit-log", str(not_a_folder / "audit.log")]
    with Terminal(argv, cols=160, rows=30) as term:
        term.wait_for("ALERT worker offline: w2@alerts")
        assert "(+1)" not in term.text()
        term.wait_for(f"cannot write the alert log {not_a_folder / 'alerts.log'}")
        term.wait_for("(1 line(s) lost this session)")
        assert term.fg("cannot write the alert log", bright=False) == "red"
        assert settled_bells(term, 0.5) == 0
        term.press("!")
        term.wait_for("Alerts  1 firing, 0 cleared")
        term.wait_for("Rules on: worker-offline, queue-depth, queue-growing, silence, lost, beat-missed")
        term.press("q", "q")
        assert term.wait_exit() == 0


def batch(recording, *args):
    return subprocess.run([BIN, "--replay", str(recording), "--speed", "0", "--batch", *args],
                          capture_output=True, text=True, timeout=60)


def test_batch_json_carries_the_firing_alerts_and_exit_on_alert_exits_3(tmp_path):
    recording = tmp_path / "alerts.jsonl"
    write_recording(recording)
    result = batch(recording, "--format", "json", "--exit-on-alert")
    assert result.returncode == 3, result.stderr
    alerts = json.loads(result.stdout)["alerts"]
    assert [(a["rule"], a["subject"], a["message"], a["fired_at"], a["cleared_at"]) for a in alerts] == [
        ("failure-rate", "proj.flaky", "50 % failed (6 of 12) over the last 5 min", T0 + 21, None),
        ("worker-offline", "w2@alerts", "last heard 1 s ago", T0 + 21, None)]
    assert batch(recording, "--format", "json").returncode == 0  # without --exit-on-alert: 0
    # a higher threshold and one rule off: nothing fires, exit 0
    quiet = batch(recording, "--format", "json", "--exit-on-alert", "--alert-failure-rate", "50",
                  "--no-alert", "worker-offline")
    assert quiet.returncode == 0, quiet.stderr
    assert json.loads(quiet.stdout)["alerts"] == []
    # fewer finished than --alert-min-tasks: one flaky type's 50 % does not count yet
    assert batch(recording, "--exit-on-alert", "--alert-min-tasks", "13", "--no-alert",
                 "worker-offline").returncode == 0


def test_batch_text_shows_the_alerts_and_a_recovered_stream_none(tmp_path):
    recording = tmp_path / "alerts.jsonl"
    write_recording(recording)
    text = batch(recording, "--width", "160").stdout
    assert " ALERT failure rate: proj.flaky · 50 % failed (6 of 12) over the last 5 min (since " in text
    assert " ALERT worker offline: w2@alerts · last heard 1 s ago (since " in text
    recovered = tmp_path / "recovered.jsonl"
    write_recording(recovered, recovers=True)
    result = batch(recovered, "--format", "json", "--exit-on-alert")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["alerts"] == []
