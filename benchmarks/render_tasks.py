"""Frame cost of the tasks pane with many tasks in memory, lazy vs eager, and filters over them.

The tasks are the benchmark workload's (workload.py: args reprs of ~220
characters, kwargs ~105, 5 % failed with tracebacks), all kept.

Baseline, measured in the same run: the naive pane that builds one row
widget per task up front (urwid's SimpleFocusListWalker). celerytop's pane
builds only the rows on screen.  Each filter is timed applied to every
task, drawn, and cleared again.  Prints figures; asserts nothing.

    python benchmarks/render_tasks.py [TASKS]
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import urwid  # noqa: E402

from celerytop.events.capture import ConnectionStatus  # noqa: E402
from celerytop.model.cluster import ClusterModel  # noqa: E402
from celerytop.model.filtering import parse  # noqa: E402
from celerytop.present import table  # noqa: E402
from celerytop.present.columns import TASK_COLUMNS, task_cells  # noqa: E402
from celerytop.ui.app import MonitorApp  # noqa: E402
from celerytop.ui.widgets.lazylist import Row  # noqa: E402
from tests.events import task_lifecycle  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workload  # noqa: E402

COLS, ROWS = 120, 50


#: (what it shows, the filter): field globs, the worst case of free text
#: (found nowhere, so every field of every task is read) and a glob over args.
FILTERS = (
    ("three field terms", "name:shop.orders.* !state:FAILURE worker:*worker-1?"),
    ("one field", "state:FAILURE"),
    ("free text found nowhere", "no-such-text"),
    ("glob with ? over args", "args:*SKU-0042?*"),
    ("substring of kwargs", "kwargs:*'de_DE'*"),
)


def build_model(count):
    model = ClusterModel(max_tasks=count, max_failures=count)
    for event in workload.receiver_events(workload.stream(tasks=count)):
        model.on_event(event)
    return model


def timed(fn, repeat=5):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    start = time.perf_counter()
    model = build_model(count)
    print(f"{count} tasks ingested in {time.perf_counter() - start:.1f} s")

    app = MonitorApp(model, ConnectionStatus())

    def lazy_frame():
        app.refresh()
        app.root.render((COLS, ROWS), focus=True)

    def frame_after_new_task():
        for event in task_lifecycle(name="proj.new")[1]:
            model.on_event(event)
        lazy_frame()

    widths = table.layout(TASK_COLUMNS, COLS)

    def eager_frame():
        rows = [Row(table.row_markup(task_cells(model.task_row(u)), TASK_COLUMNS, widths))
                for u in model.query()]
        urwid.ListBox(urwid.SimpleFocusListWalker(rows)).render((COLS, ROWS - 5), focus=True)

    def filtered_frame(text):
        def run():
            app.listing.apply_filter(text)
            app.root.render((COLS, ROWS), focus=True)
            app.listing.apply_filter("")
        return run

    lazy = timed(lazy_frame)
    filtered = [(label, text, timed(filtered_frame(text), repeat=3), len(model.query(parse(text))))
                for label, text in FILTERS]
    changed = timed(frame_after_new_task)
    eager = timed(eager_frame, repeat=2)
    print(f"frame with refresh, lazy pane (celerytop): {lazy * 1000:8.1f} ms")
    print(f"frame after a new task arrived (celerytop): {changed * 1000:7.1f} ms")
    for label, text, seconds, hits in filtered:
        print(f"filter applied, drawn and cleared: {seconds * 1000:6.1f} ms  {label}: {text!r} ({hits:,} tasks)")
    print(f"frame, eager pane (baseline):              {eager * 1000:8.1f} ms")
    print(f"ratio baseline / celerytop:                {eager / lazy:8.1f}x")


if __name__ == "__main__":
    main()
