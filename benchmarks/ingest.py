"""Ingest throughput: celerytop against celery's own ``State`` on the same stream, in one run.

    python benchmarks/ingest.py [--events N] [--brokers redis,rabbitmq] [--replay-only | --no-replay]
                                [--profile] [--task-batch N]

Replay (no broker): the workload's recording is loaded, then every event (a
fresh dict copy each) goes to celery ``State.event`` (the baseline: what
``celery events`` and Flower keep) and to celerytop's ``ClusterModel.on_event``;
then both again straight from the file with ``replay_all``, which is what
``celerytop --replay FILE --speed 0 --batch`` does (read + JSON parse + model).

Brokers: for each, N events are published through celery's own dispatcher
(``workload.publish``) and drained by, in turn, (a) a ``Receiver`` with a no-op
handler, (b) ``Receiver`` + celery ``State`` (the baseline) and (c) celerytop's
``EventCapture`` -> ``ClusterModel`` (the real path), each in its own spawned
process, which counts exactly N events (and any extra in the next 0.5 s)
and reports its CPU time (``time.process_time``, the whole process) from
consume-ready, and its wall time from the first event, to the N-th event.

* RabbitMQ: a backlog.  The consumer's queue is declared first, with the
  Receiver's own declaration and node id, N events are published into it,
  then the consumer starts and drains it.  For that the bench app (on
  RabbitMQ only; Redis keeps celery's defaults) declares the queue
  non-exclusive (celery's default, exclusive, ties it to the
  declaring connection), with no message TTL (celery's default 5 s would
  expire most of the backlog) and an hour's x-expires (the default 60 s
  could delete it, unconsumed, during a long publish).  A consumer cannot
  simply subscribe and stop reading meanwhile: RabbitMQ reset the
  connection of one that held while 200,000 events were published (20,000
  went through).
* Redis: celery sends events to a fanout exchange, which kombu's Redis
  transport implements with PUBLISH/SUBSCRIBE: nothing is queued for a
  consumer that is not subscribed, and Redis cuts off a subscriber whose
  output buffer passes 32 MB (or 8 MB for 60 s).  So the consumer subscribes
  first and holds before its first event until the publisher has sent a
  chunk of ``--chunk`` events (2,000, about 2 MB); it drains that chunk and
  holds again at its end until the next one is fully sent, so it drains
  backlogs of one chunk each with at most two in flight.  CPU and wall time
  spent holding are left out.

The benchmark app uses its own event and control exchanges
(``celerytop.bench.ev``, ``celerytop.bench``) and Redis database 14, so it
neither sees nor wakes any other cluster on the same brokers.  Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import logging
import multiprocessing
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import workload  # noqa: E402
from benchapp import CONTROL_EXCHANGE, EVENT_EXCHANGE, make_app  # noqa: E402,F401

TARGET = 2.5
BROKER_URLS = {
    "redis": "redis://127.0.0.1:6379/14",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
}
#: Seconds a consumer keeps reading after its N-th event, to count any extra.
GRACE = 0.5
LABELS = {
    "noop": "(a) Receiver, no-op handler",
    "state": "(b) Receiver + celery State (baseline)",
    "flower": "(d) Receiver + Flower EventsState",
    "celerytop": "(c) celerytop EventCapture -> ClusterModel",
}
SPAWN = multiprocessing.get_context("spawn")


def flower_installed() -> bool:
    return importlib.util.find_spec("flower") is not None


def make_handler(kind: str, max_tasks: int, max_failures: int, clock=None):
    """(holder, handler) for one consumer kind; holder is what keeps the tasks (None for no-op)."""
    if kind == "noop":
        return None, lambda event: None
    if kind == "state":
        from celery.events.state import State

        state = State(max_tasks_in_memory=max_tasks)
        return state, state.event
    if kind == "flower":
        from flower.events import EventsState

        state = EventsState(max_tasks_in_memory=max_tasks)
        return state, state.event
    if kind == "celerytop":
        from celerytop.model.cluster import ClusterModel

        model = ClusterModel(max_tasks=max_tasks, max_failures=max_failures,
                             **({"clock": clock} if clock is not None else {}))
        return model, model.on_event
    raise ValueError(kind)


def tasks_kept(holder) -> int | None:
    if holder is None:
        return None
    tasks = getattr(holder, "tasks", None)
    if tasks is None:  # ClusterModel
        return holder.summary().task_count
    return len(tasks)


def run_in_subprocess(function, *args):
    """``function(*args)`` in a fresh spawned interpreter; its return value."""
    with SPAWN.Pool(1) as pool:
        return pool.apply(function, args)


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:12,.0f}" if seconds > 0 else f"{'-':>12}"


# -- replay, no broker -------------------------------------------------------------------------------------


def replay_run(path: str, kind: str, source: str, max_tasks: int, max_failures: int) -> dict:
    """In a fresh process: feed the recording to one handler; CPU and wall seconds of the feeding only."""
    from celerytop.events.recording.clock import ReplayClock
    from celerytop.events.recording.reader import read_events, replay_all

    clock = None
    if kind == "celerytop" and source == "file":
        clock = ReplayClock()  # what --replay gives the model
    holder, handler = make_handler(kind, max_tasks, max_failures, clock)
    if clock is not None:
        handler = clock.follow(handler)
    if source == "memory":
        copies = [dict(event) for event in read_events(path)]
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        for event in copies:
            handler(event)
        count = len(copies)
    else:
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        count = replay_all(path, handler)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"count": count, "cpu": cpu, "wall": wall, "kept": tasks_kept(holder)}


def profile_run(path: str, max_tasks: int, max_failures: int, top: int = 15) -> str:
    """In a fresh process: cProfile of ClusterModel.on_event over the recording (in-memory copies)."""
    import cProfile
    import io
    import pstats

    from celerytop.events.recording.reader import read_events

    _, handler = make_handler("celerytop", max_tasks, max_failures)
    copies = [dict(event) for event in read_events(path)]
    profiler = cProfile.Profile()
    profiler.enable()
    for event in copies:
        handler(event)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def print_pair(title: str, results: dict, kinds) -> None:
    print(f"  {title}")
    for kind in kinds:
        result = results[kind]
        label = "celery State.event (baseline)" if kind == "state" else (
            "celerytop ClusterModel.on_event" if kind == "celerytop" else "Flower EventsState.event")
        print(f"    {label:<40}{rate(result['count'], result['cpu'])}  {rate(result['count'], result['wall'])}"
              f"  {result['cpu']:8.2f}  {result['kept']:>8,}")
    ratio = (results["celerytop"]["count"] / results["celerytop"]["cpu"]) / (
        results["state"]["count"] / results["state"]["cpu"])
    print(f"    ratio celerytop / State (events per CPU-s): {ratio:.2f}x")


def replay_section(options, path: str) -> None:
    kinds = ["state", "celerytop"] + (["flower"] if flower_installed() else [])
    size = os.path.getsize(path) / 1e6
    print(f"Replay, no broker: {options.events:,} events from a {size:.0f} MB recording; "
          f"State(max_tasks_in_memory={options.max_tasks:,}), "
          f"ClusterModel(max_tasks={options.max_tasks:,}, max_failures={options.max_failures:,})")
    print(f"    {'':<40}{'events/CPU-s':>12}  {'events/s':>12}  {'CPU s':>8}  {'kept':>8}")
    for source, title in (("memory", "in-memory event dicts (a fresh copy each): the model alone"),
                          ("file", "from the file with replay_all (read + JSON parse + handler), "
                                   "as --replay FILE --speed 0 --batch")):
        results = {kind: run_in_subprocess(replay_run, path, kind, source, options.max_tasks,
                                           options.max_failures) for kind in kinds}
        print_pair(title, results, kinds)
    if options.profile:
        print("\ncProfile of ClusterModel.on_event over the recording (in-memory copies), "
              "top 15 by cumulative time:")
        print(run_in_subprocess(profile_run, path, options.max_tasks, options.max_failures))


# -- through a broker --------------------------------------------------------------------------------------


class Shared:
    """What the publisher and a consumer process share: progress, the gate, readiness."""

    def __init__(self, events: int):
        self.events = events
        self.progress = SPAWN.RawValue("q", 0)  # events the consumer has handled (every 256)
        self.gate = SPAWN.RawValue("q", 0)  # events the consumer may handle so far
        self.ready = SPAWN.Event()  # the consumer's queue is declared and consumed
        self.results = SPAWN.Queue()


def consume(kind: str, broker_url: str, node_id: str, shared: Shared, max_tasks: int, max_failures: int) -> None:
    """In its own process: drain ``shared.events`` events with one consumer kind, report to ``shared.results``."""
    logging.getLogger("celery.events.state").setLevel(logging.ERROR)  # backlog heartbeats 'drift'
    app = make_app(broker_url)
    holder, handle = make_handler(kind, max_tasks, max_failures)
    n = shared.events
    progress, gate = shared.progress, shared.gate
    marks: dict = {"held": 0.0, "held_cpu": 0.0}
    done = threading.Event()
    count = 0
    allowed = 0

    def on_ready():
        marks["cpu0"] = time.process_time()
        shared.ready.set()

    def counted(event):
        nonlocal count, allowed
        if count >= allowed:
            marks.setdefault("wall0", time.perf_counter())
            progress.value = count
            held, held_cpu = time.perf_counter(), time.process_time()
            while gate.value <= count:  # hold until the publisher has sent the next chunk
                time.sleep(0.002)
            marks["held"] += time.perf_counter() - held
            marks["held_cpu"] += time.process_time() - held_cpu
            allowed = gate.value
        count += 1
        handle(event)
        if not count & 255:
            progress.value = count
        if count == n:
            marks["cpu1"], marks["wall1"] = time.process_time(), time.perf_counter()
            progress.value = count
            done.set()

    if kind == "celerytop":
        from celerytop.events.capture import RETRYING, ConnectionStatus, EventCapture

        source = EventCapture(app, counted, ConnectionStatus(), on_connected=on_ready)
        source.node_id = node_id
        source.start()
        stop = source.stop

        def capture_failed():
            snapshot = source.status.snapshot()
            return f"capture lost its connection ({snapshot.error})" if snapshot.state == RETRYING else ""
    else:
        connection = app.connection_for_read()
        receiver = app.events.Receiver(connection, handlers={"*": counted}, node_id=node_id)
        declare_ready = receiver.on_consume_ready

        def on_consume_ready(*args, **kwargs):
            declare_ready(*args, **kwargs)
            on_ready()

        receiver.on_consume_ready = on_consume_ready
        thread = threading.Thread(target=receiver.capture, kwargs={"limit": None, "timeout": None, "wakeup": True},
                                  daemon=True)
        thread.start()

        def stop():
            receiver.should_stop = True
            thread.join(5)
            connection.release()

        def capture_failed():
            return "" if thread.is_alive() else "the Receiver's capture ended (see its traceback)"

    while not done.wait(1.0):
        failed = capture_failed()
        if failed:
            stop()
            shared.results.put({"error": f"{failed} after {count:,} events"})
            return
    time.sleep(GRACE)
    stop()
    shared.results.put({
        "count": count,
        "cpu": marks["cpu1"] - marks["cpu0"] - marks["held_cpu"],
        "wall": marks["wall1"] - marks["wall0"] - marks["held"],  # first to N-th event, not holding
        "kept": tasks_kept(holder),
    })


def _start_consumer(kind, url, node_id, shared, options):
    process = SPAWN.Process(target=consume, args=(kind, url, node_id, shared, options.max_tasks, options.max_failures),
                            daemon=True)
    process.start()
    return process


def _finish_consumer(process, shared, timeout: float) -> dict:
    try:
        return shared.results.get(timeout=timeout)
    except Exception:  # noqa: BLE001 - queue.Empty: the consumer never got all its events
        return {"error": f"did not drain {shared.events:,} events within {timeout:.0f} s "
                         f"(got {shared.progress.value:,} or more)"}
    finally:
        if process.is_alive():
            process.join(5)
        if process.is_alive():
            process.terminate()
            process.join()


def _settled_depth(queue, timeout: float = 10.0) -> int:
    """Messages in ``queue`` once the broker has taken in everything published (it lags a little)."""
    deadline = time.monotonic() + timeout
    depth = queue.queue_declare(passive=True)[1]
    while time.monotonic() < deadline:
        time.sleep(0.3)
        settled, depth = depth, queue.queue_declare(passive=True)[1]
        if settled == depth:
            break
    return depth


def _run_backlog(app, kind, url, node_id, shared, options) -> tuple[dict, float]:
    """Declare the consumer's queue, publish N events into it, then start the consumer to drain them."""
    shared.gate.value = options.events + 1  # no holding: it is all there
    with app.connection_for_write() as connection:
        queue = app.events.Receiver(connection, node_id=node_id).queue(connection.default_channel)
        queue.declare()
        try:
            started = time.perf_counter()
            workload.publish(app, options.events, task_batch=options.task_batch)
            published = time.perf_counter() - started
            depth = _settled_depth(queue)
            process = _start_consumer(kind, url, node_id, shared, options)
            result = _finish_consumer(process, shared, timeout=60 + options.events / 500)
            result["backlog"] = depth
        finally:
            try:
                queue.delete()  # normally gone already: auto_delete once its consumer left
            except Exception:  # noqa: BLE001
                pass
    return result, published


