"""What issue 15's aggregates cost: ingest CPU and memory with them on and off, in the same run.

    python benchmarks/aggregates.py [--events 100000] [--repeats 5] [--types 1000] [--tasks 100000]
                                    [--block 2000] [--against REV] [--parts]
                                    [--model-only] [--no-ingest] [--no-memory]

"Off" is a benchmark-only switch: the same ``ClusterModel`` with each
aggregate it feeds at ingest (``AGGREGATES`` below: failure groups and their
history, task-type stats with the beat run log, the per-type history and the
header's rate history, the workers' histories) replaced by a stand-in whose methods do nothing.  The
feeding lines in ``cluster.py`` still run (their tests and the calls), so
"on" minus "off" is what the aggregates' own code costs; the rest is in the
before/after comparison with the tree before issue 15 (``before_after.py``).
A new aggregate fed from ``cluster.py`` gets its stand-in in ``AGGREGATES``.

The workload is ``workload.py``'s (4 events a task, 5 % failed with ~2 KB
tracebacks), with its 15 task names replaced by TYPES names (default 1,000),
task ``k`` of a Zipf-like popularity ``1 / (k + 1)`` (``many_types``), so
that every type is seen and the per-type tables hold TYPES entries; failures
of TYPES types and 6 exceptions make up to 6,000 failure groups (past the
1,000 kept, "(other)" counts them).

1. Ingest, in this process, ON and OFF alternating, REPEATS times each, a
   fresh model each time (celerytop's defaults: ``max_tasks=10,000``,
   ``max_failures=1,000``), CPU time (``time.process_time``) over EVENTS
   events:

   * model alone: ``ClusterModel.on_event`` over in-memory event dicts (a
     fresh copy each), as celery's Receiver hands them;
   * Redis path: the message payloads as kombu's Redis transport publishes
     them (JSON envelope, base64 body) read by ``RedisStream._read`` itself
     (a stand-in connection hands it the PMESSAGE replies): envelope decode,
     body decode, event check, celery's ``event_from_message``, the stream's
     health, the model;
   * RabbitMQ path: the AMQP frames of each ``basic.deliver`` (method,
     content header, body) in a byte buffer, cut by ``amqp.FrameReader``'s
     ``take_delivery`` and handed to ``deliver_message``, as
     ``AmqpStream.run`` does.

   ``--against REV`` adds, for the model alone, this tree's model (aggregates
   on) against the same model running REV's ``_apply_task_event`` and
   ``_evict`` (compiled from ``git show``): for REV before issue 15 (5d38d3d)
   that is the code before the issue, feeding lines and all, in the same run.

   The socket reads themselves (and the broker) are left out, so the
   aggregates' share here is an upper bound of their share in the real
   process; ``ingest.py`` and ``before_after.py`` measure that.
2. Memory: TASKS tasks of the same workload into
   ``ClusterModel(max_tasks=TASKS, max_failures=5,000)``, ON and OFF, each in
   a fresh spawned process that has imported the screen modules (as
   ``memory.py``), VmRSS after ``gc.collect()``; and the aggregates' own
   objects, measured by walking them (``deep_size``).

Prints figures; asserts nothing.  Budget (issue 15): at most 15 % of ingest
CPU and 20 MiB at 100,000 tasks and 1,000 types.
"""

from __future__ import annotations

import argparse
import base64
import gc
import itertools
import json
import multiprocessing
import os
import random
import statistics
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import workload  # noqa: E402

CPU_BUDGET = 0.15
MEMORY_BUDGET_MIB = 20.0
SPAWN = multiprocessing.get_context("spawn")


# -- the switch ---------------------------------------------------------------------------------------------


class NoFailureGroups:
    """Stand-in for model/failgroups.py's FailureGroups: counts nothing."""

    def add(self, uuid, name, hostname, timestamp, exception, traceback):
        pass


class NoTypeStats:
    """Stand-in for model/typestats.py's TypeStats: counts nothing."""

    def transition(self, task, name_before, before, after, now):
        pass

    def forget_in_flight(self, name, state):
        pass


class NoWorkerHistory:
    """Stand-in for model/workerhistory.py's WorkerHistory: keeps nothing."""

    def event(self, hostname, event):
        pass


class NoHistories:
    """Stand-in for model/histories.py's Histories (per worker): counts nothing.  (The failure groups' own rings
    are fed by the failure groups, off with them; the header's rate history and the per-type history are the
    type statistics', off with them.)"""

    def __init__(self):
        self.workers = NoWorkerHistory()


