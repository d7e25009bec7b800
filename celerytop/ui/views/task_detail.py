"""The task detail view: everything the events said about one task, and what its result backend stores."""

from __future__ import annotations

from celerytop.present import formatting, palettes
from celerytop.present.columns import FLAG_STYLES
from celerytop.ui.views.detail import DetailView, clock_ms, pretty
from celerytop.ui.widgets.lazylist import Row


class TaskDetailView(DetailView):
    def __init__(self, model, uuid: str):
        self.model = model
        self.uuid = uuid
        self.backend = None  # control.BackendResult once fetched
        self.fetching = False
        super().__init__(f" Task {formatting.sanitize(uuid)}")
        self.refresh()

    def refresh(self) -> None:
        detail = self.model.task_detail(self.uuid)
        self.anchors = {}
        lines: list = []
        if detail is None:
            self.section(lines, "Task")
            self.block(lines, ["No longer in memory (evicted), or never seen.",
                               "The result backend may still know it (r fetches)."])
            self._backend_section(lines)
            self.set_lines(lines)
            return
        self.section(lines, "Task")
        self.field(lines, "uuid", detail.uuid)
        self.field(lines, "name", detail.name)
        if detail.flag:  # LOST or STUCK (model/stuckness.py): S lists them with why
            self.field(lines, "state", f"{detail.state}  {detail.flag} (S lists why)", FLAG_STYLES[detail.flag])
        else:
            self.field(lines, "state", detail.state, palettes.state_style(detail.state))
        if detail.worker_offline:
            self.field(lines, "worker", f"{detail.worker}  worker offline: the task was running there and "
                                        "may be lost", "status.warn")
        else:
            self.field(lines, "worker", detail.worker)
        self.field(lines, "client", detail.client)
        self.field(lines, "retries", detail.retries)
        self.field(lines, "eta", detail.eta)
        self.field(lines, "expires", detail.expires)
        self.field(lines, "queue", detail.queue)
        self.field(lines, "exchange", detail.exchange)
        self.field(lines, "routing key", detail.routing_key)
        self.link(lines, "root id", detail.root_id)
        self.link(lines, "parent id", detail.parent_id)
        if not detail.children:
            self.field(lines, "children", "-")
        for child in detail.children:
            self.link(lines, "child", child)
        self._timeline(lines, detail)
        self.section(lines, "Arguments (from events: reprs, may be truncated)")
        self.pretty_field(lines, "args", detail.args)
        self.pretty_field(lines, "kwargs", detail.kwargs)
        if detail.result:
            self.section(lines, "Result (from events: a repr, may be truncated)")
            self.block(lines, pretty(detail.result))
        if detail.exception:
            self.section(lines, "Exception")
            self.block(lines, [formatting.sanitize(detail.exception)], "state.FAILURE")
        if detail.traceback:
            self.section(lines, "Traceback")
            self._traceback(lines, detail.traceback)
        self._backend_section(lines)
        self.set_lines(lines)

    def _timeline(self, lines, detail) -> None:
        """The events in lifecycle order, each with the step from the one before.

        task-sent is stamped by the client's clock and the rest by the
        worker's: a step that goes backwards is the two clocks disagreeing,
        and is said so rather than printed as a negative step.
        """
        self.section(lines, "Timeline")
        previous = None
        times: dict = {}
        for step, timestamp in detail.timeline:
            gap, skewed = "", False
            if previous is not None and isinstance(timestamp, (int, float)):
                skewed = timestamp < previous
                gap = (f"clock skew: {formatting.format_duration(previous - timestamp)} before the step above "
                       "(client and worker clocks differ)") if skewed else \
                    "+" + formatting.format_duration(timestamp - previous)
            lines.append(Row([("row", f"  {clock_ms(timestamp)}  {formatting.sanitize(step):<10} "),
                              ("status.warn" if skewed else "row", gap)]))
            if isinstance(timestamp, (int, float)):
                previous = timestamp
                if step == "retried":  # the wait shown is the last attempt's
                    times = {}
                times.setdefault(step, timestamp)
        self._waited(lines, times)
        self.field(lines, "runtime", formatting.format_duration(detail.runtime) + _runtime_span(detail.state))

    def _waited(self, lines, times: dict) -> None:
        """Time from being sent (or, without a task-sent event, received) to being started."""
        started = times.get("started")
        since = "sent" if "sent" in times else "received" if "received" in times else None
        if started is None or since is None:
            return
        wait = started - times[since]
        text = f"{formatting.format_duration(max(0.0, wait))}  ({since} → started)"
        if wait < 0:
            text += "  clock skew: the worker's clock is behind the client's"
        self.field(lines, "waited", text)

    def _traceback(self, lines, traceback: str) -> None:
        text_lines = formatting.sanitize(traceback, keep_newlines=True, limit=200000).splitlines()
        # the exception line: the last line that does not start with spaces
        last = max((i for i, line in enumerate(text_lines) if line and not line.startswith(" ")), default=-1)
        for index, line in enumerate(text_lines):
            lines.append(Row(("traceback.error" if index == last else "traceback", "  " + line)))

    def _backend_section(self, lines) -> None:
        self.section(lines, "Result backend")
        if self.fetching:
            self.block(lines, ["fetching…"])
        elif self.backend is None:
            self.block(lines, ["press r to fetch the stored result (the real value, not an event repr)"])
        elif self.backend.error:
            self.block(lines, [formatting.sanitize(self.backend.error)], "status.warn")
        else:
            self.field(lines, "state", self.backend.state, palettes.state_style(self.backend.state))
            self.pretty_field(lines, "result", self.backend.result)
            if self.backend.traceback:
                self.field(lines, "traceback", "")
                self._traceback(lines, self.backend.traceback)


def _runtime_span(state: str) -> str:
    """What the runtime measures, for the states where it is known."""
    return {"SUCCESS": "  (started → succeeded)", "FAILURE": "  (started → failed)",
            "STARTED": "  (started → now)"}.get(state, "")