def run_broker(kind: str, url: str, options, backlog: bool) -> tuple[dict, float]:
    """Drain N events with one consumer kind; (result, publish seconds).

    ``backlog``: all N published before the consumer starts (RabbitMQ).
    Otherwise the consumer subscribes first and the events go in chunks
    (Redis pub/sub, see the module's docstring).
    """
    chunk = options.chunk
    app = make_app(url)
    shared = Shared(options.events)
    node_id = f"bench-{kind}-{os.getpid()}"
    if backlog:
        return _run_backlog(app, kind, url, node_id, shared, options)
    process = _start_consumer(kind, url, node_id, shared, options)
    if not shared.ready.wait(30):
        process.terminate()
        process.join()
        return {"error": "consumer not consuming within 30 s"}, 0.0

    def pace(sent: int) -> None:
        shared.gate.value = sent + (1 if sent >= options.events else 0)
        deadline = time.monotonic() + 60
        while shared.progress.value < sent - chunk and time.monotonic() < deadline:
            time.sleep(0.001)

    started = time.perf_counter()
    try:
        workload.publish(app, options.events, task_batch=options.task_batch, on_progress=pace, progress_every=chunk)
    except BaseException:
        process.terminate()
        process.join()
        raise
    published = time.perf_counter() - started
    return _finish_consumer(process, shared, timeout=60 + options.events / 500), published