#: The model's attribute holding each aggregate fed at ingest, and its no-op stand-in.
AGGREGATES = {"_failures": NoFailureGroups, "type_stats": NoTypeStats, "histories": NoHistories}


def aggregates_off(model, attributes=tuple(AGGREGATES)):
    """``model`` with those aggregates (all by default) replaced by their stand-ins (a missing one fails loudly)."""
    for attribute in attributes:
        getattr(model, attribute)
        setattr(model, attribute, AGGREGATES[attribute]())
    return model


def make_model(on: bool, max_tasks: int = 10000, max_failures: int = 1000, off=tuple(AGGREGATES)):
    from celerytop.model.cluster import ClusterModel

    model = ClusterModel(max_tasks=max_tasks, max_failures=max_failures)
    return model if on else aggregates_off(model, off)


def model_before(rev: str):
    """A ClusterModel class whose ingest is REV's: its ``_apply_task_event`` and ``_evict``, compiled from git.

    Benchmark only: the rest of the model is this tree's, so this is the ingest
    without any aggregate's feeding lines (for REV before issue 15), with the
    same model otherwise.  Fails loudly if REV's methods no longer fit.
    """
    import ast
    import subprocess

    from celerytop.model import cluster

    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    source = subprocess.run(["git", "show", f"{rev}:celerytop/model/cluster.py"], cwd=root, capture_output=True,
                            text=True, check=True).stdout
    body = next(node for node in ast.parse(source).body
                if isinstance(node, ast.ClassDef) and node.name == "ClusterModel").body
    namespace = dict(vars(cluster))
    for node in body:
        if isinstance(node, ast.FunctionDef) and node.name in ("_apply_task_event", "_evict"):
            exec(compile(ast.Module([node], []), f"{rev}:celerytop/model/cluster.py", "exec"), namespace)
    return type("ClusterModelBefore", (cluster.ClusterModel,), {
        "_apply_task_event": namespace["_apply_task_event"], "_evict": namespace["_evict"]})


def before_feeder(model_class):
    """(model, feed) like model_feeder: this tree's model with the aggregates (on) or REV's ingest (off)."""
    def feeder(on):
        if on:
            return model_feeder(True)
        model = model_class(max_tasks=10000, max_failures=1000)
        return model, timed_feed(model)

    return feeder


# -- the workload with many types ---------------------------------------------------------------------------


def type_names(types: int) -> list:
    return [f"shop.app{k % 40:02d}.tasks.task_{k:04d}" for k in range(types)]


def many_types(emitted, types: int, seed: int = 11):
    """The workload's emitted events with each task's name replaced by one of ``types`` names (Zipf-like)."""
    names = type_names(types)
    weights = list(itertools.accumulate(1.0 / (k + 1) for k in range(types)))
    rng = random.Random(seed)
    chosen: dict = {}
    for item in emitted:
        fields = item.fields
        if "name" in fields:
            uuid = fields["uuid"]
            name = chosen.get(uuid)
            if name is None:
                name = chosen[uuid] = names[min(types - 1, _bisect(weights, rng.random() * weights[-1]))]
            item = item._replace(fields={**fields, "name": name})
        yield item


def _bisect(weights, x):
    import bisect

    return bisect.bisect_right(weights, x)


def receiver_events(count: int, types: int, tasks: int | None = None) -> list:
    """The first ``count`` events (or every event of ``tasks`` tasks) as celery's Receiver hands them."""
    emitted = workload.stream(tasks=tasks)
    if tasks is None:
        emitted = itertools.islice(emitted, count)
    return list(workload.receiver_events(many_types(emitted, types)))


def bodies(count: int, types: int) -> list:
    """(event body as the dispatcher publishes it, arrival time) of the first ``count`` events."""
    return list(workload.sent_bodies(many_types(itertools.islice(workload.stream(), count), types)))


def redis_payloads(sent: list) -> list:
    """Each event as kombu's Redis transport PUBLISHes it: a JSON envelope with the body in base64."""
    payloads = []
    for tag, (body, _) in enumerate(sent):
        routing_key = body["type"].replace("-", ".")
        envelope = {
            "body": base64.b64encode(json.dumps(body).encode()).decode(),
            "content-encoding": "utf-8", "content-type": "application/json",
            "headers": {"hostname": body["hostname"]},
            "properties": {"delivery_mode": 1, "delivery_info": {"exchange": "celeryev", "routing_key": routing_key},
                           "priority": 0, "body_encoding": "base64", "delivery_tag": f"tag-{tag}"}}
        payloads.append(json.dumps(envelope).encode())
    return payloads


CONSUMER_TAG = b"celerytop-bench"
CHANNEL = 1


