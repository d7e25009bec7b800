"""A deterministic Celery event stream in the format real workers send, for the benchmarks.

The cluster: 20 workers (``celery@worker-01`` .. ``celery@worker-20``) and 4
client processes (``gen<pid>@web-N``, the names celery gives publishers).
Tasks arrive at ``rate`` per second of simulated time; each one is

* ``task-sent`` from a client (uuid, root_id, parent_id, name, args, kwargs,
  retries, eta, expires, queue, exchange, routing_key: what
  ``app.amqp.send_task_message`` publishes),
* ``task-received`` and ``task-started`` on one of the workers,
* ``task-succeeded`` (result repr and runtime) or, for 5 %, ``task-failed``
  (exception repr and a traceback of about 2 KB),

with args reprs of 100-350 characters (220 on average) and kwargs reprs of
30-170 (105 on average), 10 % of the tasks children of a recent one (parent_id/root_id set).  Every worker sends
``worker-online`` once, then a ``worker-heartbeat`` every 2 s (freq, active,
processed, loadavg and the software fields, as ``celery.worker.heartbeat``
does).  Everything comes from one ``random.Random(seed)``: the same seed gives
the same stream.

Two outputs:

* :func:`publish` sends the stream through celery's own
  ``app.events.Dispatcher``, one dispatcher (and connection) per hostname as
  in a real cluster; the dispatcher stamps the time, pid and clock itself.
* :func:`write_recording` writes a celerytop recording (celerytop's own
  ``Recorder``) of the events as celery's ``Receiver`` would have delivered
  them: built by ``celery.events.Event`` the way ``EventDispatcher`` builds
  them, JSON round-tripped like a message body, then passed through
  ``EventReceiver.event_from_message`` (clock, timestamp, local_received).

Run it directly to write a recording::

    python benchmarks/workload.py events.jsonl --events 200000
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import math
import os
import random
import sys
import time
from typing import Callable, Iterator, NamedTuple

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from celery.events.event import Event  # noqa: E402

WORKERS = 20
CLIENTS = 4
HEARTBEAT_INTERVAL = 2.0
#: Tasks per second of simulated time (about 4 events each).
TASK_RATE = 250.0
FAILURE_RATE = 0.05
CHILD_RATE = 0.10
#: Simulated time of the first event (2026-09-21): recordings are reproducible.
START = 1_790_000_000.0
#: The workers are in UTC (``celery.utils.time.utcoffset()`` is 0 there).
UTCOFFSET = 0
SOFTWARE = {"sw_ident": "py-celery", "sw_ver": "5.7.0", "sw_sys": "Linux"}

WORKER_HOSTS = tuple(f"celery@worker-{i:02d}" for i in range(1, WORKERS + 1))
CLIENT_HOSTS = tuple(f"gen{4100 + 37 * i}@web-{i}" for i in range(1, CLIENTS + 1))
PIDS = {host: 2000 + 13 * i for i, host in enumerate(WORKER_HOSTS + CLIENT_HOSTS)}
WORKER_EVENTS = frozenset({"worker-online", "worker-heartbeat", "worker-offline"})

#: (task name, relative frequency, queue): a few hot tasks and a long tail.
TASKS = (
    ("shop.orders.tasks.process_order", 30, "orders"),
    ("shop.notifications.tasks.send_email", 25, "notifications"),
    ("shop.analytics.tasks.track_event", 25, "celery"),
    ("shop.inventory.tasks.reserve_stock", 12, "orders"),
    ("shop.notifications.tasks.send_push", 10, "notifications"),
    ("shop.billing.tasks.charge_card", 8, "billing"),
    ("shop.search.tasks.reindex_product", 8, "celery"),
    ("shop.media.tasks.resize_image", 6, "media"),
    ("shop.integrations.tasks.call_webhook", 6, "celery"),
    ("shop.users.tasks.refresh_profile_cache", 5, "celery"),
    ("shop.inventory.tasks.sync_warehouse", 3, "orders"),
    ("shop.billing.tasks.refund_payment", 2, "billing"),
    ("shop.orders.tasks.expire_abandoned_carts", 2, "celery"),
    ("shop.media.tasks.transcode_video", 1, "media"),
    ("shop.reports.tasks.build_daily_report", 1, "reports"),
)
_TASK_WEIGHTS = tuple(itertools.accumulate(weight for _, weight, _ in TASKS))

_EXCEPTIONS = (
    ("ConnectionError", "Connection refused: payments-gw.internal:443"),
    ("TimeoutError", "timed out after 30.0 s waiting for inventory-api"),
    ("KeyError", "'shipping_address'"),
    ("ValueError", "invalid literal for int() with base 10: 'N/A'"),
    ("IntegrityError", 'duplicate key value violates unique constraint "orders_order_ref_key"'),
    ("HTTPError", "503 Server Error: Service Unavailable for url: https://hooks.partner.example/v2/events"),
)
_CELERY_FRAMES = (
    '  File "/srv/shop/venv/lib/python3.11/site-packages/celery/app/trace.py", line 453, in trace_task\n'
    "    R = retval = fun(*args, **kwargs)\n"
    "                 ^^^^^^^^^^^^^^^^^^^^\n"
    '  File "/srv/shop/venv/lib/python3.11/site-packages/celery/app/trace.py", line 736, in __protected_call__\n'
    "    return self.run(*args, **kwargs)\n"
    "           ^^^^^^^^^^^^^^^^^^^^^^^^^\n"
)
_PROJECT_CALLS = (
    ("handle", "result = self.gateway.submit(payload, timeout=self.timeout)"),
    ("submit", "response = self.session.post(url, json=payload, headers=self._headers())"),
    ("load_order", "order = Order.objects.select_related('customer').get(pk=order_id)"),
    ("reserve", "row = self._lock_row(sku, warehouse=warehouse_id, nowait=False)"),
    ("render", "body = template.render(context, request=None)"),
    ("_retrying", "return func(*args, **kwargs)"),
    ("execute", "return self.cursor.execute(sql, params)"),
    ("send", "return self._transport.send(message, recipients=list(recipients))"),
)
_LIBRARY_FILES = (
    "/srv/shop/venv/lib/python3.11/site-packages/requests/adapters.py",
    "/srv/shop/venv/lib/python3.11/site-packages/urllib3/connectionpool.py",
    "/srv/shop/venv/lib/python3.11/site-packages/django/db/backends/utils.py",
    "/srv/shop/venv/lib/python3.11/site-packages/django/db/models/query.py",
    "/srv/shop/venv/lib/python3.11/site-packages/tenacity/__init__.py",
)


class Emitted(NamedTuple):
    """One event as its sender produces it: who sends it, when, and its own fields."""

    at: float  # simulated send time
    hostname: str
    type: str
    fields: dict


# -- realistic field values ------------------------------------------------------------------------------


def _uuid(rng: random.Random) -> str:
    value = rng.getrandbits(128)
    value = (value & ~(0xF000 << 64)) | (4 << 76)  # version 4
    value = (value & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _arg_value(rng: random.Random):
    kind = rng.randrange(6)
    if kind == 0:
        return rng.randrange(1, 10_000_000)
    if kind == 1:
        return _uuid(rng)
    if kind == 2:
        return {"sku": f"SKU-{rng.randrange(100000):05d}", "qty": rng.randrange(1, 9),
                "price": f"{rng.randrange(100, 20000) / 100:.2f}"}
    if kind == 3:
        return f"customer{rng.randrange(1, 500000)}@example.com"
    if kind == 4:
        return f"s3://shop-media/uploads/2026/{rng.randrange(1, 13):02d}/{rng.getrandbits(40):010x}.jpg"
    return [rng.randrange(1, 100000) for _ in range(rng.randrange(2, 6))]


def args_repr(rng: random.Random) -> str:
    """A positional-args repr of 100 to 350 characters, like celery's argsrepr."""
    target = rng.randrange(100, 300)
    args: list = []
    while len(repr(tuple(args))) < target:
        args.append(_arg_value(rng))
    return repr(tuple(args))


