"""Whole processes on a live stream: celerytop's screen against Flower and celery's State.

    python benchmarks/live.py [--events N] [--rate R] [--brokers redis,rabbitmq] [--max-tasks N]
                              [--publishers K]

For each broker, N events of issue 7's workload (default 100,000) are
published through celery's dispatcher (one per host, the hosts split over
K publisher processes, default 3, at a lower priority: a cluster's workers
run elsewhere) at R events per second (default 5,000), paced against the
clock, to one consumer process at a time:

* (b) celery ``Receiver`` + ``State`` in a bare Python process (the
  baseline: what ``celery events`` keeps);
* (d) Flower (``celery -A benchapp flower``), when installed, with no
  browser attached;
* (c) celerytop's full screen (``celerytop -A benchapp --refresh 1``) in a
  pseudo-terminal read through pyte, as a person would run it.

Each process's CPU time (user + system, from /proc) is read just before
the first event and again once the last has been handled or 3 s after the
publisher finished, and its peak RSS at the end.  During celerytop's run, a
key is pressed every 1.5 s ('?', which opens the help overlay, then '?'
again to close it) and the time until the screen shows the change is
recorded: keypress latency while ingesting.  The header is read at the end:
a consumer that fell behind or lost events says so there (Redis cuts off a
subscriber that falls 32 MB behind).

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

import workload  # noqa: E402
from benchapp import make_app  # noqa: E402
from ingest import BROKER_URLS, cleanup, flower_installed  # noqa: E402

from tests.terminal import Terminal  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
BASELINE = textwrap.dedent("""
    import os, sys, threading, time
    sys.path.insert(0, {here!r})
    from benchapp import app
    from celery.events.state import State
    state = State(max_tasks_in_memory={max_tasks})
    count = [0]
    def handle(event):
        count[0] += 1
        state.event(event)
    with app.connection_for_read() as conn:
        receiver = app.events.Receiver(conn, handlers={{"*": handle}})
        ready = receiver.on_consume_ready
        def on_ready(*a, **k):
            ready(*a, **k)
            open({ready!r}, "w").close()
        receiver.on_consume_ready = on_ready
        threading.Thread(target=receiver.capture, kwargs={{"limit": None, "timeout": None, "wakeup": False}},
                         daemon=True).start()
        while True:
            with open({progress!r} + ".tmp", "w") as f:
                f.write(str(count[0]))
            os.replace({progress!r} + ".tmp", {progress!r})
            time.sleep(0.2)