def amqp_frames(sent: list) -> bytes:
    """Each event as RabbitMQ delivers it to a consumer: basic.deliver, content header and body frames."""
    from amqp.basic_message import Message
    from amqp.serialization import dumps

    def frame(kind, payload):
        return struct.pack(">BHI", kind, CHANNEL, len(payload)) + payload + b"\xce"

    out = bytearray()
    for tag, (body, _) in enumerate(sent, 1):
        raw = json.dumps(body).encode()
        routing_key = body["type"].replace("-", ".")
        method = struct.pack(">HH", 60, 60) + dumps("sLbss", (CONSUMER_TAG.decode(), tag, False, "celeryev",
                                                                routing_key))
        message = Message(raw, content_type="application/json", content_encoding="utf-8",
                          application_headers={"hostname": body["hostname"]}, delivery_mode=1, priority=0)
        header = struct.pack(">HHQ", 60, 0, len(raw)) + message._serialize_properties()
        out += frame(1, method) + frame(2, header) + frame(3, raw)
    return bytes(out)


# -- ingest -------------------------------------------------------------------------------------------------


def _app():
    from celery import Celery

    return Celery("celerytop-bench-aggregates", broker="memory://", set_as_current=False)


def _stream(kind, app, model):
    from celerytop.events.capture import StreamHealth
    from celerytop.events.streams.amqp import AmqpStream
    from celerytop.events.streams.redis import RedisStream

    cls = RedisStream if kind == "redis" else AmqpStream
    return cls(app, None, "bench-aggregates", model.on_event, StreamHealth(), ("#",))


class _RedisReplies:
    """A stand-in for redis-py's connection: one block's PMESSAGE replies, then stops the stream."""

    def __init__(self, stream):
        self._stream = stream
        self._replies = iter(())

    def feed(self, payloads):
        self._replies = iter([b"pmessage", b"/0.celeryev/*", b"/0.celeryev/x", p] for p in payloads)
        self._stream.should_stop = False

    def can_read(self, timeout=0):
        return True

    def read_response(self, push_request=True):
        reply = next(self._replies, None)
        if reply is None:
            self._stream.should_stop = True
        return reply


class _Sock:
    def __init__(self):
        self.data, self._at = b"", 0

    def recv(self, size):
        chunk = self.data[self._at:self._at + size]
        self._at += len(chunk)
        return chunk

    def feed(self, data):
        self.data, self._at = data, 0


class _Transport:
    def __init__(self):
        self.sock = _Sock()
        self._read_buffer = b""


def model_feeder(on, off=tuple(AGGREGATES)):
    """(model, feed): feed(block of event dicts) applies them; CPU seconds taken."""
    model = make_model(on, off=off)
    return model, timed_feed(model)


def timed_feed(model):
    """feed(block of event dicts): applies fresh copies of them to ``model``; returns the CPU seconds taken."""
    handle = model.on_event

    def feed(block):
        copies = [dict(event) for event in block]
        started = time.process_time()
        for event in copies:
            handle(event)
        return time.process_time() - started

    return feed


def redis_feeder(on):
    """(model, feed): feed(block of Redis payloads) runs RedisStream._read over them; CPU seconds taken."""
    model = make_model(on)
    stream = _stream("redis", _app(), model)
    stream._address = None  # no backlog checks: there is no server
    conn = _RedisReplies(stream)

    def feed(block):
        conn.feed(block)
        started = time.process_time()
        stream._read(conn)
        return time.process_time() - started

    return model, feed


def amqp_feeder(on):
    """(model, feed): feed(bytes of a block's AMQP frames) cuts and delivers them; CPU seconds taken."""
    from celerytop.events.streams.amqp import FrameReader

    model = make_model(on)
    stream = _stream("amqp", _app(), model)
    transport = _Transport()
    reader = FrameReader(transport)
    recv, take_delivery, deliver_message = reader._recv, reader.take_delivery, stream.deliver_message

    def feed(block):
        transport.sock.feed(block)
        started = time.process_time()
        while True:
            delivery = take_delivery(CHANNEL, CONSUMER_TAG)
            if delivery is not None:
                deliver_message(*delivery)
                continue
            chunk = recv(reader.CHUNK)  # what read_frame does when no whole frame is buffered
            if not chunk:
                break
            if reader._pos:
                del reader._buffer[:reader._pos]
                reader._pos = 0
            reader._buffer += chunk
        return time.process_time() - started

    return model, feed


