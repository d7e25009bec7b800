"""The oldest waiting message's age: envelopes decoded, aged from task-sent, ETA or nothing; Redis read in one round.

The envelope tests use messages as kombu really stores them (published by
``send_task`` and read back from Redis or the filesystem folder).  The round
trip test counts requests through redis-py's real connection to the shared
Redis: nothing is mocked, the counter only wraps the call that writes a
request to the socket.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import redis
from redis.connection import AbstractConnection

from celerytop.control.queues import latency, peek
from celerytop.control.queues.latency import Envelope, Oldest, decode_envelope, describe, oldest_ages, oldest_of
from celerytop.control.queues.probe import DepthProbe, QueueDepth
from celerytop.model import queuewait
from celerytop.model.cluster import ClusterModel
from celerytop.present.formatting import format_duration
from tests.events import event
from tests.liveapp import make_app

REDIS_URL = "redis://127.0.0.1:6379/0"
PRIORITY_SEP = "\x06\x16"


def envelope_json(headers=None, body=b"[[1, 2], {}, {}]", content_type="application/json", properties=None):
    properties = {"body_encoding": "base64", "delivery_tag": "x", **(properties or {})}
    return json.dumps({"body": base64.b64encode(body).decode(), "content-encoding": "utf-8",
                       "content-type": content_type, "headers": headers or {}, "properties": properties})


# -- envelopes ---------------------------------------------------------------------


def test_protocol_2_headers_give_the_id_and_the_eta():
    raw = envelope_json({"id": "abc", "eta": "2026-01-02T03:04:05.500000+00:00", "task": "t"})
    assert decode_envelope(raw.encode()) == Envelope("abc", datetime(2026, 1, 2, 3, 4, 5, 500000,
                                                                     tzinfo=timezone.utc).timestamp(), None)


def test_a_naive_eta_is_utc_and_an_amqp_timestamp_property_is_read():
    raw = envelope_json({"id": "abc", "eta": "2026-01-02T03:04:05"}, properties={"timestamp": 1700000000})
    assert decode_envelope(raw) == Envelope("abc", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc).timestamp(),
                                            1700000000.0)


def test_protocol_1_reads_the_json_body_never_a_pickle():
    body = json.dumps({"id": "p1", "task": "t", "eta": "2026-01-02T03:04:05+00:00"}).encode()
    assert decode_envelope(envelope_json({}, body)).task_id == "p1"
    pickled = envelope_json({}, b"\x80\x04\x95...", content_type="application/x-python-serialize")
    assert decode_envelope(pickled) == Envelope(None, None, None)


@pytest.mark.parametrize("raw", [b"\xff\xfe", "not json", "[1, 2]", "null"])
def test_what_is_not_an_envelope_is_none(raw):
    assert decode_envelope(raw) is None


def test_a_message_published_by_celery_decodes_to_its_task_id_and_eta():
    ns = uuid.uuid4().hex[:10]
    app = make_app(REDIS_URL, ns)
    client = redis.Redis.from_url(REDIS_URL)
    name = f"lat-env-{ns}"
    eta = datetime.now(timezone.utc) + timedelta(hours=1)
    try:
        plain = app.send_task("tests.add", args=(1, 2), queue=name)
        later = app.send_task("tests.add", args=(1, 2), queue=name, eta=eta)
        assert decode_envelope(client.lindex(name, -1)) == Envelope(plain.id, None, None)  # the oldest: BRPOP's end
        assert decode_envelope(client.lindex(name, 0)) == Envelope(later.id, pytest.approx(eta.timestamp()), None)
    finally:
        client.delete(name)
        client.close()
        app.close()


# -- ages --------------------------------------------------------------------------


def test_the_age_comes_from_task_sent_then_the_eta_then_nothing():
    sent = {"known": 1000.0}.get
    assert oldest_of([Envelope("known", eta=5000.0)], sent) == Oldest(1000.0, "sent", "known")
    assert oldest_of([Envelope("other", eta=900.0)], sent) == Oldest(900.0, "eta", "other")
    assert oldest_of([Envelope("other", timestamp=800.0)], sent) == Oldest(800.0, "timestamp", "other")
    assert oldest_of([Envelope("other"), Envelope(None), None], sent) is None  # unknown, never a guess
    assert oldest_of([], sent) is None


def test_the_oldest_of_the_priority_sub_queues_counts():
    sent = {"a": 1000.0, "b": 400.0}.get
    assert oldest_of([Envelope("a"), Envelope("b"), Envelope("c")], sent) == Oldest(400.0, "sent", "b")


def test_what_the_column_says():
    assert describe(Oldest(1000.0, "sent"), 3, 1192.0, format_duration) == "3m12s"
    assert describe(Oldest(1000.0, "eta"), 3, 1192.0, format_duration) == "3m12s eta"
    assert describe(Oldest(1000.0, "events"), 3, 1012.0, format_duration) == "12.0s events"
    assert describe(Oldest(1040.0, "eta"), 3, 1000.0, format_duration) == "eta in 40.0s"
    assert describe(None, 3, 1000.0, format_duration) == latency.UNKNOWN == "unknown"
    assert describe(None, 0, 1000.0, format_duration) == ""  # nothing waits: no age at all


def test_sorting_puts_the_oldest_first_then_unknown_then_empty():
    now = 2000.0
    keys = {"old": latency.sort_key(Oldest(100.0, "sent"), 1, now), "new": latency.sort_key(Oldest(1900.0, "sent"),
                                                                                         1, now),
            "unknown": latency.sort_key(None, 4, now), "empty": latency.sort_key(None, 0, now)}
    assert sorted(keys, key=keys.get, reverse=True) == ["old", "new", "unknown", "empty"]


def sent_event(uuid_, when, queue, **extra):
    return {"type": "task-sent", "uuid": uuid_, "name": "tests.add", "timestamp": when, "queue": queue,
            "hostname": "client", "routing_key": queue, "exchange": "", "args": "()", "kwargs": "{}", **extra}


@pytest.mark.parametrize("chunk", [2, 5000])
def test_the_model_answers_sent_times_and_the_oldest_unreceived_task_per_queue(chunk, monkeypatch):
    monkeypatch.setattr(queuewait, "CHUNK", chunk)  # read under the lock a few tasks at a time, or all at once
    model = ClusterModel(clock=lambda: 5000.0)
    assert model.oldest_waiting_sent() == {}
    model.on_event(sent_event("t1", 1000.0, "q1"))
    model.on_event(sent_event("t2", 950.0, "q1"))
    model.on_event(sent_event("t3", 900.0, "q2"))
    model.on_event(sent_event("t4", 800.0, "q1"))
    model.on_event(sent_event("t5", 700.0, None, routing_key="billing.eu"))  # a routing key names no queue
    model.on_event({"type": "task-received", "uuid": "t4", "name": "tests.add", "timestamp": 1200.0,
                    "hostname": "w1", "args": "()", "kwargs": "{}"})

    assert model.sent_times(["t1", "t3", "nope"]) == {"t1": 1000.0, "t3": 900.0}
    assert model.oldest_waiting_sent() == {"q1": (950.0, "t2"), "q2": (900.0, "t3")}  # t4 was received

    depths = [QueueDepth("q1", 2, None, heads=(Envelope("t2"),)),  # peeked: its own message's task-sent
              QueueDepth("q2", 1, 0),  # AMQP: not peeked, the events' oldest
              QueueDepth("q3", 4, 0),  # AMQP, nothing seen sent there: unknown
              QueueDepth("q4", 0, None, heads=()),
              QueueDepth("q5", 3, None, heads=(Envelope("unseen"),))]  # peeked, no task-sent, no ETA
    assert oldest_ages(depths, model) == {"q1": Oldest(950.0, "sent", "t2"), "q2": Oldest(900.0, "events", "t3"),
                                          "q3": None, "q4": None, "q5": None}


# -- peeking Redis and the filesystem ------------------------------------------------


def test_redis_oldest_is_the_tail_of_each_priority_sub_queue_under_the_key_prefix():
    ns = uuid.uuid4().hex[:10]
    app = make_app(REDIS_URL, ns)
    prefix = f"pfx-{ns}:"
    app.conf.broker_transport_options = {"priority_steps": list(range(10)), "queue_order_strategy": "priority",
                                         "global_keyprefix": prefix}
    name = f"lat-pri-{ns}"
    sent = [app.send_task("tests.add", queue=name, priority=p).id for p in (0, 0, 7)]
    probe = DepthProbe(app)
    try:
        depth, = probe.measure([name])
        assert depth.messages == 3 and depth.error == ""
        assert sorted(e.task_id for e in depth.heads) == sorted([sent[0], sent[2]])  # the first of each sub-queue
        assert probe.last_round is not None and probe.last_round > 0
    finally:
        probe.close()
        client = redis.Redis.from_url(REDIS_URL)
        client.delete(prefix + name, f"{prefix}{name}{PRIORITY_SEP}7")
        client.close()
        app.close()


def test_filesystem_oldest_is_the_first_file_sorted_and_stays_in_place(tmp_path):
    app = make_app("filesystem://localhost//", "fsl", str(tmp_path))
    name = "lat-fs"
    first = app.send_task("tests.add", queue=name).id
    time.sleep(0.005)  # file names start with the millisecond: two sent within one sort by their random uuid
    app.send_task("tests.add", queue=name)
    app.send_task("tests.add", queue="other")
    probe = DepthProbe(app)
    try:
        folder = app.conf.broker_transport_options["data_folder_in"]
        before = sorted(os.listdir(folder))
        depth, other, empty = probe.measure([name, "other", "none"])
        assert (depth.messages, [e.task_id for e in depth.heads]) == (2, [first])
        assert (other.messages, len(other.heads), empty.messages, empty.heads) == (1, 1, 0, ())
        assert sorted(os.listdir(folder)) == before  # read, never moved
    finally:
        probe.close()
        app.close()


def test_an_unreadable_oldest_file_is_unknown_not_the_next_one(tmp_path):
    (tmp_path / "100_a.q.msg").write_bytes(b"garbage")
    (tmp_path / "200_b.q.msg").write_text(envelope_json({"id": "younger"}))
    assert peek.filesystem_heads(str(tmp_path), ["q"]) == {"q": (Envelope(None),)}


class RequestCounter:
    """Counts requests written to Redis: redis-py sends a pipeline, or one command, in one send_packed_command."""

    def __init__(self, monkeypatch):
        self.count = 0
        real = AbstractConnection.send_packed_command

        def counting(connection, command, check_health=True):
            self.count += 1
            return real(connection, command, check_health)

        monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)


def test_ten_thousand_redis_queues_are_one_pipelined_round_trip(monkeypatch):
    ns = uuid.uuid4().hex[:10]
    app = make_app(REDIS_URL, ns)
    names = [f"lat-many-{ns}-{index}" for index in range(10_000)]
    client = redis.Redis.from_url(REDIS_URL)
    pipe = client.pipeline(transaction=False)
    for index, name in enumerate(names[:2000]):  # every fifth queue holds a message (one envelope each)
        pipe.lpush(names[index * 5], envelope_json({"id": f"id-{index}"}))
    pipe.execute()
    probe = DepthProbe(app)
    try:
        probe.measure(names[:1])  # connects and opens the channel
        counter = RequestCounter(monkeypatch)
        depths = probe.measure(names)
        assert counter.count == 1
        assert len(depths) == 10_000 and sum(d.messages for d in depths) == 2000
        assert depths[5].heads == (Envelope("id-1"),) and depths[6].heads == ()
    finally:
        monkeypatch.undo()
        probe.close()
        pipe = client.pipeline(transaction=False)
        for name in names[::5]:
            pipe.delete(name)
        pipe.execute()
        client.close()
        app.close()


def test_batch_queues_on_the_filesystem_broker_in_json_and_text(tmp_path):
    from celerytop.modes.queue_snapshot import QueueSnapshots, text_lines

    app = make_app("filesystem://localhost//", "fsb", str(tmp_path))
    name = "lat-batch"
    first = app.send_task("tests.add", queue=name).id
    time.sleep(0.005)  # file names start with the millisecond: two sent within one sort by their random uuid
    app.send_task("tests.add", queue=name)
    model = ClusterModel(clock=lambda: 5000.0)
    model.on_event(sent_event(first, 1000.0, name))
    queues = QueueSnapshots(app, model, clock=lambda: 1192.0)
    try:
        measured = queues()
    finally:
        queues.close()
        app.close()
    by_name = {q["name"]: q for q in measured["queues"]}
    assert set(by_name) == {name, "q-fsb"}  # task-sent named one, the app's configuration the other
    assert by_name[name] == {"name": name, "messages": 2, "consumers": None, "error": "", "oldest_age": 192.0,
                             "oldest_source": "sent", "oldest_task_id": first, "oldest": "3m12s"}
    assert by_name["q-fsb"]["messages"] == 0 and by_name["q-fsb"]["oldest_age"] is None
    assert isinstance(measured["round_seconds"], float)
    lines = text_lines(measured)
    assert lines[0].startswith(" Queues  2 measured, round ")
    assert lines[1].split() == ["QUEUE", "MESSAGES", "OLDEST"]
    assert lines[2].split() == [name, "2", "3m12s"] and lines[3].split() == ["q-fsb", "0"]


def test_the_view_sorts_by_the_oldest_column_and_says_the_rounds_duration():
    from celerytop.ui.views.queues_view import QueuesView
    from tests.test_key_safety import make_app as make_monitor_app

    app, _ = make_monitor_app()
    monitor = app.queues
    monitor.names = ["a-new", "b-empty", "c-unknown", "d-old"]
    monitor.depths = {"a-new": QueueDepth("a-new", 1, None), "b-empty": QueueDepth("b-empty", 0, None),
                      "c-unknown": QueueDepth("c-unknown", 5, None), "d-old": QueueDepth("d-old", 2, None)}
    monitor.oldest = {"a-new": Oldest(990.0, "sent"), "d-old": Oldest(808.0, "sent")}
    monitor.sampled_at, monitor.round_seconds = 1000.0, 0.123
    view = QueuesView(monitor, clock=lambda: 1000.0)

    def shown():
        texts = [row.base_widget.text for row in view.walker]
        return [text.split()[:4] for text in texts if text.startswith("  ") and text.split()[0] in monitor.depths]

    assert [row[0] for row in shown()] == ["a-new", "b-empty", "c-unknown", "d-old"]  # by name at first
    view.change_sort(-1)  # the last column, OLDEST: the oldest first, unknown after the known, empty last
    assert shown() == [["d-old", "2", "0", "3m12s"], ["a-new", "1", "0", "10.0s"], ["c-unknown", "5", "0", "unknown"],
                       ["b-empty", "0", "0"]]
    view.invert_sort()
    assert [row[0] for row in shown()] == ["b-empty", "c-unknown", "a-new", "d-old"]
    assert any("round 0.12 s" in row.base_widget.text for row in view.walker)
    assert any("OLDEST▲" in row.base_widget.text for row in view.walker)


def test_batch_queues_keep_measuring_a_queue_once_its_waiting_tasks_are_received(tmp_path):
    # Known only from task-sent events: once those tasks are received the events no longer name the queue, but
    # it stays measured (as on the screen), so its depth and the queue rules follow it down.
    from celerytop.modes.queue_snapshot import QueueSnapshots

    app = make_app("filesystem://localhost//", "fsk", str(tmp_path))
    name = "lat-known"
    sent = app.send_task("tests.add", queue=name).id
    model = ClusterModel(clock=lambda: 5000.0)
    model.on_event(sent_event(sent, 1000.0, name))
    queues = QueueSnapshots(app, model, clock=lambda: 1192.0)
    try:
        first = {q["name"] for q in queues()["queues"]}
        model.on_event(event("task-received", "w1@host", 1001.0, uuid=sent, name="tests.add"))
        assert name not in model.oldest_waiting_sent()
        second = {q["name"]: q["messages"] for q in queues()["queues"]}
    finally:
        queues.close()
        app.close()
    assert name in first and second == {name: 1, "q-fsk": 0}
