"""The queues view against every selected broker: the depth shown is what was
published while no worker consumed (priorities included), consumers come from
the workers, purge empties exactly the chosen queue, migrate moves messages to
another real broker."""

import json

import redis

from celerytop.control.queues.probe import DepthProbe
from tests.live import wait_until
from tests.test_live_console import command
from tests.test_live_control import audit_entries, monitor
from tests.test_queues import delete_amqp_queues, publish


def queue_line(term, name):
    return next((line for line in term.lines() if line.startswith(f"  {name} ")), "")


def depth_shown(term, name):
    words = queue_line(term, name).split()
    return int(words[1]) if len(words) > 1 and words[1].isdigit() else None


def test_depth_consumers_and_purge_of_exactly_one_queue(broker, workers, tmp_path):
    main, extra = f"q-{broker.ns}", f"x-{broker.ns}"
    worker = workers("w1", extra_args=("-Q", f"{main},{extra}"))
    try:
        with monitor(broker, tmp_path, cols=140, rows=30) as term:
            term.wait_for("● connected")
            term.press("u")
            term.wait_for(lambda t: queue_line(t, extra), timeout=20)
            # both queues listed from the worker's active_queues, with it as consumer
            assert worker.hostname in queue_line(term, main) and worker.hostname in queue_line(term, extra)
            assert queue_line(term, extra).split()[2] == "1"  # CONSUMERS: the broker's count, or the workers'
            assert "CONSUMERS" in term.text() and "CONSUMED BY" in term.text()
            worker.kill()
            worker.proc.wait()
            publish(broker.app, main, 2)
            publish(broker.app, main, 2, priority=9)  # Redis keeps these in a priority sub-queue
            publish(broker.app, extra, 3)
            term.wait_for(lambda t: depth_shown(t, main) == 4 and depth_shown(t, extra) == 3, timeout=20)
            assert "MESSAGES" in term.text() and "TREND" in term.text()

            select_queue(term, extra)
            term.press("p")
            term.wait_for(f"Purge 3 message(s) from {extra}?")
            assert f"{extra}: 3 message(s)" in term.text()
            term.press("n")
            term.wait_for("Cancelled: nothing was sent")
            term.press("p")
            term.wait_for(f"Purge 3 message(s) from {extra}?")
            term.press("y")
            term.wait_for(f"purge: removed 3 from {extra}")
            term.wait_for(lambda t: depth_shown(t, extra) == 0 and depth_shown(t, main) == 4, timeout=20)
            assert audit_entries(term)[-1]["command"] == "purge"
            assert audit_entries(term)[-1]["arguments"] == {"queues": [extra]}
        probe = DepthProbe(broker.app)
        try:  # the broker agrees with the screen
            assert [d.messages for d in probe.measure([main, extra])] == [4, 0]
        finally:
            probe.close()
    finally:
        delete_amqp_queues(broker, [extra])


def select_queue(term, name):
    """Move the cursor onto ``name``'s row (the focused row is drawn highlighted)."""
    for _ in range(20):
        y = next(i for i, line in enumerate(term.lines()) if line.startswith(f"  {name} "))
        if term.screen.buffer[y][2].bg not in ("default", None):
            return
        term.press("j")
    raise AssertionError(f"could not put the cursor on {name}\n{term.describe()}")


def test_migrate_moves_the_waiting_messages_to_another_broker(fs, make_broker, tmp_path):
    destination = make_broker("redis")
    name = f"q-{fs.ns}"
    publish(fs.app, name, 3)
    client = redis.Redis.from_url(destination.url)
    try:
        with monitor(fs, tmp_path, cols=140, rows=30) as term:
            term.wait_for("● connected")
            command(term, f"migrate {destination.url} -Q {name}")
            term.wait_for(f"Migrate {name} to {destination.url}?")
            assert f"{name}: 3 message(s)" in term.text()
            term.press("y")
            term.wait_for(f"migrate: moved 3 message(s) from {name} to {destination.url}", timeout=30)
            assert audit_entries(term)[-1]["command"] == "migrate"
        wait_until(lambda: client.llen(name) == 3)
        assert json.loads(client.lindex(name, 0))["headers"]["task"] == "tests.add"
        probe = DepthProbe(fs.app)
        try:
            assert probe.measure([name])[0].messages == 0
        finally:
            probe.close()
    finally:
        client.delete(name)
        client.close()