def lockstep(feeder, blocks, rounds):
    """CPU seconds per event, on and off, per round: both models take each block in turn, the order alternating.

    On a shared machine the two sides then meet the same noise, block by block.
    """
    results = {True: [], False: []}
    models = {}
    for round_ in range(rounds):
        sides = {on: feeder(on) for on in (True, False)}
        totals = {True: 0.0, False: 0.0}
        events = 0
        for index, (block, size) in enumerate(blocks):
            gc.collect()
            for on in ((True, False) if (index + round_) % 2 else (False, True)):
                totals[on] += sides[on][1](block)
            events += size
        for on in (True, False):
            results[on].append(totals[on] / events * 1e6)
            models[on] = sides[on][0]
    return results, models


def ingest_section(options) -> None:
    started = time.perf_counter()
    events = receiver_events(options.events, options.types)
    sent = bodies(options.events, options.types)
    size = options.block
    cuts = range(0, len(events), size)
    payloads = redis_payloads(sent)
    paths = {
        "model alone (on_event over event dicts)": (model_feeder, [(events[i:i + size], len(events[i:i + size]))
                                                                   for i in cuts]),
        "Redis path (envelope + body decode, check, Receiver clock, model)": (
            redis_feeder, [(payloads[i:i + size], len(payloads[i:i + size])) for i in cuts]),
        "RabbitMQ path (frames cut, decode, check, Receiver clock, model)": (
            amqp_feeder, [(amqp_frames(sent[i:i + size]), len(sent[i:i + size])) for i in cuts]),
    }
    del sent, payloads
    if options.model_only:
        paths = dict(itertools.islice(paths.items(), 1))
    names = {e.get("name") for e in events if e.get("name")}
    print(f"Ingest: {len(events):,} events ({len(names):,} task types), ClusterModel(max_tasks=10,000, "
          f"max_failures=1,000), aggregates on and off in lockstep (blocks of {size:,} events, the order "
          f"alternating), {options.repeats} rounds; built in {time.perf_counter() - started:.0f} s")
    print(f"  {'':<68}{'off':>9}{'on':>9}{'on-off':>9}{'on/off':>8}{'share':>8}   spread off / on")
    verdicts = []
    for title, (feeder, blocks) in paths.items():
        times, models = lockstep(feeder, blocks, options.repeats)
        off, on = statistics.median(times[False]), statistics.median(times[True])
        spread = {k: (max(v) - min(v)) / statistics.median(v) for k, v in times.items()}
        ratios = [a / b for a, b in zip(times[True], times[False])]
        print(f"  {title:<68}{off:7.2f}us{on:7.2f}us{on - off:7.2f}us{on / off:8.3f}{(on - off) / on:8.1%}"
              f"   {spread[False]:4.0%} / {spread[True]:4.0%}   (on/off per round: "
              + ", ".join(f"{r:.3f}" for r in ratios) + ")")
        check = models[True]
        if check.events_total != len(events) or check.malformed_events:
            print(f"    !! {check.events_total:,} events counted, {check.malformed_events:,} malformed")
        verdicts.append((title.split(" (")[0], statistics.median(ratios) - 1))
    print("  (CPU us per event, medians over the rounds; on/off: CPU with the aggregates over CPU without; "
          "share: (on-off)/on)")
    for title, extra in verdicts:
        verdict = "met" if extra <= CPU_BUDGET else f"not met, {extra - CPU_BUDGET:.1%} over"
        print(f"  {title}: the aggregates add {extra:.1%} to ingest CPU (median of the rounds' on/off; "
              f"budget {CPU_BUDGET:.0%}: {verdict})")
    if options.against:
        model_blocks = paths["model alone (on_event over event dicts)"][1]
        times, _ = lockstep(before_feeder(model_before(options.against)), model_blocks, options.repeats)
        ratios = [a / b for a, b in zip(times[True], times[False])]
        off, on = statistics.median(times[False]), statistics.median(times[True])
        print(f"  Against {options.against}'s ingest (its _apply_task_event and _evict: no feeding lines), model "
              f"alone: {off:.2f} us/event before, {on:.2f} with the aggregates: they add "
              f"{statistics.median(ratios) - 1:.1%}   (on/before per round: "
              + ", ".join(f"{r:.3f}" for r in ratios) + ")")
    if options.parts:
        model_blocks = paths["model alone (on_event over event dicts)"][1]
        print("  Each aggregate alone, model alone ('off': only that one replaced by its stand-in):")
        for attribute in AGGREGATES:
            times, _ = lockstep(lambda on: model_feeder(on, off=(attribute,)), model_blocks, options.repeats)
            ratios = [a / b for a, b in zip(times[True], times[False])]
            off, on = statistics.median(times[False]), statistics.median(times[True])
            print(f"    {attribute:<20} {on - off:6.2f} us/event, {statistics.median(ratios) - 1:6.1%} of ingest CPU"
                  f"   (on/off per round: " + ", ".join(f"{r:.3f}" for r in ratios) + ")")
    model = models[True]
    print(f"  with them on: {len(model.type_rows()):,} type rows, {len(model._failures.groups):,} failure "
          f"groups{' + (other)' if model._failures.other is not None else ''}, "
          f"{model._failures.total:,} failures counted")


