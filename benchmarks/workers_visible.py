"""How soon the workers are on screen: celerytop against ``celery events``, same cluster, same run.

    python benchmarks/workers_visible.py [--broker filesystem|redis|rabbitmq] [--runs N] [--workers K]

Starts a real cluster of K ``celery worker`` processes (default 2, with
``-E``, idle) on the broker (default the filesystem broker, in a temporary
folder), waits until every one answers ping, then, N times (default 5),
alternately:

* runs ``celerytop -A tests.liveapp`` in a pseudo-terminal read through
  pyte (tests/terminal.py), as a person would, and records the time from
  starting the process to its first frame and to every worker's name being
  on screen (and the difference: the wait a person sees on a drawn screen,
  which does not depend on how long Python takes to import everything);
* runs ``celery -A tests.liveapp events`` (celery's curses monitor) the same
  way and records the time until every worker's name is on screen.

Prints each run's figures, the medians and celerytop / celery events.  The
processes measured start cold, one at a time, while the cluster is idle.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from tests.liveapp import BROKER_URL_ENV, FSDIR_ENV, NS_ENV, make_app  # noqa: E402
from tests.terminal import Terminal  # noqa: E402

BROKER_URLS = {
    "filesystem": "filesystem://localhost//",
    "redis": "redis://127.0.0.1:6379/0",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
    "amqp": "amqp://guest:guest@127.0.0.1:5672//",
}
WORKER_NAMES = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta")
GIVE_UP_AFTER = 30.0  # seconds: a monitor that shows nothing by then is reported as such


def bin_path(name: str) -> str:
    return os.path.join(os.path.dirname(sys.executable), name)


class Cluster:
    """K idle workers with events on, in their own namespace (exchanges, queue)."""

    def __init__(self, broker: str, count: int, workdir: str):
        self.url = BROKER_URLS[broker]
        self.ns = uuid.uuid4().hex[:10]
        self.fsdir = os.path.join(workdir, "broker") if broker == "filesystem" else None
        self.env = {**os.environ, BROKER_URL_ENV: self.url, NS_ENV: self.ns,
                    "PYTHONPATH": os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p),
                    "XDG_STATE_HOME": os.path.join(workdir, "state")}  # no audit or history files of ours
        if self.fsdir:
            self.env[FSDIR_ENV] = self.fsdir
        self.app = make_app(self.url, self.ns, self.fsdir)
        self.hostnames = [f"{name}-{self.ns[:4]}@bench" for name in WORKER_NAMES[:count]]
        self.workdir = workdir
        self.procs: list = []

    def start(self) -> None:
        for hostname in self.hostnames:
            log = open(os.path.join(self.workdir, hostname.split("@")[0] + ".log"), "wb")
            self.procs.append(subprocess.Popen(
                [bin_path("celery"), "-A", "tests.liveapp", "worker", "-n", hostname, "-E", "-l", "info",
                 "--without-mingle", "--without-gossip", "-c", "1"],
                cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True))
            log.close()
        deadline = time.monotonic() + 60
        waiting = set(self.hostnames)
        while waiting and time.monotonic() < deadline:
            for reply in self.app.control.ping(timeout=0.5):
                waiting -= set(reply)
        if waiting:
            raise SystemExit(f"workers did not answer ping within 60 s: {', '.join(sorted(waiting))}")
        time.sleep(1.0)  # past their start-up

    def stop(self) -> None:
        for proc in self.procs:
            try:
                os.killpg(proc.pid, 9)
            except ProcessLookupError:
                pass
        for proc in self.procs:
            proc.wait()
        self.cleanup_broker()
        self.app.close()

    def cleanup_broker(self) -> None:
        """Best effort: what this namespace left on a shared Redis or RabbitMQ."""
        try:
            if self.url.startswith("redis"):
                import redis

                client = redis.Redis.from_url(self.url)
                for key in client.scan_iter(match=f"*{self.ns}*"):
                    client.delete(key)
                client.close()
            elif self.url.startswith("amqp"):
                with self.app.connection_for_write() as conn:
                    channel = conn.channel()
                    channel.queue_delete(f"q-{self.ns}")
                    for exchange in (f"q-{self.ns}", f"celeryev.{self.ns}", f"ctl-{self.ns}.pidbox",
                                     f"reply.ctl-{self.ns}.pidbox"):
                        channel.exchange_delete(exchange)
                    channel.close()
        except Exception as exc:  # noqa: BLE001 - leftovers are harmless; say so and go on
            print(f"(cleanup of namespace {self.ns} failed: {exc})")


def time_until_shown(argv: list, cluster: Cluster, first_frame: str | None = None) -> tuple:
    """(seconds to ``first_frame`` on screen or None, seconds to every worker name on screen or None)."""
    started = time.perf_counter()
    term = Terminal(argv, cols=200, rows=40, env=cluster.env, cwd=ROOT)
    frame_at = shown_at = None
    try:
        while time.perf_counter() - started < GIVE_UP_AFTER:
            text = term.text()
            now = time.perf_counter() - started
            if frame_at is None and first_frame is not None and first_frame in text:
                frame_at = now
            if all(name in text for name in cluster.hostnames):
                shown_at = now
                break
            if term.returncode is not None:
                break
            time.sleep(0.005)
    finally:
        term.close()
    return frame_at, shown_at


def figure(value) -> str:
    return "   never" if value is None else f"{value:7.2f}s"


def gap(start, end) -> float | None:
    return None if start is None or end is None else end - start


def median(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", choices=sorted(BROKER_URLS), default="filesystem")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, choices=range(1, len(WORKER_NAMES) + 1))
    options = parser.parse_args(argv)
    assert shutil.which(bin_path("celerytop")), "install celerytop first (pip install -e .)"
    print(f"workers on screen, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}; {options.broker} broker, {options.workers} idle workers with -E")
    monitors = {
        "celerytop": ([bin_path("celerytop"), "-A", "tests.liveapp", "--no-audit-log"], "celerytop"),
        "celery events": ([bin_path("celery"), "-A", "tests.liveapp", "events"], None),
    }
    with tempfile.TemporaryDirectory(prefix="celerytop-bench-") as workdir:
        cluster = Cluster(options.broker, options.workers, workdir)
        cluster.start()
        try:
            results: dict = {name: [] for name in monitors}
            print(f"    {'run':>3s}   {'celerytop first frame':>22s}   {'celerytop workers':>18s}"
                  f"   {'(after first frame)':>19s}   {'celery events workers':>22s}")
            for run in range(1, options.runs + 1):
                for name, (command, first_frame) in monitors.items():
                    results[name].append(time_until_shown(command, cluster, first_frame))
                    time.sleep(0.5)  # the previous monitor's exit settles
                (frame, ours), (_, theirs) = results["celerytop"][-1], results["celery events"][-1]
                print(f"    {run:3d}   {figure(frame):>22s}   {figure(ours):>18s}   {figure(gap(frame, ours)):>19s}"
                      f"   {figure(theirs):>22s}")
        finally:
            cluster.stop()
    frame = median(f for f, _ in results["celerytop"])
    ours = median(s for _, s in results["celerytop"])
    theirs = median(s for _, s in results["celery events"])
    after = median(gap(f, s) for f, s in results["celerytop"])
    print(f"    med   {figure(frame):>22s}   {figure(ours):>18s}   {figure(after):>19s}   {figure(theirs):>22s}")
    if ours is not None and theirs:
        print(f"    every worker on screen, celerytop / celery events: {ours / theirs:.2f} "
              f"(target: every worker within 1 s: {'met' if ours <= 1.0 else 'not met'})")


if __name__ == "__main__":
    main()