""")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(url: str) -> dict:
    return {**os.environ, "CELERYTOP_BENCH_BROKER": url,
            "PYTHONPATH": os.pathsep.join([HERE, ROOT, os.environ.get("PYTHONPATH", "")])}


def publish_partition(url: str, events: int, rate: float, part: int, parts: int, start_at: float) -> None:
    """One publisher process: the events of every ``parts``-th host, each at its place in the global schedule.

    Each host's events go through its own dispatcher, as in a cluster; the
    processes split the hosts, so each host's events stay in order.
    """
    import itertools

    os.nice(10)  # the cluster runs on other machines: the processes measured go first here
    app = make_app(url)
    hosts = workload.WORKER_HOSTS + workload.CLIENT_HOSTS
    mine = set(hosts[part::parts])
    dispatchers, connections = {}, []
    try:
        while time.time() < start_at:
            time.sleep(0.001)
        for index, item in enumerate(itertools.islice(workload.stream(), events)):
            if item.hostname not in mine:
                continue
            ahead = start_at + index / rate - time.time()
            if ahead > 0.002:
                time.sleep(ahead)
            dispatcher = dispatchers.get(item.hostname)
            if dispatcher is None:
                connection = app.connection_for_write()
                connections.append(connection)
                dispatcher = dispatchers[item.hostname] = app.events.Dispatcher(
                    connection, hostname=item.hostname, buffer_while_offline=False)
            if item.type == "task-sent":
                dispatcher.publish(item.type, item.fields, dispatcher.producer)
            else:
                dispatcher.send(item.type, **item.fields)
    finally:
        for dispatcher in dispatchers.values():
            dispatcher.close()
        for connection in connections:
            connection.release()


def publish_paced(url: str, events: int, rate: float, parts: int) -> float:
    """Publish at ``rate`` events/s from ``parts`` processes (as far as they can); the achieved rate."""
    import multiprocessing

    spawn = multiprocessing.get_context("spawn")
    start_at = time.time() + 3.0  # once every publisher has started and connected
    publishers = [spawn.Process(target=publish_partition, args=(url, events, rate, part, parts, start_at))
                  for part in range(parts)]
    for process in publishers:
        process.start()
    for process in publishers:
        process.join()
    return events / (time.time() - start_at)


def bin_path(name: str) -> str:
    return os.path.join(os.path.dirname(sys.executable), name)


class Consumer:
    """One consumer process: started, ready, measured."""

    def __init__(self, kind: str, url: str, options, workdir: str):
        self.kind, self.url, self.options, self.workdir = kind, url, options, workdir
        self.term = None
        self.proc = None
        self.latencies: list = []
        self.header = ""

    # -- start and wait until consuming -----------------------------------------------
    def start(self) -> None:
        env = env_for(self.url)
        if self.kind == "celerytop":
            self.term = Terminal([bin_path("celerytop"), "-A", "benchapp", "--refresh", "1",
                                  "--max-tasks", str(self.options.max_tasks), "--no-enable-events",
                                  "--no-audit-log"], cols=120, rows=50, env=env, cwd=HERE)
            self.pid = self.term.pid
            self.term.wait_for("● connected", timeout=60)
        elif self.kind == "flower":
            self.proc = subprocess.Popen(
                [bin_path("celery"), "-A", "benchapp", "flower", f"--port={free_port()}", "--address=127.0.0.1",
                 f"--max_tasks={self.options.max_tasks}", "--enable_events=False", "--persistent=False"],
                env=env, cwd=self.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.pid = self.proc.pid
            time.sleep(6)  # Flower says nothing when its event consumer is ready
        else:
            ready, self.progress = os.path.join(self.workdir, "ready"), os.path.join(self.workdir, "progress")
            code = BASELINE.format(here=HERE, max_tasks=self.options.max_tasks, ready=ready, progress=self.progress)
            self.proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=self.workdir)
            self.pid = self.proc.pid
            deadline = time.monotonic() + 60
            while not os.path.exists(ready) and time.monotonic() < deadline:
                time.sleep(0.05)
        time.sleep(1.0)

    # -- keypresses while ingesting (celerytop only) ------------------------------------
    def press_keys(self, stop: threading.Event) -> None:
        term = self.term
        while not stop.wait(1.5):
            for shows_help in (True, False):
                start = time.perf_counter()
                term.press("?", pause=0)
                deadline = start + 5
                while time.perf_counter() < deadline:
                    if ("celerytop keys and commands" in term.text()) == shows_help:
                        self.latencies.append(time.perf_counter() - start)
                        break
                    time.sleep(0.002)
                time.sleep(0.3)

    def handled(self) -> int | None:
        if self.kind == "state":
            try:
                with open(self.progress) as f:
                    return int(f.read() or 0)
            except (OSError, ValueError):
                return None
        return None

    def stop(self) -> None:
        if self.term is not None:
            self.header = "\n".join(self.term.lines()[:2])
            self.term.press("q")
            try:
                self.term.wait_exit(10)
            finally:
                self.term.close()
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_one(kind: str, url: str, options) -> dict:
    with tempfile.TemporaryDirectory(prefix="celerytop-bench-") as workdir:
        consumer = Consumer(kind, url, options, workdir)
        consumer.start()
        try:
            cpu0 = cpu_seconds(consumer.pid)
            stop_keys = threading.Event()
            keys = None
            if kind == "celerytop":
                keys = threading.Thread(target=consumer.press_keys, args=(stop_keys,), daemon=True)
                keys.start()
            rate = publish_paced(url, options.events, options.rate, options.publishers)
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and (consumer.handled() or 0) < options.events:
                time.sleep(0.1)
            time.sleep(0.5 if kind == "state" else 3.0)
            stop_keys.set()
            if keys is not None:
                keys.join(10)
            cpu = cpu_seconds(consumer.pid) - cpu0
            rss = peak_rss_mib(consumer.pid)
            handled = consumer.handled()
        finally:
            consumer.stop()
    return {"cpu": cpu, "rss": rss, "rate": rate, "latencies": consumer.latencies, "header": consumer.header,
            "handled": handled}


LABELS = {
    "state": "(b) Receiver + celery State (baseline)",
    "flower": "(d) Flower",
    "celerytop": "(c) celerytop, full screen at 1 Hz",
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--brokers", default="redis,rabbitmq")
    parser.add_argument("--max-tasks", type=int, default=10_000)
    parser.add_argument("--publishers", type=int, default=3, help="publisher processes")
    options = parser.parse_args(argv)
    assert shutil.which(bin_path("celerytop")), "install celerytop first (pip install -e .)"
    kinds = ["state"] + (["flower"] if flower_installed() else []) + ["celerytop"]
    print(f"celerytop live benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    if not flower_installed():
        print("Flower: not installed (pip install flower to add it as a baseline)")
    for broker in options.brokers.split(","):
        url = BROKER_URLS[broker]
        print(f"\n{broker}: {options.events:,} events at {options.rate:,.0f}/s; --max-tasks {options.max_tasks:,}")
        print(f"    {'':44s}{'CPU s':>8s}{'us/event':>10s}{'peak RSS':>11s}   published at")
        results = {}
        for kind in kinds:
            try:
                result = results[kind] = run_one(kind, url, options)
            except Exception as exc:  # noqa: BLE001 - report and go on with the next
                print(f"    {LABELS[kind]:44s}FAILED: {exc}")
                continue
            print(f"    {LABELS[kind]:44s}{result['cpu']:8.2f}{result['cpu'] / options.events * 1e6:10.1f}"
                  f"{result['rss']:8.0f} MiB   {result['rate']:,.0f} events/s")
        cleanup(url)
        ours = results.get("celerytop")
        if ours is None:
            continue
        for kind, target in (("state", None), ("flower", 0.5)):
            theirs = results.get(kind)
            if theirs:
                ratio = ours["cpu"] / theirs["cpu"]
                verdict = "" if target is None else f"  (target at most {target}: {'met' if ratio <= target else 'not met'})"
                print(f"    CPU celerytop / {kind}: {ratio:.2f}{verdict}")
        if ours["latencies"]:
            ms = sorted(x * 1000 for x in ours["latencies"])
            print(f"    keypress to screen while ingesting: median {statistics.median(ms):.0f} ms, "
                  f"worst {ms[-1]:.0f} ms over {len(ms)} presses (target under 100 ms)")
        print("    celerytop's header at the end:")
        for line in ours["header"].splitlines():
            print("      " + line.rstrip())


if __name__ == "__main__":
    main()
