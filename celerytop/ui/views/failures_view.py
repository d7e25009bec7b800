"""The failures view (``F``, ``:failures``): every failure seen, grouped, sorted and filtered; and a kept example.

The groups come from the model (model/failgroups.py), counted as task-failed
events arrive, so they include failures no longer in memory.  Enter on a
group filters the tasks pane to its members and ``t`` shows its example's
traceback (ui/controllers/failures.py does both).  Each group's LAST HOUR is a
sparkline of its failures, one character per 5 minutes (the model keeps them
per minute: model/failhistory.py).
"""

from __future__ import annotations

from celerytop.model import failhistory
from celerytop.present import formatting, table
from celerytop.present.sparkline import sparkline
from celerytop.ui.views.detail import DetailView
from celerytop.ui.widgets.lazylist import Row
from celerytop.ui.widgets.panes import ItemRow

#: Sort columns: the title marked with the arrow, how to read the key, whether it starts descending.
SORTS = {
    "count": ("COUNT", lambda g: g["count"], True),
    "last": ("LAST", lambda g: g["last_seen"] or 0.0, True),
    "first": ("FIRST", lambda g: g["first_seen"] or 0.0, True),
    "name": ("TASK", lambda g: g["name"].lower(), False),
    "exception": ("EXCEPTION", lambda g: g["exception"].lower(), False),
    "message": ("MESSAGE", lambda g: g["message"].lower(), False),
}
SORT_ORDER = tuple(SORTS)
NAME_WIDTH, TYPE_WIDTH, MESSAGE_WIDTH = 28, 20, 46
#: Minutes per character of the LAST HOUR sparkline.
MINUTES_PER_MARK = 5
SPARK_WIDTH = failhistory.SHOWN // MINUTES_PER_MARK


def hour_sparkline(per_minute: list, ascii: bool = False) -> str:
    """Failures per minute as one mark per MINUTES_PER_MARK minutes, oldest left; blank when none."""
    per_minute = list(per_minute or [0] * failhistory.SHOWN)
    marks = [sum(per_minute[i:i + MINUTES_PER_MARK]) for i in range(0, len(per_minute), MINUTES_PER_MARK)]
    return sparkline(marks, ascii)


def workers_text(group: dict) -> str:
    """The workers' names kept, and '+more' when others failed it too."""
    shown = ", ".join(group["workers"])
    return shown + (" +more" if group["more_workers"] else "")


def matches(group: dict, needle: str) -> bool:
    """The view's ``/`` filter: a substring of the task name, exception type or message (any case)."""
    return needle in f"{group['name']}\0{group['exception']}\0{group['message']}".lower()



