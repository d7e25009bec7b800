"""Memory: RSS of celerytop's model holding many tasks, next to a bare celery ``State``.

    python benchmarks/memory.py [--tasks 100000] [--max-failures 5000] [--long 3] [--whole]

Every figure comes from a fresh spawned process fed the workload's events
(replay path, no broker: each event built as the ``Receiver`` delivers it,
see workload.py), reading VmRSS and VmHWM from /proc/self/status after a
``gc.collect()``.

1. TASKS tasks loaded: celerytop's ``ClusterModel(max_tasks=TASKS,
   max_failures=...)`` in a process that has also imported the monitor's
   screen modules (what a running celerytop holds), against a bare
   ``State(max_tasks_in_memory=TASKS)`` in a process that imports only celery,
   and, when Flower is installed, Flower's ``EventsState`` (its State with
   its counters) in a process that has imported ``flower.app``.
2. A long run beyond the bound: LONG x TASKS tasks through the same two,
   still bounded at TASKS, RSS read after every TASKS tasks, to show whether
   it stays flat.
3. With ``--whole``: the real program, not just its model.  A recording
   of the workload with about TASKS tasks is replayed at ``--speed 0`` into
   ``celerytop --max-tasks TASKS --max-failures ...`` running its screen in
   a pseudo-terminal (read through pyte, as the screen tests do); VmRSS
   and VmHWM of that process from /proc once the replay has ended.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.util
import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

TARGET_MIB = 150
SPAWN = multiprocessing.get_context("spawn")


def proc_status(pid="self") -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process (this one by default) in MiB."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def build(kind: str, bound: int, max_failures: int):
    """(holder, handler, count of tasks kept) for 'state' or 'celerytop'."""
    if kind == "state":
        from celery.events.state import State

        state = State(max_tasks_in_memory=bound)
        return state, state.event, lambda: len(state.tasks)
    if kind == "flower":
        importlib.import_module("flower.app")  # what a running Flower has loaded: tornado, its handlers
        from flower.events import EventsState

        state = EventsState(max_tasks_in_memory=bound)
        return state, state.event, lambda: len(state.tasks)
    from celerytop.model.cluster import ClusterModel

    for module in ("celerytop.launch", "celerytop.ui.app"):  # what a running monitor has loaded
        importlib.import_module(module)

    model = ClusterModel(max_tasks=bound, max_failures=max_failures)
    return model, model.on_event, lambda: model.summary().task_count


def load(kind: str, total_tasks: int, bound: int, max_failures: int, every: int) -> dict:
    """In a fresh process: feed ``total_tasks`` tasks; RSS after imports and after every ``every`` tasks."""
    import workload

    holder, handler, tasks_kept = build(kind, bound, max_failures)
    gc.collect()
    imported = proc_status()[0]
    samples = []
    sent = 0
    started = time.perf_counter()

    def sample(count):
        gc.collect()
        rss, _ = proc_status()
        samples.append((count, rss, tasks_kept()))

    for event in workload.receiver_events(workload.stream(tasks=total_tasks)):
        if event["type"] == "task-sent":
            if sent and sent % every == 0:
                sample(sent)  # before the next task: the last ones have (nearly all) finished
            sent += 1
        handler(event)
    sample(sent)
    _, peak = proc_status()
    return {"imported": imported, "samples": samples, "peak": peak, "seconds": time.perf_counter() - started}


def run_in_subprocess(function, *args):
    with SPAWN.Pool(1) as pool:
        return pool.apply(function, args)


def label(kind: str, bound: int, max_failures: int) -> str:
    if kind == "state":
        return f"celery State(max_tasks_in_memory={bound:,})"
    if kind == "flower":
        return f"Flower EventsState(max_tasks_in_memory={bound:,})"
    return f"celerytop ClusterModel({bound:,}, max_failures={max_failures:,})"


def loaded_section(options) -> None:
    tasks = options.tasks
    print(f"{tasks:,} tasks loaded (args reprs of ~220 chars, kwargs ~105, 5 % failed with ~2 KB tracebacks)")
    print(f"  {'':<54}{'imports':>9}  {'loaded':>9}  {'growth':>9}  {'peak':>9}  {'kept':>8}")
    figures = {}
    for kind in kinds():
        result = run_in_subprocess(load, kind, tasks, tasks, options.max_failures, tasks)
        _, rss, kept = result["samples"][-1]
        figures[kind] = rss
        print(f"  {label(kind, tasks, options.max_failures):<54}{result['imported']:7.1f} M  {rss:7.1f} M  "
              f"{rss - result['imported']:7.1f} M  {result['peak']:7.1f} M  {kept:>8,}")
    verdict = "met" if figures["celerytop"] <= TARGET_MIB else (
        f"not met, {figures['celerytop'] - TARGET_MIB:.0f} MiB over")
    print(f"  (M = MiB RSS) celerytop / State: {figures['celerytop'] / figures['state']:.2f}x;  "
          f"target {TARGET_MIB} MiB with {tasks:,} tasks: {verdict}")
    if "flower" in figures:
        ratio = figures["celerytop"] / figures["flower"]
        print(f"  celerytop / Flower: {ratio:.2f}x  (target at most 0.33: {'met' if ratio <= 1 / 3 else 'not met'})")
    else:
        print("  Flower: not installed (pip install flower to add it as a baseline)")


def long_section(options) -> None:
    tasks, total = options.tasks, options.tasks * options.long
    print(f"\nLong run: {total:,} tasks through a bound of {tasks:,} (RSS in MiB after every {tasks:,} tasks)")
    header = "".join(f"{f'at {k * tasks // 1000}k':>10}" for k in range(1, options.long + 1))
    print(f"  {'':<54}{header}{'peak':>9}  {'kept':>8}  {'time':>7}")
    for kind in kinds():
        result = run_in_subprocess(load, kind, total, tasks, options.max_failures, tasks)
        row = "".join(f"{rss:10.1f}" for _, rss, _ in result["samples"])
        kept = result["samples"][-1][2]
        print(f"  {label(kind, tasks, options.max_failures):<54}{row}{result['peak']:9.1f}  {kept:>8,}"
              f"  {result['seconds']:6.0f}s")


def whole_section(options) -> None:
    """The real program's screen, replaying about ``options.tasks`` tasks."""
    import tempfile

    import workload

    from tests.terminal import Terminal

    events = options.tasks * 41 // 10  # about four events a task, plus the workers'
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "workload.jsonl")
        workload.write_recording(path, events)
        argv = [sys.executable, "-m", "celerytop", "--replay", path, "--speed", "0",
                "--max-tasks", str(options.tasks), "--max-failures", str(options.max_failures)]
        with Terminal(argv, cols=120, rows=50) as term:
            started = time.perf_counter()
            term.wait_for(" ended", timeout=1800)
            seconds = time.perf_counter() - started
            time.sleep(2)  # a last refresh or two
            rss, peak = proc_status(term.pid)
            tasks_line = next((line.strip() for line in term.lines() if "Tasks " in line), "")
            term.press("q")
            term.wait_exit(timeout=30)
    print(f"\nThe real program: celerytop's screen (120x50) replaying {events:,} workload events at --speed 0, "
          f"--max-tasks {options.tasks:,} --max-failures {options.max_failures:,}")
    print(f"  replay ended after {seconds:.0f} s; VmRSS {rss:.1f} MiB, peak VmHWM {peak:.1f} MiB")
    print(f"  its screen then: {tasks_line}")
    verdict = "met" if peak <= TARGET_MIB else "not met"
    print(f"  target {TARGET_MIB} MiB: {verdict} (peak)")


def kinds() -> tuple:
    flower = importlib.util.find_spec("flower") is not None
    return ("state",) + (("flower",) if flower else ()) + ("celerytop",)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000, help="tasks kept (default 100,000)")
    parser.add_argument("--max-failures", type=int, default=5000, help="celerytop's failure bound (default 5,000)")
    parser.add_argument("--long", type=int, default=3, help="the long run feeds this many times --tasks (0: skip)")
    parser.add_argument("--whole", action="store_true", help="also measure the real program's screen on a replay")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    options = parse_args(argv)
    print(f"celerytop memory benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"Python {sys.version.split()[0]}\n")
    loaded_section(options)
    if options.long > 1:
        long_section(options)
    if options.whole:
        whole_section(options)


if __name__ == "__main__":
    main()
