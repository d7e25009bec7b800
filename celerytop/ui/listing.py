"""What the workers and tasks panes list: their filters, the sort order, the folded
offline workers, and the titles that say so."""

from __future__ import annotations

from typing import Callable

from celerytop.model import filtering
from celerytop.model.sorting import SORT_ORDER, SORTS
from celerytop.present.columns import FoldedWorkers, fold_offline
from celerytop.ui.widgets.prompt import Prompt

#: What 'f' cycles through.
STATE_FILTERS = ("", "state:FAILURE", "state:STARTED", "state:RETRY", "state:RECEIVED", "state:SUCCESS")

#: The column header each sort key marks with an arrow.
SORT_TITLES = {"received": "RECEIVED", "name": "NAME", "state": "STATE", "worker": "WORKER",
               "runtime": "RUNTIME", "uuid": "UUID"}


class Listing:
    """Fills both panes from the model on each refresh, as filtered and sorted."""

    def __init__(self, model, tasks, workers, selection, stack, *, say: Callable, refresh: Callable,
                 fold_offline_after: float | None):
        self.model = model
        self.tasks = tasks
        self.workers = workers
        self.selection = selection  # its marks are kept only on what is listed
        self.stack = stack  # for the filter prompts
        self._say = say
        self._refresh = refresh  # refresh(reset_cursor=False): the whole screen
        self.fold_offline_after = fold_offline_after  # seconds; None never folds
        self.show_folded = False  # 'o' lists the workers folded into '+N offline'
        self.task_filter = filtering.EMPTY
        self.worker_filter = filtering.NO_HOSTS_FILTER
        self.sort = "received"
        self.descending = None  # None: the sort column's natural direction
        self.follow_uuid = None  # the cursor goes to this task once it is listed
        self._task_version = -1

    # -- filling the panes ----------------------------------------------------------------
    def fill_workers(self, summary, all_rows) -> None:
        rows = self.worker_filter.narrow(all_rows)
        self.workers.set_items(fold_offline(rows, self.fold_offline_after, self.show_folded))
        self.selection.forget_hidden_workers()
        self.workers.set_title(self._workers_title(summary, len(rows)))
        self.workers.set_empty_text(" No worker matches the filter (Esc clears it)." if self.worker_filter
                                    else " No workers seen yet.")

    def fill_tasks(self, summary, reset_cursor: bool = False) -> None:
        version = self.model.version
        following = self.tasks.walker.focus == 0 or reset_cursor
        if version != self._task_version:
            self._task_version = version
            self.tasks.set_items(self.model.query(self.task_filter, self.sort, self.descending),
                                 follow_top=following)
        else:
            self.tasks.walker.invalidate()  # runtimes of started tasks tick on
        self.selection.forget_evicted_tasks(self.model.has_task)
        if self.follow_uuid is not None and self.follow_uuid in self.tasks.walker.items:
            self.tasks.walker.set_focus(self.tasks.walker.items.index(self.follow_uuid))
            self.follow_uuid = None
        self.tasks.set_title(self._tasks_title(summary, following))
        self.tasks.set_empty_text(" No task matches the filter (Esc clears it)." if self.task_filter
                                  else " No tasks seen yet.")
        self.tasks.set_sorted_by(SORT_TITLES[self.sort], self._descending())

    def filter_of(self, pane: str):
        return self.worker_filter if pane == "workers" else self.task_filter

    def _descending(self) -> bool:
        """The direction in force: the sort column's natural one unless inverted."""
        return SORTS[self.sort][1] if self.descending is None else self.descending

    def _workers_title(self, summary, shown: int) -> str:
        title = f" Workers  {summary.workers_online} online / {summary.workers_total} known"
        if self.worker_filter:
            title = f" Workers  {shown} of {summary.workers_total} match '{self.worker_filter.text}'"
        if self.selection.worker_marks:
            title += f"  · {len(self.selection.worker_marks)} marked: commands go to them"
        return title

    def _tasks_title(self, summary, following: bool) -> str:
        shown = len(self.tasks.walker.items)
        if self.task_filter:
            title = f" Tasks  {shown} of {summary.task_count} match '{self.task_filter.text}'"
        else:
            title = f" Tasks  {summary.task_count} in memory"
        if self.sort == "received" and self._descending():
            title += ", newest first"
            if following and shown:
                title += "  · following new tasks"
        else:
            title += f", by {self.sort} {'descending' if self._descending() else 'ascending'}"
        if self.selection.marks:
            title += f"  · {len(self.selection.marks)} marked"
        return title

    # -- filters ------------------------------------------------------------------------
    def open_filter_prompt(self) -> None:
        def submitted(text):
            self.stack.close_prompt()
            self.apply_filter(text)

        self.stack.open_prompt(Prompt("/", self.task_filter.text, submitted, self.stack.close_prompt))

    def open_worker_filter_prompt(self) -> None:
        def submitted(text):
            self.stack.close_prompt()
            self.apply_worker_filter(text)

        self.stack.open_prompt(Prompt("/ workers: ", self.worker_filter.text, submitted, self.stack.close_prompt))

    def apply_filter(self, text: str) -> None:
        try:
            new = filtering.parse(text)
        except filtering.FilterError as exc:
            self._say(f"Bad filter, kept the previous one: {exc}")
            return
        self.task_filter = new
        self._task_version = -1
        self._refresh(reset_cursor=True)
        if new:
            self._say(f"{len(self.tasks.walker.items)} tasks match {new.text}",
                      holds=lambda: self.task_filter is new)

    def apply_worker_filter(self, text: str) -> None:
        try:
            self.worker_filter = filtering.parse_hosts(text)
        except filtering.FilterError as exc:
            self._say(f"Bad filter, kept the previous one: {exc}")
            return
        self._refresh()

    def cycle_state_filter(self) -> None:
        current = self.task_filter.text
        index = STATE_FILTERS.index(current) if current in STATE_FILTERS else 0
        self.apply_filter(STATE_FILTERS[(index + 1) % len(STATE_FILTERS)])

    def toggle_offline_workers(self) -> None:
        """List the workers folded into '+N offline', or fold them again."""
        self.show_folded = not self.show_folded
        self._refresh()
        if not any(isinstance(row, FoldedWorkers) for row in self.workers.walker.items):
            self._say("No worker has been offline for long enough to fold")

    # -- sort and moves -------------------------------------------------------------------
    def change_sort(self, step: int) -> None:
        index = SORT_ORDER.index(self.sort)
        self.sort = SORT_ORDER[(index + step) % len(SORT_ORDER)]
        self.descending = None
        self._task_version = -1
        self._refresh(reset_cursor=True)

    def invert_sort(self) -> None:
        self.descending = not self._descending()
        self._task_version = -1
        self._refresh(reset_cursor=True)

    def next_failure(self) -> None:
        walker = self.tasks.walker
        count = len(walker.items)
        for step in range(1, count + 1):
            position = (walker.focus + step) % count
            row = self.model.task_row(walker.items[position])
            if row is not None and row.state == "FAILURE":
                walker.set_focus(position)
                return
        self._say("No failed task in the list")