def cleanup(url: str) -> None:
    """Remove the benchmark's own exchanges (RabbitMQ keeps them) and binding keys (Redis)."""
    app = make_app(url)
    names = (EVENT_EXCHANGE, f"{CONTROL_EXCHANGE}.pidbox")
    try:
        with app.connection_for_write() as connection:
            channel = connection.default_channel
            for name in names:
                try:
                    channel.exchange_delete(name)
                except Exception:  # noqa: BLE001 - never declared on this broker
                    channel = connection.channel()
            deadlines = getattr(channel, "keyprefix_binding_deadlines", None)
            if url.startswith("redis") and deadlines:  # kombu's expiry bookkeeping for the queue bindings
                channel.client.zrem(deadlines, *names)
                channel.client.delete(*(channel.keyprefix_binding_permanent % name for name in names))
    except Exception:  # noqa: BLE001
        pass


def print_broker_row(kind: str, result: dict, publish_rate: float) -> None:
    count, cpu = result["count"], result["cpu"]
    note = f"  (backlog {result['backlog']:,} messages)" if "backlog" in result else ""
    print(f"    {LABELS[kind]:<44}{rate(count, cpu)}  {rate(count, result['wall'])}  {cpu:7.2f}"
          f"  {cpu / count * 1e6:8.1f}  {count:>9,}{note}   [published at {publish_rate:,.0f} events/s]")