class FailuresView(DetailView):
    context = "failures"

    def __init__(self, model, ascii: bool = False):
        self.model = model
        self.ascii = ascii  # sparklines in ASCII
        self.sort = "count"
        self.descending = None  # None: the column's natural direction
        self.filter_text = ""
        self.shown = 0
        super().__init__(" Failures")
        self.refresh()

    def _descending(self) -> bool:
        return SORTS[self.sort][2] if self.descending is None else self.descending

    def change_sort(self, step: int) -> None:
        self.sort = SORT_ORDER[(SORT_ORDER.index(self.sort) + step) % len(SORT_ORDER)]
        self.descending = None
        self.refresh()

    def invert_sort(self) -> None:
        self.descending = not self._descending()
        self.refresh()

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        self.refresh()

    def selected_group(self):
        widget = self.walker.get_focus()[0]
        return getattr(widget, "item", None)

    def selected_task(self):
        group = self.selected_group()
        return group["example_task_id"] if group is not None else None

    def refresh(self) -> None:
        groups = self.model.failure_groups()
        history = self.model.failure_history()
        total = sum(g["count"] for g in groups)
        needle = self.filter_text.lower()
        listed = [g for g in groups if matches(g, needle)] if needle else groups
        title, key, _ = SORTS[self.sort]
        listed = sorted(listed, key=key, reverse=self._descending())
        listed.sort(key=lambda g: g["id"] == "other")  # (other) stays last
        self.shown = len(listed)
        heading = f" Failures  {total} seen in {len(groups)} group(s)"
        if needle:
            heading += f", {len(listed)} match '{formatting.sanitize(self.filter_text)}'"
        heading += f", by {title.lower()} {'descending' if self._descending() else 'ascending'}"
        self._title.set_text(("pane.title.focus", heading + "  (Enter: its tasks, t: traceback, /: filter)"))
        now = self.model.now()
        arrow = table.sort_arrow(self._descending(), self.ascii)
        columns = [("TASK", NAME_WIDTH), ("EXCEPTION", TYPE_WIDTH), ("MESSAGE", MESSAGE_WIDTH), ("COUNT", 6),
                   ("FIRST", 8), ("LAST", 8), ("LAST HOUR", SPARK_WIDTH)]
        head = "  ".join(formatting.fit(name + (arrow if name == title else ""), width,
                                        "right" if name in ("COUNT", "FIRST", "LAST") else "left")
                         for name, width in columns)
        lines: list = [Row(("column.head", f"  {head}  WORKERS"))]
        if not groups:
            lines.append(Row(("row", "  No failure seen yet.")))
        elif not listed:
            lines.append(Row(("row", "  No group matches the filter (/ then Enter on nothing clears it).")))
        for group in listed:
            cells = [
                formatting.fit(formatting.sanitize(group["name"] or "?"), NAME_WIDTH),
                formatting.fit(formatting.sanitize(group["exception"] or "-"), TYPE_WIDTH),
                formatting.fit(formatting.sanitize(group["message"]), MESSAGE_WIDTH),
                formatting.fit(str(group["count"]), 6, "right"),
                formatting.fit(_age(now, group["first_seen"]), 8, "right"),
                formatting.fit(_age(now, group["last_seen"]), 8, "right"),
            ]
            spark = hour_sparkline(history.get(group["id"]), self.ascii)
            style = "status.warn" if group["id"] == "other" else "row"
            markup = [(style, "  " + "  ".join(cells) + "  "), ("state.FAILURE", spark),
                      ("row", "  " + formatting.sanitize(workers_text(group)))]
            lines.append(ItemRow(markup, group))
        self.set_lines(lines)
        if len(self.walker) > 1 and self.walker.focus == 0:
            self.walker.set_focus(1)  # the cursor starts on the first group, not the heading


def _age(now: float, then) -> str:
    if not then:
        return "-"
    return formatting.format_age(max(0.0, now - then))


class FailureExampleView(DetailView):
    """A group's example failure as the group kept it: for when the task itself is no longer in memory."""

    def __init__(self, group: dict):
        self.group = group
        super().__init__(f" Failure example {formatting.sanitize(group['example_task_id'])} (kept by its group)")
        self.refresh()

    def refresh(self) -> None:
        group = self.group
        self.anchors = {}
        lines: list = []
        self.section(lines, "Failure group")
        self.field(lines, "task", group["name"] or "?")
        self.field(lines, "exception", group["exception"] or "-")
        self.field(lines, "message", group["message"])
        self.field(lines, "count", str(group["count"]))
        self.field(lines, "first seen", formatting.format_clock(group["first_seen"]))
        self.field(lines, "last seen", formatting.format_clock(group["last_seen"]))
        self.field(lines, "workers", workers_text(group))
        self.section(lines, "Example (the latest failure; the task is no longer in memory)")
        self.field(lines, "uuid", group["example_task_id"])
        self.field(lines, "exception", group["example_exception"])
        self.section(lines, "Traceback")
        text = formatting.sanitize(group["example_traceback"] or "(none sent)", keep_newlines=True, limit=200000)
        self.block(lines, text.splitlines(), "traceback")
        self.set_lines(lines)
