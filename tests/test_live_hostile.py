"""Hostile events published on a real broker's event exchange: the stream stays
connected, they are counted as malformed, and the next good event still shows."""

import time

from tests.hostile import hostile_events
from tests.screen import connected, monitor


def publish_raw(source, body, routing_key):
    """``body`` on the event exchange as it is, bypassing celery's Dispatcher (which would refuse it)."""
    dispatcher = source.dispatcher
    dispatcher.producer.publish(body, routing_key=routing_key, exchange=dispatcher.exchange.name,
                                declare=[dispatcher.exchange], serializer="json")


def routing_key_of(event):
    kind = event.get("type") if isinstance(event, dict) else None
    return kind.replace("-", ".") if isinstance(kind, str) and "\x00" not in kind else "worker.heartbeat"


def test_hostile_events_on_the_exchange_leave_the_stream_connected(broker, events_for):
    source = events_for(broker)
    with monitor(broker, 140, 40) as term:
        connected(term)
        now = time.time()
        hostile = hostile_events(t0=now)
        for event in hostile:
            publish_raw(source, event, routing_key_of(event))
        # several events in one message, as prefork workers send them
        publish_raw(source, [hostile[0], 7, None, {"type": ["task-failed"]}], "worker.heartbeat")
        source.heartbeat()
        source.task(name="proj.after_the_attack")
        term.wait_for("proj.after_the_attack", timeout=30)
        term.wait_for(" malformed")
        screen = term.text()
        assert "● connected" in screen and "disconnected" not in screen and "stream broke" not in screen, screen
        time.sleep(1.5)  # what a broken stream would show only at its next refresh
        assert "disconnected" not in term.text() and "stream broke" not in term.text()
        term.press("q")
        assert term.wait_exit() == 0
