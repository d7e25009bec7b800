"""Replay on the screen: no broker, the recording's clock in the header, and
keys that pause, step and change the speed."""

import json
import time

from celerytop.present import formatting
from tests.events import heartbeat, task_lifecycle
from tests.screen import BIN
from tests.terminal import Terminal

T0 = 1_700_000_000.0  # a fixed past: the replayed clock shows it, not today


def write_recording(path, tasks=20, gap=0.5):
    events = []
    for n in range(tasks):
        when = T0 + n * gap
        events.append(heartbeat("w1@replayed", timestamp=when, local_received=when))
        _uuid, lifecycle = task_lifecycle(name=f"proj.step{n:02d}", hostname="w1@replayed", t0=when)
        for offset, e in enumerate(lifecycle):
            e["local_received"] = e["timestamp"] = when + 0.01 * offset
        events += lifecycle
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return events


def test_replay_shows_the_recorded_clock_and_pauses_steps_and_changes_speed(tmp_path):
    recording = tmp_path / "incident.jsonl"
    write_recording(recording)
    with Terminal([BIN, "--replay", str(recording), "--refresh", "0.1"], cols=140, rows=40) as term:
        term.wait_for("▶ replaying")
        term.wait_for("proj.step01")
        assert "w1@replayed" in term.text() and "broker file incident.jsonl" in term.text()
        first_clock = formatting.format_clock(T0)[:5]  # HH:MM of the recording, not of now
        assert f"REPLAY {first_clock}" in term.text()
        term.press("z")
        term.wait_for("paused")
        shown = tasks_shown(term)
        term.press("z")  # resume, then pause again: the screen stands still while paused
        term.press("z")
        term.wait_for("paused")
        time.sleep(0.3)  # an event already on its way when z was pressed
        held = tasks_shown(term)
        time.sleep(1.2)  # 1.2 s of recording would bring two or three more tasks
        assert tasks_shown(term) == held >= shown
        for _ in range(4):  # '.' delivers one event at a time: a task's 4 events
            term.press(".")
        term.wait_for(lambda t: tasks_shown(t) == held + 1)
        term.press("]")
        term.press("]")
        term.wait_for("×4")
        term.press("[")
        term.wait_for("×2")
        term.press("z")
        term.wait_for("Tasks 20 ", timeout=30)
        term.wait_for("ended")
        term.press("q")
        assert term.wait_exit() == 0


def tasks_shown(term):
    line = next(line for line in term.lines() if line.startswith(" Workers "))
    return int(line.split("Tasks ")[1].split()[0])
