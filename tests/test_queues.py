"""Queue depths, purge and migrate against the real brokers; history and naming without one.

Nothing consumes: messages published with ``send_task`` wait in their queue,
so the broker's count is exactly what was published.
"""

from __future__ import annotations

import json
import socket
from concurrent.futures import Future

import pytest
import redis

from celerytop.control.queues.migrate import migrate
from celerytop.control.queues.names import consumers_by_queue, queue_names
from celerytop.control.queues.probe import NOT_DECLARED, DepthProbe, QueueDepth
from celerytop.control.queues.trend import DepthHistory
from tests.live import wait_until
from tests.liveapp import make_app
from tests.test_key_safety import make_app as make_monitor_app

REDIS_URL = "redis://127.0.0.1:6379/0"
PRIORITY_SEP = "\x06\x16"  # kombu's redis transport: queue + sep + step holds that priority


def publish(app, name: str, count: int, **options) -> None:
    for _ in range(count):
        app.send_task("tests.add", args=(1, 2), queue=name, **options)


def settled(probe: DepthProbe, names: list[str], expected: list[int | None]) -> list[QueueDepth]:
    """Measure until the counts are ``expected`` (RabbitMQ counts another connection's publishes late)."""
    depths: list[QueueDepth] = []

    def matches():
        depths[:] = probe.measure(names)
        return [d.messages for d in depths] == expected

    try:
        wait_until(matches, timeout=5, interval=0.05)
    except AssertionError:
        pass  # the assert below shows what was measured
    assert [d.messages for d in depths] == expected, depths
    return depths


def delete_amqp_queues(live, names) -> None:
    """Delete what send_task declared on RabbitMQ (LiveBroker.cleanup only knows the default queue)."""
    if live.name != "rabbitmq":
        return  # redis keys carry the namespace (LiveBroker.cleanup), filesystem is a tmp folder
    with live.app.connection_for_write() as conn:
        channel = conn.channel()
        for name in names:
            channel.queue_delete(name)
            channel.exchange_delete(name)
        channel.close()


@pytest.fixture
def qnames(broker):
    names = [f"{prefix}-{broker.ns}" for prefix in ("qa", "qb", "qnone")]
    yield names
    delete_amqp_queues(broker, names)


@pytest.fixture
def probe(broker):
    made = DepthProbe(broker.app)
    yield made
    made.close()


def redis_client():
    return redis.Redis.from_url(REDIS_URL)


# -- depth on every broker ---------------------------------------------------------


def test_depth_counts_the_messages_published_to_each_queue(broker, qnames, probe):
    qa, qb, _ = qnames
    publish(broker.app, qa, 3)
    publish(broker.app, qb, 5)

    depths = settled(probe, [qa, qb], [3, 5])

    assert [d.name for d in depths] == [qa, qb]
    consumers = 0 if broker.name == "rabbitmq" else None  # only AMQP reports consumers
    assert [(d.consumers, d.error) for d in depths] == [(consumers, ""), (consumers, "")]


def test_a_queue_never_declared(broker, qnames, probe):
    qa, _, missing = qnames
    publish(broker.app, qa, 2)
    settled(probe, [qa], [2])

    first, after = probe.measure([missing, qa])

    if broker.name == "rabbitmq":
        assert first == QueueDepth(missing, None, None, NOT_DECLARED)
    else:  # an empty queue has no key / no files: nothing waits, which is no error
        assert first == QueueDepth(missing, 0, None, "")
    assert after.messages == 2 and after.error == ""  # the 404 cost the channel, not the probe
    assert probe.measure([qa])[0].messages == 2


def test_purge_empties_only_that_queue(broker, qnames, probe):
    qa, qb, _ = qnames
    publish(broker.app, qa, 3)
    publish(broker.app, qb, 2)
    settled(probe, [qa, qb], [3, 2])

    assert probe.purge(qa) == 3

    assert [d.messages for d in probe.measure([qa, qb])] == [0, 2]
    assert probe.purge(qa) == 0


@pytest.mark.parametrize("kind", ["filesystem", "redis", "rabbitmq"])
def test_measure_reports_an_unreachable_broker_per_queue(kind, tmp_path):
    with socket.socket() as free:  # a port nothing listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    url = {"filesystem": "filesystem://localhost//", "redis": f"redis://127.0.0.1:{port}/0",
           "rabbitmq": f"amqp://guest:guest@127.0.0.1:{port}//"}[kind]
    app = make_app(url, "unreachable", str(tmp_path))
    if kind == "filesystem":  # its folder gone
        app.conf.broker_transport_options = dict(app.conf.broker_transport_options,
                                                 data_folder_in=str(tmp_path / "gone"))
    probe = DepthProbe(app)
    try:
        depths = probe.measure(["a", "b"])
        assert [(d.name, d.messages, d.consumers) for d in depths] == [("a", None, None), ("b", None, None)]
        assert all(d.error and "\n" not in d.error for d in depths), depths
        assert probe.measure(["a"])[0].error  # still no exception the second time
    finally:
        probe.close()
        app.close()


