"""Opening and scrolling the workflow tree of one long chain.

A chain of N tasks (default 10,000) is N levels deep: the tree used to be
walked recursively (RecursionError past ~1,000 links, ending the monitor)
and drawn as one widget per task.  Measured here, with the baseline in the
same run: the tasks pane showing the same N tasks (query + one frame), what
a person sees before pressing ``w``.  Prints figures; asserts nothing.

    python benchmarks/workflow.py [TASKS]
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from celerytop.model.cluster import ClusterModel  # noqa: E402
from celerytop.present.columns import TASK_COLUMNS, task_cells  # noqa: E402
from celerytop.ui.views.workflow_view import WorkflowView  # noqa: E402
from celerytop.ui.widgets.panes import Pane  # noqa: E402
from tests.test_workflow import chain_events  # noqa: E402

COLS, ROWS = 120, 50


def best_of(runs, action):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main(count: int) -> None:
    model = ClusterModel(max_tasks=count)
    for event in chain_events(count):
        model.on_event(dict(event))
    middle = f"link-{count // 2:05d}"
    pane = Pane(TASK_COLUMNS, lambda uuid: task_cells(model.task_row(uuid)))

    def tasks_pane():
        pane.set_items(model.query())
        pane.render((COLS, ROWS), focus=True)

    def open_workflow():
        WorkflowView(model, middle).render((COLS, ROWS), focus=True)

    view = WorkflowView(model, middle)

    def scroll_page():
        view.move("page down")
        view.render((COLS, ROWS), focus=True)

    def tick():  # the screen's refresh while the tree is open and nothing changed
        view.refresh()
        view.render((COLS, ROWS), focus=True)

    baseline = best_of(5, tasks_pane)
    opened = best_of(5, open_workflow)
    scrolled = best_of(20, scroll_page)
    ticked = best_of(20, tick)
    print(f"chain of {count} tasks, {COLS}x{ROWS}")
    print(f"  tasks pane (baseline): {baseline * 1000:8.1f} ms")
    print(f"  open workflow tree:    {opened * 1000:8.1f} ms  ({opened / baseline:.1f}x the baseline)")
    print(f"  page down in the tree: {scrolled * 1000:8.1f} ms  ({scrolled / baseline:.2f}x the baseline)")
    print(f"  refresh, tree open:    {ticked * 1000:8.1f} ms  ({ticked / baseline:.2f}x the baseline)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