def kwargs_repr(rng: random.Random) -> str:
    """A kwargs repr of 30 to 170 characters."""
    choices = (
        ("request_id", lambda: _uuid(rng)),
        ("user_id", lambda: rng.randrange(1, 500000)),
        ("locale", lambda: rng.choice(("en_US", "de_DE", "fr_FR", "pt_BR"))),
        ("priority", lambda: rng.randrange(0, 10)),
        ("dry_run", lambda: rng.random() < 0.1),
        ("source", lambda: rng.choice(("web", "api", "cron", "admin"))),
        ("tenant", lambda: f"tenant-{rng.randrange(1, 300)}"),
    )
    target = rng.randrange(30, 150)
    kwargs: dict = {}
    for key, make in rng.sample(choices, len(choices)):
        kwargs[key] = make()
        if len(repr(kwargs)) >= target:
            break
    return repr(kwargs)


def result_repr(rng: random.Random) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        return "None"
    if kind == 1:
        return "True"
    if kind == 2:
        return repr(rng.randrange(1, 10_000_000))
    if kind == 3:
        return repr({"status": "ok", "id": rng.randrange(1, 10_000_000), "elapsed_ms": rng.randrange(1, 5000)})
    return repr(f"sent:{_uuid(rng)}")


def failure(rng: random.Random, name: str) -> tuple[str, str]:
    """(exception repr, traceback) as a worker reports a failed task; tracebacks of 1.6-2.4 KB, 2 KB on average."""
    exc_type, message = rng.choice(_EXCEPTIONS)
    module_path = "/srv/shop/" + "/".join(name.split(".")[:-1]) + ".py"
    function = name.rsplit(".", 1)[-1]
    lines = ["Traceback (most recent call last):\n", _CELERY_FRAMES,
             f'  File "{module_path}", line {rng.randrange(20, 400)}, in {function}\n',
             f"    {rng.choice(_PROJECT_CALLS)[1]}\n"]
    target = rng.randrange(1600, 2200)
    size = sum(map(len, lines))
    while size < target:
        func, call = rng.choice(_PROJECT_CALLS)
        path = rng.choice(_LIBRARY_FILES + (module_path,))
        frame = f'  File "{path}", line {rng.randrange(20, 900)}, in {func}\n    {call}\n'
        lines.append(frame)
        size += len(frame)
    lines.append(f"{exc_type}: {message}\n")
    return f"{exc_type}({message!r})", "".join(lines)


