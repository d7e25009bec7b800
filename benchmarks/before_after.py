"""Before and after: the ingest, memory, frame and filter figures of two revisions, measured in one run.

    python benchmarks/before_after.py [--before REV] [--after REV] [--quick] [--repeats N]
                                      [--tasks N] [--events N] [--broker-events N] [--brokers LIST | --no-brokers]

The "before" tree is a temporary git worktree of REV (default 599f8f1, the
flat layout before issue 14's restructure) in a temporary directory, removed
at the end, also on an error or Ctrl-C.  The "after" tree is this checkout,
as it is on disk (uncommitted changes included), or a second temporary
worktree with ``--after REV``.

Each tree runs its own copy of each benchmark script (their imports follow
the package's layout), with this same Python and cwd and PYTHONPATH set to
that tree, so that ``celerytop`` and ``tests`` resolve to its code (checked
first).  Runs are interleaved, before then after, script by script and
repeat by repeat, so that both sides share whatever else the machine does:

* ``ingest.py --replay-only``: events per CPU-second of the model alone and
  of ``replay_all`` from the file, next to celery's ``State`` (the same code
  in both trees: its after/before shows the run's noise);
* ``ingest.py --no-replay``: the whole path through Redis and RabbitMQ on
  127.0.0.1 (the benchmark's own exchanges and Redis db 14; nothing is
  flushed); left out with ``--quick`` or ``--no-brokers``;
* ``memory.py --long 0``: RSS with N tasks loaded;
* ``render_tasks.py N``: frame and filter times with N tasks in memory.

The figures each script prints are parsed from its text, and a table gives
each figure's median over the repeats before and after, after/before, and
the spread (max - min over the median) of each side.  Counts that depend on
behaviour, not speed (tasks kept, filter hits, events drained), are listed
where the two trees differ.  Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BEFORE = "599f8f1"
HIGHER, LOWER = "higher", "lower"


@dataclass
class Tree:
    """One side of the comparison: a checkout of the project and what it is."""

    side: str
    path: str
    describe: str


@dataclass
class Figure:
    """One parsed figure of one run."""

    name: str
    unit: str
    better: str
    value: float


@dataclass
class Parsed:
    """What one run of a script printed: figures, and counts that should not depend on the tree."""

    figures: list[Figure] = field(default_factory=list)
    counts: dict[str, str] = field(default_factory=dict)


@dataclass
class Bench:
    """A benchmark script, its arguments, and the parser of its output."""

    name: str
    argv: list[str]
    parse: Callable[[str], Parsed]


def number(text: str) -> float:
    return float(text.replace(",", ""))


# -- parsers of the scripts' text --------------------------------------------------------------------------

REPLAY_SECTIONS = (("in-memory event dicts", "model alone"), ("from the file with replay_all", "replay_all from file"))
REPLAY_ROW = re.compile(r"^ {4}(celery State\.event|celerytop ClusterModel\.on_event|Flower EventsState\.event)"
                        r".*?\s{2,}([\d,]+)\s+([\d,]+|-)\s+([\d.]+)\s+([\d,]+)\s*$")
REPLAY_NAMES = {"celery State.event": "celery State (same code both sides)",
                "celerytop ClusterModel.on_event": "celerytop ClusterModel",
                "Flower EventsState.event": "Flower EventsState (same code both sides)"}
RATIO = re.compile(r"^\s+ratio .*?:\s+([\d.]+)x")


def parse_replay(text: str) -> Parsed:
    parsed, section = Parsed(), None
    for line in text.splitlines():
        section = next((name for start, name in REPLAY_SECTIONS if line.strip().startswith(start)), section)
        row, ratio = REPLAY_ROW.match(line), RATIO.match(line)
        if section and row:
            who = REPLAY_NAMES[row.group(1)]
            parsed.figures.append(Figure(f"ingest, {section}: {who}", "events/CPU-s", HIGHER, number(row.group(2))))
            parsed.counts[f"ingest, {section}: {who}, tasks kept"] = row.group(5)
        elif section and ratio:
            parsed.figures.append(Figure(f"ingest, {section}: celerytop / State", "x", HIGHER,
                                         float(ratio.group(1))))
    return parsed


BROKER_HEADER = re.compile(r"^(redis|rabbitmq) \(")
BROKER_ROW = re.compile(r"^ {4}\(([abcd])\) (.*?)\s{2,}([\d,]+|-)\s+([\d,]+|-)\s+([\d.]+)\s+([\d.]+)\s+([\d,]+)")
BROKER_FAILED = re.compile(r"^ {4}\(([abcd])\) (.*?)\s{2,}FAILED: (.*)$")
BROKER_NAMES = {"a": "(a) Receiver, no-op", "b": "(b) Receiver + State (same code both sides)",
                "c": "(c) celerytop EventCapture -> ClusterModel", "d": "(d) Flower (same code both sides)"}


def parse_brokers(text: str) -> Parsed:
    parsed, broker = Parsed(), None
    for line in text.splitlines():
        header = BROKER_HEADER.match(line)
        if header:
            broker = header.group(1)
            continue
        row, failed, ratio = BROKER_ROW.match(line), BROKER_FAILED.match(line), RATIO.match(line)
        if broker and row and row.group(1) in "bc":
            who = BROKER_NAMES[row.group(1)]
            parsed.figures.append(Figure(f"whole path, {broker}: {who}", "events/CPU-s", HIGHER, number(row.group(3))))
            parsed.counts[f"whole path, {broker}: {who}, events drained"] = row.group(7)
        elif broker and failed:
            parsed.counts[f"whole path, {broker}: {BROKER_NAMES[failed.group(1)]}"] = "FAILED: " + failed.group(3)
        elif broker and ratio:
            parsed.figures.append(Figure(f"whole path, {broker}: (c)/(b) events per CPU-s", "x", HIGHER,
                                         float(ratio.group(1))))
    return parsed


MEMORY_ROW = re.compile(r"^ {2}(celery State|Flower EventsState|celerytop ClusterModel)\(.*?\)\s+([\d.]+) M\s+"
                        r"([\d.]+) M\s+([\d.]+) M\s+([\d.]+) M\s+([\d,]+)\s*$")


def parse_memory(text: str) -> Parsed:
    parsed = Parsed()
    for line in text.splitlines():
        row = MEMORY_ROW.match(line)
        if not row:
            continue
        who = row.group(1) + ("" if row.group(1).startswith("celerytop") else " (same code both sides)")
        if row.group(1).startswith("celerytop"):
            parsed.figures.append(Figure(f"memory: {who}, after imports", "MiB RSS", LOWER, float(row.group(2))))
        parsed.figures.append(Figure(f"memory: {who}, tasks loaded", "MiB RSS", LOWER, float(row.group(3))))
        parsed.counts[f"memory: {who}, tasks kept"] = row.group(6)
    return parsed


RENDER_LINES = (
    (re.compile(r"^(\d+) tasks ingested in ([\d.]+) s"), "render_tasks: model built from the workload", "s"),
    (re.compile(r"^frame with refresh, lazy pane \(celerytop\):\s+([\d.]+) ms"), "frame: with refresh, lazy pane",
     "ms"),
    (re.compile(r"^frame after a new task arrived \(celerytop\):\s+([\d.]+) ms"), "frame: after a new task arrived",
     "ms"),
    (re.compile(r"^frame, eager pane \(baseline\):\s+([\d.]+) ms"), "frame: eager pane (every row built)", "ms"),
)
FILTER_LINE = re.compile(r"^filter applied, drawn and cleared:\s+([\d.]+) ms\s+(.*?): .* \(([\d,]+) tasks\)\s*$")


def parse_render(text: str) -> Parsed:
    parsed = Parsed()
    for line in text.splitlines():
        for pattern, name, unit in RENDER_LINES:
            match = pattern.match(line)
            if match:
                parsed.figures.append(Figure(name, unit, LOWER, float(match.group(match.lastindex))))
        match = FILTER_LINE.match(line)
        if match:
            name = f"filter: {match.group(2)}"
            parsed.figures.append(Figure(name, "ms", LOWER, float(match.group(1))))
            parsed.counts[f"{name}, tasks matched"] = match.group(3)
    return parsed


# -- trees and runs ----------------------------------------------------------------------------------------


def git(*args: str, cwd: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def describe(repo: str, rev: str = "HEAD") -> str:
    return textwrap.shorten(git("log", "-1", "--format=%h %s", rev, cwd=repo), 100, placeholder=" ...")


def add_worktree(repo: str, rev: str, side: str, folder: str) -> Tree:
    try:
        commit = git("rev-parse", "--verify", f"{rev}^{{commit}}", cwd=repo)
    except subprocess.CalledProcessError:
        raise SystemExit(f"no such revision: {rev}") from None
    path = os.path.join(folder, side)
    git("worktree", "add", "--detach", path, commit, cwd=repo)
    return Tree(side, path, describe(repo, commit))


def remove_worktrees(repo: str, trees: list[Tree], folder: str) -> None:
    for tree in trees:
        subprocess.run(["git", "worktree", "remove", "--force", tree.path], cwd=repo, capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run(["git", "worktree", "prune"], cwd=repo, capture_output=True)


def tree_env(tree: Tree) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([tree.path] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def check_imports(tree: Tree) -> None:
    """Refuse to measure a tree whose ``celerytop`` or ``tests`` would come from elsewhere."""
    code = "import celerytop, tests; print(celerytop.__file__); print(tests.__file__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tree.path, env=tree_env(tree), capture_output=True,
                         text=True, check=True).stdout.split()
    root = os.path.realpath(tree.path) + os.sep
    strays = [path for path in out if not os.path.realpath(path).startswith(root)]
    if strays:
        raise SystemExit(f"{tree.side}: imports resolve outside {tree.path}: {strays}")
    subprocess.run([sys.executable, "-m", "compileall", "-q", "celerytop", "tests", "benchmarks"], cwd=tree.path,
                   capture_output=True)  # a fresh worktree would otherwise compile in its first measured run


def run_script(tree: Tree, bench: Bench) -> tuple[str, str]:
    """(stdout, error) of one run of the tree's own copy of the script; its process group is ended on any exit."""
    argv = [sys.executable, os.path.join("benchmarks", bench.argv[0]), *bench.argv[1:]]
    process = subprocess.Popen(argv, cwd=tree.path, env=tree_env(tree), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = process.communicate()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    error = "" if process.returncode == 0 else f"exit {process.returncode}: {err.strip()[-600:]}"
    return out, error


# -- the report --------------------------------------------------------------------------------------------


def spread(values: list[float]) -> str:
    median = statistics.median(values)
    return f"{(max(values) - min(values)) / median:4.0%}" if len(values) > 1 and median else "   -"


def show(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def report(results: dict, order: list[str], repeats: int) -> None:
    """One row per figure: the medians before and after, after/before, and each side's spread."""
    print(f"\n{'figure':<68}{'unit':>13}{'before':>10}{'after':>10}{'after/before':>13}  {'better':<7}"
          f"{'spread b / a' if repeats > 1 else ''}")
    for name in order:
        meta = results[name]["meta"]
        before, after = results[name]["before"], results[name]["after"]
        if not before or not after:
            print(f"{name:<68}{meta.unit:>13}  missing in {'before' if not before else 'after'} (see errors)")
            continue
        b, a = statistics.median(before), statistics.median(after)
        ratio = f"{a / b:.3f}" if b else "-"
        spreads = f"{spread(before)} / {spread(after)}" if repeats > 1 else ""
        print(f"{name:<68}{meta.unit:>13}{show(b):>10}{show(a):>10}{ratio:>13}  {meta.better:<7}{spreads}")


def report_counts(counts: dict) -> None:
    differ = {name: sides for name, sides in counts.items() if sides["before"] != sides["after"]}
    if not differ:
        print(f"\nCounts that depend on behaviour ({len(counts)}: tasks kept, filter hits, events drained): "
              "the same before and after in every run.")
        return
    print("\nCounts that differ between the trees (behaviour, not speed):")
    for name, sides in differ.items():
        print(f"  {name}: before {sorted(sides['before'])}, after {sorted(sides['after'])}")


def benches(options) -> list[Bench]:
    chosen = [Bench("ingest (replay)", ["ingest.py", "--replay-only", "--events", str(options.events)], parse_replay)]
    if options.brokers:
        chosen.append(Bench("ingest (whole path)", ["ingest.py", "--no-replay", "--events", str(options.broker_events),
                                                    "--brokers", options.brokers], parse_brokers))
    chosen.append(Bench("memory", ["memory.py", "--tasks", str(options.tasks), "--long", "0"], parse_memory))
    chosen.append(Bench("render_tasks", ["render_tasks.py", str(options.tasks)], parse_render))
    return chosen


def measure(trees: list[Tree], options) -> None:
    plan = benches(options)
    results: dict = {}
    order: list[str] = []
    counts: dict = {}
    errors: list[str] = []
    total, done, started = options.repeats * len(plan) * len(trees), 0, time.perf_counter()
    for repeat in range(1, options.repeats + 1):
        for bench in plan:
            for tree in trees:
                done += 1
                print(f"[{done}/{total}] repeat {repeat}: {bench.name}, {tree.side} ... ", end="", flush=True)
                run_started = time.perf_counter()
                out, error = run_script(tree, bench)
                parsed = bench.parse(out)
                print(f"{time.perf_counter() - run_started:.0f} s, {len(parsed.figures)} figures"
                      + (f"  ERROR {error.splitlines()[-1] if error else ''}" if error else ""), flush=True)
                if options.verbose:
                    print(out)
                if error or not parsed.figures:
                    errors.append(f"{bench.name}, {tree.side}, repeat {repeat}: {error or 'no figures in: ' + out}")
                for figure in parsed.figures:
                    if figure.name not in results:
                        results[figure.name] = {"meta": figure, "before": [], "after": []}
                        order.append(figure.name)
                    results[figure.name][tree.side].append(figure.value)
                for name, value in parsed.counts.items():
                    counts.setdefault(name, {"before": set(), "after": set()})[tree.side].add(value)
    print(f"\nBefore: {trees[0].describe}\nAfter:  {trees[1].describe}")
    print(f"Median of {options.repeats} run(s) each, interleaved; {options.events:,} replay events, "
          f"{options.tasks:,} tasks (memory, render_tasks)"
          + (f", {options.broker_events:,} events per broker ({options.brokers})" if options.brokers else "")
          + f"; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; took {time.perf_counter() - started:.0f} s")
    report(results, order, options.repeats)
    print("\n'(same code both sides)' rows run celery's or Flower's code in both trees: "
          "their after/before is this run's noise.")
    report_counts(counts)
    for error in errors:
        print(f"\nERROR {error}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default=DEFAULT_BEFORE,
                        help=f"revision measured as before (default {DEFAULT_BEFORE})")
    parser.add_argument("--after", help="revision measured as after (default: this checkout as it is on disk)")
    parser.add_argument("--quick", action="store_true",
                        help="one run each, 20,000 tasks, 40,000 replay events, no brokers (a check that it works)")
    parser.add_argument("--repeats", type=int, help="runs of each script per tree (default 3; 1 with --quick)")
    parser.add_argument("--tasks", type=int, help="tasks for memory.py and render_tasks.py (default 100,000)")
    parser.add_argument("--events", type=int, help="events for ingest.py's replay figures (default 100,000)")
    parser.add_argument("--broker-events", type=int, default=10_000,
                        help="events for ingest.py's whole path, per broker and consumer (default 10,000)")
    parser.add_argument("--brokers", help="comma-separated, for the whole path (default redis,rabbitmq; "
                                          "none with --quick)")
    parser.add_argument("--no-brokers", action="store_true", help="leave the whole path through brokers out")
    parser.add_argument("--verbose", action="store_true", help="also print each script's own output")
    options = parser.parse_args(argv)
    options.repeats = options.repeats or (1 if options.quick else 3)
    options.tasks = options.tasks or (20_000 if options.quick else 100_000)
    options.events = options.events or (40_000 if options.quick else 100_000)
    if options.no_brokers or (options.quick and options.brokers is None):
        options.brokers = ""
    elif options.brokers is None:
        options.brokers = "redis,rabbitmq"
    return options


def raise_exit(signum, _frame):
    raise SystemExit(128 + signum)


def main(argv=None) -> None:
    options = parse_args(argv)
    repo = git("rev-parse", "--show-toplevel", cwd=HERE)
    folder = tempfile.mkdtemp(prefix="celerytop-before-after-")
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored (&)
    signal.signal(signal.SIGTERM, raise_exit)
    signal.signal(signal.SIGHUP, raise_exit)
    added: list[Tree] = []
    try:
        added.append(add_worktree(repo, options.before, "before", folder))
        if options.after:
            added.append(add_worktree(repo, options.after, "after", folder))
            trees = added
        else:
            dirty = " + uncommitted changes" if git("status", "--porcelain", "--untracked-files=no", cwd=repo) else ""
            trees = [added[0], Tree("after", repo, f"this checkout{dirty}, at {describe(repo)}")]
        for tree in trees:
            check_imports(tree)
        measure(trees, options)
    except subprocess.CalledProcessError as failure:
        raise SystemExit(f"{' '.join(failure.cmd)}: {failure.stderr.strip() or failure}") from None
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        remove_worktrees(repo, added, folder)


if __name__ == "__main__":
    main()
