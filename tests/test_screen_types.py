"""The task types view on a replayed recording with known figures: on screen (y, sort, Enter) and in batch JSON."""

import json
import os
import subprocess
import sys

import pytest

from celerytop.model.sketch import ALPHA
from celerytop.present import formatting
from tests.events import event, heartbeat
from tests.screen import BIN
from tests.terminal import Terminal

T0 = 1_700_000_000.0
RUNTIMES = (0.5, 1.0, 2.0)


def write_recording(path):
    """proj.add: 3 succeed (runtimes 0.5, 1, 2 s), 1 fails, 1 still running, each sent 0.3 s before it
    started; proj.mul: 2 succeed.  Every event within the default 5 min window."""
    events = [heartbeat("w1@types", timestamp=T0)]
    t = T0
    for n, final in enumerate(["ok", "ok", "ok", "fail", None]):
        uuid = f"add-{n}"
        events += [event("task-sent", "client@types", t, uuid=uuid, name="proj.add", args="(1, 2)", kwargs="{}"),
                   event("task-received", "w1@types", t + 0.1, uuid=uuid, name="proj.add", args="(1, 2)",
                         kwargs="{}"),
                   event("task-started", "w1@types", t + 0.3, uuid=uuid)]
        if final == "ok":
            events.append(event("task-succeeded", "w1@types", t + 1, uuid=uuid, runtime=RUNTIMES[n], result="3"))
        elif final == "fail":
            events.append(event("task-failed", "w1@types", t + 1, uuid=uuid, exception="ValueError('x')"))
        t += 2
    for n in range(2):
        uuid = f"mul-{n}"
        events += [event("task-received", "w1@types", t, uuid=uuid, name="proj.mul", args="(2, 3)", kwargs="{}"),
                   event("task-started", "w1@types", t + 0.05, uuid=uuid),
                   event("task-succeeded", "w1@types", t + 0.1, uuid=uuid, runtime=0.1, result="6")]
        t += 1
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


def seconds(text):
    """A format_duration text back to seconds."""
    for unit, scale in (("µs", 1e-6), ("ms", 1e-3), ("s", 1.0)):
        if text.endswith(unit):
            return float(text[:-len(unit)]) * scale
    raise AssertionError(text)


def type_line(term, name):
    return next(line for line in term.lines() if line.strip().startswith(name))


def test_types_view_shows_known_figures_sorts_and_enter_filters_the_tasks(tmp_path):
    recording = tmp_path / "types.jsonl"
    write_recording(recording)
    with Terminal([BIN, "--replay", str(recording), "--speed", "0", "--refresh", "0.1"], cols=160, rows=30) as term:
        term.wait_for("proj.mul")
        term.press("y")
        term.wait_for("Task types")
        term.wait_for(lambda t: "proj.add" in t.text() and "FAIL%" in t.text())
        cells = type_line(term, "proj.add").split()
        # NAME FLIGHT OK FAILED RETRY REVOKED FAIL% /MIN P50 P95 P99 MAX WAIT50 WAIT95 LASTFAIL
        assert cells[1:8] == ["1", "3", "1", "0", "0", "25.0", "0.8"], cells
        assert seconds(cells[8]) == pytest.approx(1.0, rel=ALPHA + 0.005)  # p50, shown to 3 digits
        assert cells[11] == "2.00s"  # max: exact
        assert seconds(cells[12]) == pytest.approx(0.3, rel=ALPHA + 0.005)  # wait: sent -> started
        assert cells[14] == formatting.format_clock(T0 + 7)  # the failure's arrival
        assert type_line(term, "proj.mul").split()[1:4] == ["0", "2", "0"]
        names = [line.split()[0] for line in term.lines() if line.strip().startswith("proj.")]
        assert names == ["proj.add", "proj.mul"]  # by name
        term.press(">")  # by FLIGHT, the most first
        term.wait_for("FLIGHT▼")
        term.press("I")
        term.wait_for("FLIGHT▲")
        names = [line.split()[0] for line in term.lines() if line.strip().startswith("proj.")]
        assert names == ["proj.mul", "proj.add"]
        term.press("enter")  # on proj.mul, the first row
        term.wait_for("match 'name:proj.mul'")
        assert "Task types" not in term.text()
        shown = [line for line in term.lines() if "proj." in line]
        assert shown and all("proj.mul" in line for line in shown)
        term.press("q")
        assert term.wait_exit() == 0


def test_batch_json_carries_the_same_figures(tmp_path):
    recording = tmp_path / "types.jsonl"
    write_recording(recording)
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "celerytop"), "--replay", str(recording),
                          "--speed", "0", "--batch", "--format", "json", "--window", "1"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    types = {row["name"]: row for row in json.loads(out.stdout)["types"]}
    add = types["proj.add"]
    assert (add["in_flight"], add["succeeded"], add["failed"], add["retried"], add["revoked"]) == (1, 3, 1, 0, 0)
    assert add["failure_pct"] == 25.0 and add["rate_per_min"] == 4.0 and add["window"] == 60.0  # 4 in 1 min
    assert add["runtime_p50"] == pytest.approx(1.0, rel=ALPHA)
    # of 3 values, p99 is the value of rank floor(0.99 * 2) = 1: the middle one (sketch.py)
    assert add["runtime_p99"] == pytest.approx(1.0, rel=ALPHA) and add["runtime_max"] == 2.0
    assert add["wait_p50"] == pytest.approx(0.3, rel=ALPHA)
    assert add["last_failure"] == T0 + 7
    mul = types["proj.mul"]
    assert mul["succeeded"] == 2 and mul["failure_pct"] == 0.0 and mul["wait_p50"] == pytest.approx(0.05, rel=ALPHA)
    assert mul["last_failure"] is None