def _task_name(rng: random.Random) -> tuple[str, str]:
    pick = rng.random() * _TASK_WEIGHTS[-1]
    for (name, _, queue), limit in zip(TASKS, _TASK_WEIGHTS):
        if pick < limit:
            return name, queue
    return TASKS[-1][0], TASKS[-1][2]


# -- the stream ------------------------------------------------------------------------------------------


class _Cluster:
    """Simulated time: a heap of events still to be sent, in send order."""

    def __init__(self, rng: random.Random, start: float):
        self.rng = rng
        self.heap: list = []
        self.seq = itertools.count()
        self.pending_task_events = 0
        self.active = dict.fromkeys(WORKER_HOSTS, 0)
        self.processed = dict.fromkeys(WORKER_HOSTS, 0)
        self.recent: list = []  # (uuid, root_id) of recent tasks, for children
        for index, host in enumerate(WORKER_HOSTS):
            self.push(start + 0.01 * index, host, "worker-online", None)
            self.push(start + 0.2 + 0.09 * index, host, "worker-heartbeat", None)

    def push(self, at: float, hostname: str, type_: str, fields) -> None:
        heapq.heappush(self.heap, (at, next(self.seq), hostname, type_, fields))
        if fields is not None:
            self.pending_task_events += 1

    def add_task(self, at: float) -> None:
        """Schedule one task's whole life from its task-sent at ``at``."""
        rng = self.rng
        uuid = _uuid(rng)
        name, queue = _task_name(rng)
        root_id, parent_id = uuid, None
        if self.recent and rng.random() < CHILD_RATE:
            parent_id, root_id = rng.choice(self.recent)
        self.recent.append((uuid, root_id))
        if len(self.recent) > 200:
            del self.recent[:100]
        args, kwargs = args_repr(rng), kwargs_repr(rng)
        client = rng.choice(CLIENT_HOSTS)
        worker = rng.choice(WORKER_HOSTS)
        received = at + rng.expovariate(1 / 0.004)
        started = received + rng.expovariate(1 / 0.010)
        runtime = min(rng.lognormvariate(math.log(0.15), 1.0), 120.0)
        self.push(at, client, "task-sent", {
            "uuid": uuid, "root_id": root_id, "parent_id": parent_id, "name": name,
            "args": args, "kwargs": kwargs, "retries": 0, "eta": None, "expires": None,
            "queue": queue, "exchange": "", "routing_key": queue,
        })
        self.push(received, worker, "task-received", {
            "uuid": uuid, "name": name, "args": args, "kwargs": kwargs,
            "root_id": root_id, "parent_id": parent_id, "retries": 0, "eta": None, "expires": None,
        })
        self.push(started, worker, "task-started", {"uuid": uuid})
        if rng.random() < FAILURE_RATE:
            exception, traceback = failure(rng, name)
            self.push(started + runtime, worker, "task-failed",
                      {"uuid": uuid, "exception": exception, "traceback": traceback})
        else:
            self.push(started + runtime, worker, "task-succeeded",
                      {"uuid": uuid, "result": result_repr(rng), "runtime": runtime})

    def pop(self) -> Emitted:
        at, _, hostname, type_, fields = heapq.heappop(self.heap)
        if fields is None:  # a worker event: its figures are the worker's as of now
            if type_ == "worker-heartbeat":
                self.push(at + HEARTBEAT_INTERVAL, hostname, type_, None)
            load = 0.5 + self.active[hostname] / 4
            fields = {"freq": HEARTBEAT_INTERVAL, "active": self.active[hostname],
                      "processed": self.processed[hostname],
                      "loadavg": [round(load, 2), round(load * 0.9, 2), round(load * 0.8, 2)], **SOFTWARE}
        else:
            self.pending_task_events -= 1
            if type_ == "task-received":
                self.processed[hostname] += 1
            elif type_ == "task-started":
                self.active[hostname] += 1
            elif type_ in ("task-succeeded", "task-failed"):
                self.active[hostname] -= 1
        return Emitted(at, hostname, type_, fields)


