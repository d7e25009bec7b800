"""What a command acts on: the marked tasks and workers, else the row under the cursor."""

from __future__ import annotations

from typing import Callable


class Selection:
    """The marks of both panes and the selected task and worker."""

    def __init__(self, tasks, workers, stack, focused_pane: Callable[[], str]):
        self.tasks = tasks  # the tasks Pane: its rows are task ids
        self.workers = workers  # the workers Pane: its rows are WorkerRows (or a FoldedWorkers line)
        self._stack = stack
        self._focused_pane = focused_pane
        self.marks: set = set()  # task ids
        self.worker_marks: set = set()  # hostnames

    def selected_task(self):
        """The task under the cursor: on the view on top, else in the tasks pane when it has the focus."""
        if self._stack.top is not None:
            return self._stack.top.selected_task()
        if self._focused_pane() == "tasks":
            return self.tasks.walker.focus_item
        return None

    def selected_worker(self):
        """The hostname under the workers pane's cursor, else None."""
        row = self.workers.walker.focus_item
        return row.hostname if row is not None else None

    # -- marks ------------------------------------------------------------------
    def _focused_marks(self):
        if self._focused_pane() == "workers":
            return self.workers, self.worker_marks, self.selected_worker()
        return self.tasks, self.marks, self.tasks.walker.focus_item

    def toggle_mark(self) -> None:
        pane, marks, key = self._focused_marks()
        if key is None:
            return
        marks.symmetric_difference_update({key})
        pane.walker.invalidate()
        pane.move("down")

    def clear_marks(self) -> None:
        pane, marks, _key = self._focused_marks()
        marks.clear()
        pane.walker.invalidate()

    def mark_all_workers(self) -> None:
        self.worker_marks.update(row.hostname for row in self.workers.walker.items if row.hostname)
        self.workers.walker.invalidate()

    def use_marks(self, kind: str) -> str:
        """Clear the 'tasks' or 'workers' marks once a command used them; the words saying so, or ''."""
        marks, pane = ((self.marks, self.tasks) if kind == "tasks"
                       else (self.worker_marks, self.workers) if kind == "workers" else ((), None))
        if not marks:
            return ""
        count = len(marks)
        marks.clear()
        pane.walker.invalidate()
        return f"{count} mark{'s' if count != 1 else ''} cleared · "

    def forget_hidden_workers(self) -> None:
        """A worker the filter or the fold hides keeps no mark: commands go only to workers on screen."""
        self.worker_marks.intersection_update(row.hostname for row in self.workers.walker.items)

    def forget_evicted_tasks(self, has_task: Callable[[str], bool]) -> None:
        if self.marks:
            self.marks.intersection_update({uuid for uuid in self.marks if has_task(uuid)})
