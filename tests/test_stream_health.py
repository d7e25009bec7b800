"""Falling behind and losing events: what the capture measures and the header says."""

import json

from celerytop.events import capture
from celerytop.events.fastjson import loads_json
from celerytop.events.streams.routing import matcher
from celerytop.model.cluster import ClusterModel
from celerytop.modes import batch
from celerytop.present.header_text import header_lines
from tests.events import event


def header_text(status) -> str:
    lines = header_lines("proj", "redis://x", ClusterModel().summary(), status)
    return "\n".join("".join(text for _style, text in line) for line in lines)


def styled(status, needle) -> str:
    for line in header_lines("proj", "redis://x", ClusterModel().summary(), status):
        for style, text in line:
            if needle in text:
                return style
    raise AssertionError(f"{needle!r} not in the header")


def test_lag_is_measured_against_each_senders_usual_delay():
    health = capture.StreamHealth()
    # w1's clock runs 90 s behind ours: its events always look 90 s old
    health.saw(event("worker-heartbeat", hostname="w1@a", timestamp=1000.0, local_received=1090.1))
    assert health.lag == 0.0
    health.saw(event("worker-heartbeat", hostname="w2@b", timestamp=1000.0, local_received=1000.2))
    health.saw(event("worker-heartbeat", hostname="w1@a", timestamp=1001.0, local_received=1096.1))
    assert round(health.lag, 3) == 5.0, "five seconds later than w1's usual delay"
    health.saw({"type": "broken"})  # no timestamps: ignored
    assert round(health.lag, 3) == 5.0


def test_the_header_says_how_far_behind_and_how_much_is_queued():
    status = capture.ConnectionStatus()
    status.connected()
    assert "behind" not in header_text(status.snapshot())
    status.health.lag = 4.24
    status.health.backlog(messages_queued=12000)
    text = header_text(status.snapshot())
    assert "● connected  ⚠ behind 4.2 s, 12,000 queued" in text
    assert styled(status.snapshot(), "behind") == "header.warn"
    status.health.lag = 0.1
    status.health.backlog(bytes_queued=6 * 1048576)
    assert "behind 0.1 s, 6.0 MB queued" in header_text(status.snapshot())
    status.health.backlog(bytes_queued=1024)
    assert "behind" not in header_text(status.snapshot()), "a small backlog is normal"


def test_a_stream_that_breaks_while_connected_counts_as_events_lost_until_the_end():
    status = capture.ConnectionStatus()
    status.failed("ConnectionRefusedError: down", 1.0)  # never connected: nothing was lost
    assert "events lost" not in header_text(status.snapshot())
    status.connecting()
    status.connected()
    status.health.lag = 9.0
    status.failed("ConnectionError: Connection closed by server.", 1.0)
    snap = status.snapshot()
    assert snap.drops == 1 and snap.lag == 0.0
    assert "events lost: stream broke once, last at" in header_text(snap)
    assert styled(snap, "events lost") == "header.error"
    status.connecting()
    status.connected()
    status.failed("ConnectionError: again", 1.0)
    status.connecting()
    status.connected()
    text = header_text(status.snapshot())
    assert "● connected" in text and "events lost: stream broke 2 times" in text


def test_batch_json_reports_the_stream_health():
    status = capture.ConnectionStatus()
    status.connected()
    status.health.lag = 3.5
    status.health.backlog(messages_queued=42)
    doc = json.loads(batch.render_json(ClusterModel(), status.snapshot()))
    assert doc["connection"]["lag"] == 3.5 and doc["connection"]["messages_queued"] == 42
    assert doc["connection"]["drops"] == 0


def test_routing_keys_narrow_like_the_event_exchange():
    assert matcher(("#",)) is None
    wanted = matcher(("worker.#", "task.failed"))
    assert [t for t in ("worker-heartbeat", "worker-online", "task-failed", "task-succeeded", "task-sent",
                        None) if wanted(t)] == ["worker-heartbeat", "worker-online", "task-failed"]
    one_word = matcher(("task.*",))
    assert one_word("task-failed") and not one_word("worker-online")


def test_event_json_that_orjson_refuses_still_decodes():
    assert loads_json(b'{"a": NaN, "b": 123456789012345678901234567890}')["b"] == 123456789012345678901234567890
    assert loads_json(b'{"type": "task-sent"}') == {"type": "task-sent"}