def stream(seed: int = 7, tasks: int | None = None, rate: float = TASK_RATE,
           start: float = START) -> Iterator[Emitted]:
    """The cluster's events in send order; endless, or ending once ``tasks`` tasks have finished.

    Take the first N events with ``itertools.islice(stream(), N)``.
    """
    rng = random.Random(seed)
    cluster = _Cluster(rng, start)
    arrivals = itertools.count() if tasks is None else iter(range(tasks))
    next_arrival = start + 0.5
    arriving = next(arrivals, None) is not None
    while True:
        while arriving and next_arrival <= cluster.heap[0][0]:
            cluster.add_task(next_arrival)
            next_arrival += rng.expovariate(rate)
            arriving = next(arrivals, None) is not None
        yield cluster.pop()
        if not arriving and cluster.pending_task_events == 0:
            return


# -- as the Receiver delivers them -------------------------------------------------------------------------


def _receiver():
    """A celery ``EventReceiver`` never connected: used only for its ``event_from_message``."""
    from celery import Celery

    app = Celery("celerytop-bench-workload", broker="memory://", set_as_current=False)
    return app.events.Receiver(None, handlers={})


def receiver_events(emitted: Iterator[Emitted], seed: int = 7) -> Iterator[dict]:
    """Each event as celery's ``Receiver`` hands it to its handler.

    The body is built as ``EventDispatcher`` builds it (``celery.events.Event``
    with hostname, utcoffset, pid and the Lamport clock, stamped with the
    simulated send time), JSON round-tripped as the message body is, then
    given to ``EventReceiver.event_from_message``, which rewrites task-sent's
    clock, adjusts the timestamp and adds ``local_received`` (0.2-3 ms later).
    """
    receiver = _receiver()
    dumps, loads = json.dumps, json.loads
    from_message = receiver.event_from_message
    for body, arrived in sent_bodies(emitted, seed):
        _, event = from_message(loads(dumps(body)), now=lambda: arrived)
        yield event