def test_a_dropped_amqp_connection_is_reopened(make_broker):
    live = make_broker("rabbitmq")
    name = f"qa-{live.ns}"
    probe = DepthProbe(live.app)
    try:
        publish(live.app, name, 2)
        settled(probe, [name], [2])
        # the broker going away under the probe: its socket dies
        probe._connection.connection.transport.sock.shutdown(socket.SHUT_RDWR)

        assert probe.measure([name]) == [QueueDepth(name, 2, 0, "")]
    finally:
        probe.close()
        delete_amqp_queues(live, [name])


# -- redis specifics ---------------------------------------------------------------


def test_redis_counts_every_priority_sub_queue(make_broker):
    live = make_broker("redis")
    live.app.conf.broker_transport_options = {"priority_steps": list(range(10)),
                                              "queue_order_strategy": "priority"}
    name = f"qp-{live.ns}"
    for priority in (0, 0, 3, 7, 9):
        publish(live.app, name, 1, priority=priority)
    client = redis_client()
    probe = DepthProbe(live.app)
    try:
        assert client.llen(name) == 2  # LLEN of the queue's own key misses the rest
        for step in (3, 7, 9):
            assert client.llen(f"{name}{PRIORITY_SEP}{step}") == 1

        assert probe.measure([name]) == [QueueDepth(name, 5, None, "")]

        assert probe.purge(name) == 5
        assert [k for k in client.scan_iter(match=f"{name}*")] == []
    finally:
        probe.close()
        client.close()


def test_redis_honours_the_global_keyprefix(make_broker):
    live = make_broker("redis")
    prefix = f"pfx-{live.ns}:"
    live.app.conf.broker_transport_options = {"global_keyprefix": prefix}
    name, other = f"qk-{live.ns}", f"qo-{live.ns}"
    publish(live.app, name, 3)
    publish(live.app, other, 1)
    client = redis_client()
    probe = DepthProbe(live.app)
    try:
        assert client.llen(name) == 0  # what a probe ignoring the prefix would say
        assert client.llen(prefix + name) == 3

        assert probe.measure([name, other]) == [QueueDepth(name, 3, None, ""), QueueDepth(other, 1, None, "")]

        assert probe.purge(name) == 3
        assert client.llen(prefix + name) == 0 and client.llen(prefix + other) == 1
    finally:
        probe.close()
        client.close()


# -- migrate ---------------------------------------------------------------------------


def test_migrate_moves_messages_from_filesystem_to_redis(make_broker):
    source, destination = make_broker("filesystem"), make_broker("redis")
    name = f"mq-{source.ns}-{destination.ns}"  # the destination's namespace: its cleanup finds the keys
    publish(source.app, name, 4)
    seen: list[int] = []

    moved = migrate(source.app, destination.url, queues=[name], progress=seen.append)

    assert moved == 4
    assert seen == [1, 2, 3, 4]
    client = redis_client()
    try:  # a task message still, for the destination's workers
        assert json.loads(client.lindex(name, 0))["headers"]["task"] == "tests.add"
    finally:
        client.close()
    for app, expected in ((source.app, 0), (destination.app, 4)):
        probe = DepthProbe(app)
        try:
            assert probe.measure([name]) == [QueueDepth(name, expected, None, "")]
        finally:
            probe.close()


@pytest.mark.parametrize("url", ["", "nonsense", "foo://host", "redis://host:notaport/0"])
def test_migrate_refuses_a_bad_url_in_one_line(fs, url):
    with pytest.raises(ValueError) as caught:
        migrate(fs.app, url, queues=["q"])
    assert "\n" not in str(caught.value)


def test_migrate_refuses_the_source_broker_itself(fs):
    with pytest.raises(ValueError, match="is the source broker"):
        migrate(fs.app, fs.url, queues=["q"])


# -- DepthHistory (no broker) ----------------------------------------------------------


def history_of(values, step=1.0, start=100.0, name="q"):
    history = DepthHistory()
    for index, value in enumerate(values):
        history.add(name, start + index * step, value)
    return history


def test_sparkline_scales_from_zero_to_the_maximum():
    history = history_of([0, 1, 2, 4, 8])
    assert history.sparkline("q", 10) == " ▁▂▄█"
    assert history.sparkline("q", 3) == "▂▄█"  # the newest samples
    assert history_of([100, 1]).sparkline("q", 5) == "█▁"  # small is still visible
    assert history_of([0, 0, 0]).sparkline("q", 5) == "   "
    assert DepthHistory().sparkline("q", 5) == ""
    assert history.sparkline("q", 0) == ""


def test_samples_older_than_the_window_are_dropped():
    history = DepthHistory(window=10)
    for when in range(0, 30, 5):
        history.add("q", when, when)
    assert [when for when, _ in history.samples("q")] == [15, 20, 25]


def test_rate_is_the_least_squares_slope_over_the_span():
    assert history_of([100]).rate("q") is None
    assert history_of([100, 90, 80, 70]).rate("q") == pytest.approx(-10)
    # one outlier moves a fit less than it moves newest-minus-oldest
    assert history_of([0, 10, 20, 30, 100]).rate("q") == pytest.approx(22)
    # only the last `span` seconds: an old flat stretch does not dilute a new climb
    history = history_of([5] * 50 + [10, 20, 30])
    assert history.rate("q", span=2) == pytest.approx(10)