# -- memory -------------------------------------------------------------------------------------------------


def deep_size(root) -> int:
    """Bytes held by ``root`` and everything reachable from it that is not a class, module or function."""
    import types

    skip = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)
    seen, stack, total = set(), [root], 0
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, skip):
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        stack.extend(gc.get_referents(item))
    return total


def proc_rss() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def memory_run(on: bool, tasks: int, types: int, max_failures: int) -> dict:
    """In a fresh process: ``tasks`` tasks into a model with the aggregates on or off; RSS and their size."""
    import importlib

    for module in ("celerytop.launch", "celerytop.ui.app"):  # what a running monitor has loaded
        importlib.import_module(module)
    model = make_model(on, max_tasks=tasks, max_failures=max_failures)
    handle = model.on_event
    for event in workload.receiver_events(many_types(workload.stream(tasks=tasks), types)):
        handle(event)
    gc.collect()
    sizes = {attribute: deep_size(getattr(model, attribute)) for attribute in AGGREGATES}
    with model.lock:
        kept = len(model._tasks)
    return {"rss": proc_rss(), "sizes": sizes, "kept": kept,
            "types": len(getattr(model.type_stats, "ids", ())),
            "groups": len(getattr(model._failures, "groups", ()))}


def run_in_subprocess(function, *args):
    with SPAWN.Pool(1) as pool:
        return pool.apply(function, args)


def memory_section(options) -> None:
    print(f"\nMemory: {options.tasks:,} tasks of {options.types:,} types into ClusterModel(max_tasks="
          f"{options.tasks:,}, max_failures={options.max_failures:,}), a fresh process each (screen modules "
          f"imported), VmRSS after gc.collect()")
    results = {}
    for on in (False, True):
        results[on] = run_in_subprocess(memory_run, on, options.tasks, options.types, options.max_failures)
        result = results[on]
        print(f"  aggregates {'on ' if on else 'off'}: {result['rss']:7.1f} MiB RSS, {result['kept']:,} tasks kept"
              + (f", {result['types']:,} type rows, {result['groups']:,} failure groups" if on else ""))
    extra = results[True]["rss"] - results[False]["rss"]
    sizes = results[True]["sizes"]
    own = sum(sizes.values()) / 2 ** 20
    print(f"  difference: {extra:+.1f} MiB RSS; the aggregates' own objects: {own:.1f} MiB ("
          + ", ".join(f"{attribute} {size / 2 ** 20:.2f}" for attribute, size in sizes.items()) + ")")
    worst = max(extra, own)
    verdict = "met" if worst <= MEMORY_BUDGET_MIB else f"not met, {worst - MEMORY_BUDGET_MIB:.1f} MiB over"
    print(f"  budget {MEMORY_BUDGET_MIB:.0f} MiB at {options.tasks:,} tasks and {options.types:,} types: {verdict}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="events per ingest run (default 100,000)")
    parser.add_argument("--repeats", type=int, default=5, help="ingest rounds (default 5)")
    parser.add_argument("--block", type=int, default=2000, help="events per lockstep block (default 2,000)")
    parser.add_argument("--types", type=int, default=1000, help="task types in the workload (default 1,000)")
    parser.add_argument("--tasks", type=int, default=100_000, help="tasks for the memory figure (default 100,000)")
    parser.add_argument("--max-failures", type=int, default=5000, help="the memory figure's failure bound")
    parser.add_argument("--against", metavar="REV", help="also the model alone against REV's ingest methods "
                        "(e.g. 5d38d3d, main before issue 15), in lockstep")
    parser.add_argument("--parts", action="store_true", help="also each aggregate's own cost (model alone)")
    parser.add_argument("--model-only", action="store_true", help="ingest: the model alone, not the stream paths")
    parser.add_argument("--no-ingest", action="store_true", help="skip the ingest figures")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory figures")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    options = parse_args(argv)
    print(f"celerytop aggregates benchmark (issue 15), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, Python {sys.version.split()[0]}\n")
    if not options.no_ingest:
        ingest_section(options)
    if not options.no_memory:
        memory_section(options)


if __name__ == "__main__":
    main()