def broker_section(options, broker: str) -> None:
    url = options.redis_url if broker == "redis" else options.amqp_url
    from kombu.utils.url import maybe_sanitize_url

    kinds = ["noop", "state", "celerytop"] + (["flower"] if flower_installed() else [])
    batching = ("one message per event" if options.task_batch <= 1
                else f"task events in lists of up to {options.task_batch}")
    mode = "backlog drained" if broker == "rabbitmq" else f"pub/sub, drained in chunks of {options.chunk:,}"
    print(f"\n{broker} ({maybe_sanitize_url(url)}): {options.events:,} events, {batching}, {mode}")
    print(f"    {'':<44}{'events/CPU-s':>12}  {'events/s':>12}  {'CPU s':>7}  {'us/event':>8}  {'drained':>9}")
    results = {}
    try:
        for kind in kinds:
            result, published = run_broker(kind, url, options, backlog=broker == "rabbitmq")
            results[kind] = result
            if "error" in result:
                print(f"    {LABELS[kind]:<44}FAILED: {result['error']}")
                continue
            print_broker_row(kind, result, options.events / published)
    finally:
        cleanup(url)
    ok = [k for k in ("noop", "state", "celerytop") if "error" not in results.get(k, {"error": 1})]
    if "state" in ok and "celerytop" in ok:
        per = {k: results[k]["cpu"] / results[k]["count"] for k in ok}
        ratio = per["state"] / per["celerytop"]
        verdict = "met" if ratio >= TARGET else f"not met: {ratio / TARGET:.0%} of it"
        print(f"    ratio (c)/(b), events per CPU-s: {ratio:.2f}x  (target {TARGET}x: {verdict})")
        if "noop" in ok:
            print(f"    beyond the no-op Receiver: State {(per['state'] - per['noop']) * 1e6:.1f} us/event, "
                  f"celerytop {(per['celerytop'] - per['noop']) * 1e6:.1f} us/event")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="events per run (default 200,000)")
    parser.add_argument("--brokers", default="redis,rabbitmq", help="comma-separated: redis, rabbitmq")
    parser.add_argument("--replay-only", action="store_true", help="only the no-broker replay figures")
    parser.add_argument("--no-replay", action="store_true", help="only the broker figures")
    parser.add_argument("--profile", action="store_true", help="add a cProfile of ClusterModel.on_event (replay)")
    parser.add_argument("--task-batch", type=int, default=1,
                        help="workers send task events in lists of up to this many (prefork's buffer_group); "
                             "default 1: one message per event")
    parser.add_argument("--chunk", type=int, default=2000, help="Redis: events published per chunk")
    parser.add_argument("--max-tasks", type=int, default=10000, help="celerytop's default --max-tasks; "
                        "also the State baseline's max_tasks_in_memory (Flower's and celery's default)")
    parser.add_argument("--max-failures", type=int, default=1000, help="celerytop's default --max-failures")
    parser.add_argument("--redis-url", default=BROKER_URLS["redis"])
    parser.add_argument("--amqp-url", default=BROKER_URLS["rabbitmq"])
    return parser.parse_args(argv)


def main(argv=None) -> None:
    options = parse_args(argv)
    print(f"celerytop ingest benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    if not flower_installed():
        print("Flower: not installed (pip install flower to add it as a baseline)")
    if not options.no_replay:
        with tempfile.TemporaryDirectory(prefix="celerytop-bench-") as folder:
            path = os.path.join(folder, "events.jsonl")
            started = time.perf_counter()
            workload.write_recording(path, options.events)
            print(f"recording of {options.events:,} events written in {time.perf_counter() - started:.1f} s\n")
            replay_section(options, path)
    if options.replay_only:
        return
    for broker in [b.strip() for b in options.brokers.split(",") if b.strip()]:
        broker_section(options, broker)


if __name__ == "__main__":
    main()