def test_trend_wording():
    assert history_of([]).trend("q") == ""
    assert history_of([7]).trend("q") == ""
    assert history_of([4800, 4400, 4000, 3600]).trend("q") == "draining 400/s, empty in ~9 s"
    assert history_of([9600, 7200, 4800], step=60).trend("q", span=600) == "draining 40/s, empty in ~2 min"
    assert history_of([30, 42, 54]).trend("q") == "growing 12/s"
    assert history_of([5, 5, 6, 5, 5]).trend("q") == "steady"
    assert history_of([0, 0, 0]).trend("q") == "steady"
    assert history_of([100, 50, 0]).trend("q") == "draining 50/s, empty now"


# -- queue names and consumers (no broker) ---------------------------------------------


def queue_dict(name, exchange_type="direct", exchange=None):
    """One queue as ``inspect active_queues`` returns it (kombu's Queue.as_dict(recurse=True))."""
    return {
        "name": name,
        "exchange": {"name": exchange if exchange is not None else name, "type": exchange_type,
                     "arguments": None, "durable": True, "passive": False, "auto_delete": False,
                     "delivery_mode": None, "no_declare": False},
        "routing_key": name, "queue_arguments": None, "binding_arguments": None,
        "consumer_arguments": None, "durable": True, "exclusive": False,
        "auto_delete": exchange_type == "fanout", "no_ack": False, "alias": None, "bindings": [],
        "no_declare": None, "expires": None, "message_ttl": None, "max_length": None,
        "max_length_bytes": None, "max_priority": None,
    }


REPLIES = {
    "w2@host": [queue_dict("celery"), queue_dict("images")],
    "w1@host": [queue_dict("celery"), queue_dict("bcast.5f1c2a", "fanout", "broadcast_tasks"),
                queue_dict("reload", "fanout")],  # Broadcast('reload', unique=False): named, still fanout
    "w3@host": {"error": "No handler for 'active_queues'"},  # an old or broken worker
    "w4@host": None,
}


def test_consumers_by_queue_turns_the_replies_around():
    assert consumers_by_queue(REPLIES) == {
        "celery": ["w1@host", "w2@host"],
        "images": ["w2@host"],
        "bcast.5f1c2a": ["w1@host"],
        "reload": ["w1@host"],
    }
    assert consumers_by_queue({}) == {}


def test_queue_names_joins_workers_and_configuration(fs):
    from kombu import Exchange, Queue
    from kombu.common import Broadcast

    app = fs.app
    app.conf.task_default_queue = "default"
    app.conf.task_queues = [Queue("default"), Queue("video", Exchange("media"), "video"),
                            Broadcast("broadcast_tasks")]
    app.conf.task_routes = [
        {"tasks.thumb": {"queue": "thumbs"}, "tasks.mail": "mail", "tasks.*": {"exchange": "x"},
         "tasks.q": {"queue": Queue("qobj")}},
        "myapp.routers.route_task",  # a router's import path, not a queue
        lambda name, args, kwargs, options, task=None, **kw: {"queue": "never-called"},
    ]

    assert queue_names(app, REPLIES) == ["celery", "default", "images", "mail", "qobj", "thumbs", "video"]


def test_queue_names_without_workers_is_the_default_queue(fs):
    assert queue_names(fs.app, {}) == [fs.app.conf.task_default_queue]
    fs.app.conf.task_routes = {"tasks.a": "alpha", "tasks.b": {"queue": "celeryev.x"}}
    internal_only = {"w@h": [queue_dict("ctl.pidbox")]}
    assert queue_names(fs.app, internal_only) == ["alpha", fs.app.conf.task_default_queue]


# -- the queues view's sampler (no broker) ---------------------------------------------


class DeferredExecutor:
    """Runs what was submitted only when told, as a busy sampler thread would: the UI thread moves on meanwhile."""

    def __init__(self):
        self.pending = []

    def submit(self, fn, *args):
        future = Future()
        self.pending.append((future, fn, args))
        return future

    def run(self):
        pending, self.pending = self.pending, []
        for future, fn, args in pending:
            future.set_result(fn(*args))


class RecordingProbe:
    def __init__(self):
        self.asked = []

    def measure(self, names):
        self.asked.append(list(names))
        return [QueueDepth(name, 3, None) for name in names]


def test_the_sampler_measures_the_names_it_was_handed_not_the_ui_threads_list():
    app, _ = make_monitor_app()
    monitor = app.queues
    monitor._executor, monitor._probe = DeferredExecutor(), RecordingProbe()
    monitor.names = ["known"]
    monitor.start()
    monitor.names.append("appended-later")  # the UI thread changes its list in place...
    monitor.names = ["rebound-later"]  # ...or replaces it, before the sampler gets to run
    monitor._executor.run()
    assert monitor._probe.asked == [["celery", "known"]]
    assert monitor.names == ["celery", "known"] and monitor.depths["known"].messages == 3
    assert monitor.sampled_at is not None and monitor.error == ""
