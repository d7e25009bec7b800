"""Batch snapshots and the event dump, rendered from a model fed pure events:
plain text that fits the width with no escape code whatever a worker sent, JSON
that parses back to the same picture, and celery's dump format made safe."""

import io
import json

from celerytop.events import capture
from celerytop.model.cluster import ClusterModel
from celerytop.modes import batch
from celerytop.modes.dump import JsonDumper, SafeDumper
from tests.events import event, heartbeat, task_lifecycle

HOSTILE = "evil\x1b[2J\x1b]0;pwned\x07\u202e\x9b31m"


def model_with_tasks():
    model = ClusterModel()
    for e in [heartbeat("w1@host", processed=7, loadavg=[0.5, 0.2, 0.1])]:
        model.on_event(dict(e))
    ok, events = task_lifecycle(name="proj.add", hostname="w1@host")
    bad, failed = task_lifecycle(name="proj.fail", final="task-failed", hostname="w1@host",
                                 exception="ValueError('boom')", traceback="Traceback ...")
    evil, hostile = task_lifecycle(name=HOSTILE, hostname="w1@host", args=repr((HOSTILE,)))
    for e in events + failed + hostile:
        model.on_event(dict(e))
    return model, ok, bad, evil


def connected():
    status = capture.ConnectionStatus()
    status.connected()
    return status.snapshot()


def test_text_has_the_header_both_tables_and_no_control_character_at_any_width():
    model, ok, bad, _evil = model_with_tasks()
    for width in (40, 80, 120, 200):
        text = batch.render_text(model, connected(), width, "proj", "redis://:secret@host:6379/0")
        data = text.encode("utf-8")
        assert all(byte >= 0x20 or byte == 0x0A for byte in data), "a control byte in batch output"
        assert "\x9b" not in text and "\u202e" not in text  # C1 CSI and bidi overrides too
        lines = text.splitlines()
        assert all(len(line) <= width for line in lines)
        if width >= 120:
            assert "● connected" in text and "secret" not in text
            assert "Workers 1/1 online" in text and "FAILURE 1" in text
            assert any(ok[:8] in line and "proj.add" in line and "SUCCESS" in line for line in lines)
            assert any(bad[:8] in line and "FAILURE" in line and "w1@host" in line for line in lines)
            assert "\\x1b[2J" in text  # the hostile name shown as text


def test_json_is_one_line_per_snapshot_with_the_same_picture():
    model, ok, bad, evil = model_with_tasks()
    line = batch.render_json(model, connected(), iteration=3, clock=lambda: 1234.5)
    assert line.endswith("\n") and line.count("\n") == 1
    assert all(32 <= byte < 127 or byte == 0x0A for byte in line.encode())  # ascii, escapes as \\u001b
    doc = json.loads(line)
    assert doc["iteration"] == 3 and doc["time"] == 1234.5 and doc["connection"]["state"] == capture.CONNECTED
    assert doc["counts"]["states"] == {"SUCCESS": 2, "FAILURE": 1}
    assert doc["counts"]["tasks"] == len(doc["tasks"]) == 3
    by_id = {task["uuid"]: task for task in doc["tasks"]}
    assert by_id[ok]["state"] == "SUCCESS" and by_id[ok]["name"] == "proj.add"
    assert by_id[bad]["state"] == "FAILURE" and by_id[bad]["worker"] == "w1@host"
    assert by_id[evil]["name"] == HOSTILE  # data stays exact in JSON; escaping keeps the terminal safe
    assert [t["uuid"] for t in doc["tasks"]] == model.query()
    [worker] = doc["workers"]
    assert worker["hostname"] == "w1@host" and worker["processed"] == 7 and worker["loadavg"] == [0.5, 0.2, 0.1]


def test_the_dump_is_celerys_format_made_safe():
    out = io.StringIO()
    dumper = SafeDumper(out=out)
    received = event("task-received", uuid="u-1", name="proj.add", args="(1, 2)", kwargs="{}", timestamp=0.0,
                     hostname="w1@host")
    dumper.on_event(received)
    dumper.on_event(event("task-succeeded", uuid="u-1", result="3", runtime=0.5, timestamp=1.0))
    dumper.on_event(event("worker-heartbeat", hostname=HOSTILE, timestamp=2.0))
    dumper.on_event({"type": "task-failed"})  # no timestamp, hostname or uuid
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("w1@host [1970-01-01 00:00:00+00:00] task received: proj.add(u-1) args=(1, 2)")
    assert lines[1].startswith("w1@host [1970-01-01 00:00:01+00:00] task succeeded: proj.add(u-1)")
    assert "result=3" in lines[1] and "runtime=0.5" in lines[1]
    assert lines[2].startswith("evil\\x1b[2J") and "heartbeat" in lines[2]
    assert lines[3].startswith("-> malformed event (KeyError")
    assert all(ch >= " " for line in lines for ch in line)
    assert received["uuid"] == "u-1" and received["type"] == "task-received"  # the caller's event untouched


def test_the_json_dump_is_the_event_as_received_one_per_line():
    out = io.StringIO()
    dumper = JsonDumper(out)
    first = event("task-received", uuid="u-1", name=HOSTILE, args="(1,)", kwargs="{}")
    dumper.on_event(first)
    dumper.on_event(heartbeat("w2@host"))
    lines = out.getvalue().splitlines()
    assert json.loads(lines[0]) == first and json.loads(lines[1])["hostname"] == "w2@host"
    assert "\x1b" not in out.getvalue()
