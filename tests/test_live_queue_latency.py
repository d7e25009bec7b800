"""Queue latency against every selected broker: messages wait with no worker consuming, and the queues view
(on screen, through pyte) and ``--batch --queues`` JSON show how old the oldest one is, or "unknown".

Two producers: ``loud`` sends task-sent events (``task_send_sent_event``),
``quiet`` does not.  Redis and the filesystem are peeked: a queue whose
oldest message was sent loudly shows its age; a queue whose oldest message
was sent quietly says "unknown", even though a younger message's task-sent
is known (no guess).  RabbitMQ cannot be peeked: the age there is the oldest
task the events saw sent to the queue and not received, marked "events"; a
queue whose messages were all sent quietly is "unknown" on every broker.
"""

import json
import re
import subprocess
import time

from tests.live import wait_until
from tests.liveapp import make_app
from tests.screen import BIN
from tests.test_live_control import monitor
from tests.test_live_queues import queue_line
from tests.test_queues import delete_amqp_queues

DURATION = r"(\d+ms|\d+\.\d+s|\d+m\d\ds)"


def producers(broker):
    loud = make_app(broker.url, broker.ns, broker.fsdir)  # task_send_sent_event on
    quiet = make_app(broker.url, broker.ns, broker.fsdir)
    quiet.conf.task_send_sent_event = False
    return loud, quiet


def oldest_cell(term, name: str) -> str:
    """The OLDEST column of ``name``'s row, found under its heading (14 columns wide)."""
    line = queue_line(term, name)
    head = next((text for text in term.lines() if "OLDEST" in text), "")
    if not line or not head:
        return ""
    start = head.index("OLDEST")
    return line[start:start + 14].strip()


def seconds(text: str) -> float:
    if text.endswith("ms"):
        return float(text[:-2]) / 1000
    minutes = re.fullmatch(r"(\d+)m(\d\d)s", text)
    return int(minutes[1]) * 60 + int(minutes[2]) if minutes else float(text[:-1])


def test_the_queues_view_shows_the_oldest_messages_age_or_unknown(broker, tmp_path):
    known, mixed = f"lat-{broker.ns}", f"latmix-{broker.ns}"
    default = f"q-{broker.ns}"  # the app's configured queue: listed though no task-sent names it
    loud, quiet = producers(broker)
    try:
        with monitor(broker, tmp_path, cols=160, rows=30) as term:
            term.wait_for("● connected")
            first_sent = time.time()
            quiet.send_task("tests.add", args=(1, 2), queue=mixed)  # the oldest of `mixed`: no task-sent
            loud.send_task("tests.add", args=(1, 2), queue=known)
            loud.send_task("tests.add", args=(3, 4), queue=known)
            loud.send_task("tests.add", args=(5, 6), queue=mixed)
            quiet.send_task("tests.add", args=(7, 8), queue=default)  # no task-sent at all: unknown everywhere
            term.press("u")
            term.wait_for(lambda t: re.match(DURATION, oldest_cell(t, known))
                          and oldest_cell(t, mixed), timeout=30)
            shown = oldest_cell(term, known)
            age = re.match(DURATION, shown)[1]
            assert 0 <= seconds(age) <= time.time() - first_sent + 1, term.describe()
            assert "OLDEST" in term.text() and re.search(r"round \d+\.\d\d s", term.text()), term.describe()
            term.wait_for(lambda t: oldest_cell(t, default) == "unknown", timeout=10)
            term.press("<")  # from QUEUE back round to OLDEST: the oldest first, the unknown after every age
            term.wait_for("OLDEST▼")
            rows = [line.split()[0] for line in term.lines() if line.startswith(("  lat", "  q-"))]
            assert rows.index(known) < rows.index(default), term.describe()
            if broker.name == "rabbitmq":  # not peeked: said to come from the events
                assert shown.endswith(" events"), term.describe()
                assert oldest_cell(term, mixed).endswith(" events"), term.describe()
            else:
                assert shown == age, term.describe()  # from the peeked message's own task-sent
                term.wait_for(lambda t: oldest_cell(t, mixed) == "unknown", timeout=10)
                assert term.fg("unknown", bright=False) == "yellow"  # status.warn: said, not hidden
    finally:
        delete_amqp_queues(broker, [known, mixed])
        loud.close()
        quiet.close()


def test_batch_json_carries_each_queues_depth_and_oldest_age(broker, tmp_path):
    known = f"latb-{broker.ns}"
    loud, _ = producers(broker)
    proc = subprocess.Popen([BIN, "-A", "tests.liveapp", "--batch", "--format", "json", "--queues",
                             "--delay", "0.5", "--iterations", "120"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=broker.subprocess_env())
    try:
        snapshot = json.loads(proc.stdout.readline())
        wait_until(lambda: snapshot["connection"]["state"] == "connected"
                   or snapshot.update(json.loads(proc.stdout.readline())), timeout=30)
        for _ in range(2):
            loud.send_task("tests.add", args=(1, 2), queue=known)

        def measured():
            snapshot.update(json.loads(proc.stdout.readline()))
            return next((q for q in snapshot["queues"] if q["name"] == known and q["oldest_age"] is not None), None)

        queue = wait_until(measured, timeout=30)
        assert queue["messages"] == 2 and queue["error"] == ""
        assert queue["oldest_source"] == ("events" if broker.name == "rabbitmq" else "sent")
        assert queue["oldest_age"] >= 0 and isinstance(snapshot["queues_round_seconds"], float)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        delete_amqp_queues(broker, [known])
        loud.close()


def test_batch_queues_feed_the_queue_depth_alert_and_exit_on_alert_exits_3(broker, tmp_path):
    deep = f"latd-{broker.ns}"
    loud, _ = producers(broker)
    proc = subprocess.Popen([BIN, "-A", "tests.liveapp", "--batch", "--format", "json", "--queues",
                             "--alert-queue-depth", "2", "--exit-on-alert", "--no-alert", "silence",
                             "--delay", "0.5", "--iterations", "120"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=broker.subprocess_env())
    try:
        snapshot = json.loads(proc.stdout.readline())
        wait_until(lambda: snapshot["connection"]["state"] == "connected"
                   or snapshot.update(json.loads(proc.stdout.readline())), timeout=30)
        assert snapshot["alerts"] == []
        for _ in range(3):  # nobody consumes it: 3 messages wait, more than 2
            loud.send_task("tests.add", args=(1, 2), queue=deep)
        assert proc.wait(60) == 3, proc.stderr.read()
        last = json.loads(proc.stdout.read().strip().splitlines()[-1])
        fired = [(a["rule"], a["subject"]) for a in last["alerts"]]
        assert fired == [("queue-depth", deep)], last["alerts"]
        assert next(q for q in last["queues"] if q["name"] == deep)["messages"] == 3
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        delete_amqp_queues(broker, [deep])
        loud.close()