def sent_bodies(emitted: Iterator[Emitted], seed: int = 7) -> Iterator[tuple]:
    """(body, arrival time) of each event: the body as ``EventDispatcher`` publishes it, before any broker."""
    from kombu.clocks import LamportClock

    transit = random.Random(seed * 7919 + 1)
    cluster_clock = LamportClock()  # the dispatchers' shared clock, as in publish()
    for item in emitted:
        body = Event(item.type, hostname=item.hostname, utcoffset=UTCOFFSET, pid=PIDS[item.hostname],
                     clock=cluster_clock.forward(), __now__=lambda at=item.at: at, **item.fields)
        yield body, item.at + transit.uniform(0.0002, 0.003)


def write_recording(path: str, n_events: int, seed: int = 7) -> int:
    """Write the first ``n_events`` events as a celerytop recording (gzip if ``path`` ends in .gz).

    Uses celerytop's own ``Recorder``; an existing file is replaced, not appended to.
    """
    from celerytop.events.recording.writer import Recorder

    if os.path.exists(path):
        os.remove(path)
    written = 0
    with Recorder(path) as recorder:
        for event in receiver_events(itertools.islice(stream(seed), n_events), seed):
            recorder.record(event)
            written += 1
    if recorder.error:
        raise OSError(recorder.error)
    return written


# -- through a broker --------------------------------------------------------------------------------------


def publish(app, n_events: int, seed: int = 7, task_batch: int = 1,
            on_progress: Callable[[int], object] | None = None, progress_every: int = 1000) -> int:
    """Send the first ``n_events`` events through ``app.events.Dispatcher`` onto ``app``'s broker.

    One dispatcher, on its own connection, per hostname, as workers and
    clients do; they stamp timestamp, pid and clock themselves.  With
    ``task_batch`` > 1 the worker dispatchers buffer task events and send them
    as lists of up to that many, like a prefork worker's (``buffer_group``);
    otherwise every event is its own message.  ``on_progress(sent)`` is
    called every ``progress_every`` events (to pace a publisher), and a
    failed publish raises instead of being buffered.  Returns the events sent.
    """
    dispatchers: dict = {}
    connections = []

    def dispatcher_for(hostname):
        dispatcher = dispatchers.get(hostname)
        if dispatcher is None:
            connection = app.connection_for_write()
            connections.append(connection)
            buffered = task_batch > 1 and hostname in WORKER_HOSTS
            dispatcher = dispatchers[hostname] = app.events.Dispatcher(
                connection, hostname=hostname, buffer_while_offline=False,
                buffer_group=["task"] if buffered else None, buffer_limit=task_batch,
            )
        return dispatcher

    sent = 0
    try:
        for item in itertools.islice(stream(seed), n_events):
            dispatcher = dispatcher_for(item.hostname)
            if item.type == "task-sent":
                # a client publishes task-sent with its task message's producer
                dispatcher.publish(item.type, item.fields, dispatcher.producer)
            else:
                dispatcher.send(item.type, **item.fields)
            sent += 1
            if on_progress is not None and sent % progress_every == 0:
                for buffered in dispatchers.values():
                    buffered.flush(errors=False)
                on_progress(sent)
        for dispatcher in dispatchers.values():
            dispatcher.flush()
        if on_progress is not None:
            on_progress(sent)
    finally:
        for dispatcher in dispatchers.values():
            dispatcher.close()
        for connection in connections:
            connection.release()
    return sent


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", help="recording to write (.gz for gzip)")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args(argv)
    started = time.perf_counter()
    written = write_recording(options.path, options.events, options.seed)
    print(f"{written} events written to {options.path} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
