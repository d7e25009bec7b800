"""Cost of resolving a typed task-id prefix (the ``:`` prompt's Tab and Enter)
with many tasks in memory: celerytop's sorted index, brought up to date when
read (ClusterModel.task_ids_starting), against the baseline measured in the
same run, a scan of every id in memory.  The index costs ingest nothing (no
code on the event path), so each read pays for the tasks seen since the last:
reads are timed with 0, 1, 250 (a second of a 250 tasks/s cluster) and 5,000
new tasks in between.  Prints figures; asserts nothing.

    python benchmarks/task_ids.py [TASKS]
"""

import os
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from celerytop.model.cluster import ClusterModel  # noqa: E402


def add_tasks(model, count):
    for _ in range(count):
        model.on_event({"type": "task-received", "uuid": str(uuid.uuid4()), "hostname": "w1@bench",
                        "name": "bench.task", "args": "()", "kwargs": "{}"})


def scan(model, prefix, limit=10):
    """The baseline: every id in memory read for each look-up."""
    with model.lock:
        found = sorted(u for u in model._tasks if u.startswith(prefix))
    return len(found), found[:limit]


def best_ms(fn, repeat=5, between=None):
    best = float("inf")
    for _ in range(repeat):
        if between is not None:
            between()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    model = ClusterModel(max_tasks=count + 30_000)
    add_tasks(model, count)
    prefix = next(iter(model._tasks))[:4]
    assert scan(model, prefix) == model.task_ids_starting(prefix)  # the same answer both ways

    baseline = best_ms(lambda: scan(model, prefix))
    print(f"{len(model._tasks)} tasks in memory; look-up of a 4-character prefix")
    print(f"  baseline, scan of every id:        {baseline:8.2f} ms")
    fresh = ClusterModel(max_tasks=count)
    add_tasks(fresh, count)
    first = best_ms(lambda: fresh.task_ids_starting(prefix), repeat=1)
    print(f"  index, first read (built):         {first:8.2f} ms  ({first / baseline:.2f}x the scan)")
    for new in (0, 1, 250, 5000):
        took = best_ms(lambda: model.task_ids_starting(prefix), between=lambda: add_tasks(model, new))
        print(f"  index, {new:>5} new tasks since last: {took:8.2f} ms  ({took / baseline:.3f}x the scan)")


if __name__ == "__main__":
    main()
