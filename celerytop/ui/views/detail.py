"""Detail views: everything about one task (or worker), scrollable.

Built from model snapshots on every refresh, keeping the scroll position,
so a task that finishes while a person reads it updates in place.
"""

from __future__ import annotations

import ast
import pprint
import time

import urwid

from celerytop.model.cluster import FINISHED_STATES
from celerytop.present import formatting, palettes
from celerytop.ui.widgets.lazylist import LabelledRow, LazyWalker, PaneListBox, Row, ScrollCommands
from celerytop.ui.widgets.panes import FOCUS_MAP

LABEL_WIDTH = 12


def pretty(text: str, width: int = 100) -> list:
    """An args/kwargs/result repr, pretty-printed when it is a Python literal."""
    if not text:
        return ["-"]
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return formatting.sanitize(text, keep_newlines=True, limit=20000).splitlines() or [""]
    shown = pprint.pformat(value, width=max(40, width))
    return formatting.sanitize(shown, keep_newlines=True, limit=20000).splitlines()


def clock_ms(timestamp) -> str:
    return formatting.format_clock_ms(timestamp)


class DetailView(ScrollCommands, urwid.WidgetWrap):
    """A titled, scrollable list of lines; subclasses say what the lines are.

    Implements the view protocol (viewstack.View); subclasses override what they do differently.
    """

    context = "detail"

    def __init__(self, title: str):
        self._title = urwid.Text(("pane.title.focus", title), wrap="clip")
        self.walker = urwid.SimpleFocusListWalker([urwid.Text("")])
        self.listbox = PaneListBox(self.walker)
        self.anchors: dict = {}  # section name -> line index
        super().__init__(urwid.Frame(self.listbox, header=urwid.AttrMap(self._title, "pane.title.focus")))

    def set_lines(self, lines) -> None:
        focus = self.walker.focus if len(self.walker) else 0
        self.walker[:] = lines or [urwid.Text("")]
        self.walker.set_focus(min(focus, len(self.walker) - 1))

    def section(self, lines, name: str) -> None:
        if lines:
            lines.append(urwid.Text(""))
        self.anchors[name] = len(lines)
        lines.append(Row(("help.section", name)))

    def field(self, lines, label: str, value, style: str = "row") -> None:
        text = value if isinstance(value, str) else ("-" if value is None else str(value))
        shown = formatting.sanitize(text) if text else ""
        lines.append(Row([("help.key", "  " + label.ljust(LABEL_WIDTH)), (style, shown)]))

    def link(self, lines, label: str, uuid: str) -> None:
        """A field naming another task: Enter on it opens that task."""
        if not uuid:
            self.field(lines, label, "-")
            return
        markup = [("help.key", "  " + label.ljust(LABEL_WIDTH)), ("row", formatting.sanitize(uuid))]
        lines.append(TaskLink(markup, uuid))

    def pretty_field(self, lines, label: str, text: str) -> None:
        """A repr, pretty-printed: on the label's line when it fits in one."""
        shown = pretty(text)
        if len(shown) == 1:
            lines.append(Row([("help.key", "  " + label.ljust(LABEL_WIDTH)), ("row", shown[0])]))
        else:
            self.field(lines, label, "")
            self.block(lines, shown)

    def block(self, lines, texts, style: str = "row") -> None:
        for text in texts:
            lines.append(Row((style, "  " + text)))

    def jump_to(self, name: str) -> bool:
        index = self.anchors.get(name)
        if index is None:
            return False
        self.walker.set_focus(index)
        self.listbox.set_focus_valign("top")
        return True

    def refresh(self) -> None:
        """Rebuild the lines: each subclass says how."""

    def reload(self) -> None:
        """Nothing to ask again: redraw."""
        self.refresh()

    def selected_task(self):
        """The task named on the line under the cursor (a TaskLink), if any."""
        widget = self.walker.get_focus()[0]
        return getattr(widget, "uuid", None)

    def selected_queue(self):
        return None


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


class TaskLink(urwid.AttrMap):
    """A line that names a task: highlighted under the cursor; Enter opens it."""

    def __init__(self, markup, uuid: str):
        super().__init__(Row(markup), None, FOCUS_MAP)
        self.uuid = uuid


class WorkerDetailView(DetailView):
    """A worker's heartbeat fields plus what ``inspect`` says, fetched in the background."""

    def __init__(self, model, hostname: str):
        self.model = model
        self.hostname = hostname
        self.inspected = None  # {'stats': ..., 'active': [...], 'reserved': [...], 'active_queues': [...]}
        self.inspected_at = None
        self.error = ""
        super().__init__(f" Worker {formatting.sanitize(hostname)}")
        self.refresh()

    def refresh(self) -> None:
        self.anchors = {}
        lines: list = []
        row = next((r for r in self.model.worker_rows() if r.hostname == self.hostname), None)
        self.section(lines, "Worker (from heartbeats)")
        if row is None:
            self.block(lines, ["No longer known."])
        else:
            self.field(lines, "status", "online" if row.online else "offline",
                       "worker.online" if row.online else "worker.offline")
            self.field(lines, "active", row.active)
            self.field(lines, "processed", row.processed)
            self.field(lines, "load", formatting.format_loadavg(row.loadavg) if row.loadavg else "-")
            self.field(lines, "heartbeat", formatting.format_age(row.heartbeat_age) + " ago")
            self.field(lines, "software", row.software)
        if self.error:
            self.section(lines, "inspect")
            self.block(lines, [formatting.sanitize(self.error)], "status.warn")
        elif self.inspected is None:
            self.section(lines, "inspect")
            self.block(lines, ["fetching stats, active and reserved tasks, queues…"])
        else:
            self._inspected(lines)
        self.set_lines(lines)

    def _inspected(self, lines) -> None:
        stats = _mapping(self.inspected.get("stats"))  # a worker's reply: any shape at all
        pool = _mapping(stats.get("pool"))
        broker = _mapping(stats.get("broker"))
        self.section(lines, f"Stats (inspect, fetched {formatting.format_clock(self.inspected_at)})")
        self.field(lines, "pid", stats.get("pid"))
        self.field(lines, "pool", pool.get("implementation"))
        self.field(lines, "concurrency", pool.get("max-concurrency"))
        processes = pool.get("processes")
        self.field(lines, "processes", ", ".join(str(p) for p in processes) if isinstance(processes, list) else "-")
        self.field(lines, "prefetch", stats.get("prefetch_count"))
        self.field(lines, "uptime", formatting.format_duration(stats.get("uptime")))
        self.field(lines, "transport", broker.get("transport"))
        totals = _mapping(stats.get("total"))
        self.section(lines, "Processed by task type")
        if not totals:
            self.block(lines, ["-"])
        for name, count in sorted(totals.items(), key=lambda item: -(formatting.as_seconds(item[1]) or 0)):
            self.field(lines, str(count), name)
        for title, key in (("Active tasks", "active"), ("Reserved tasks", "reserved")):
            self.section(lines, title)
            requests = [r for r in _sequence(self.inspected.get(key)) if isinstance(r, dict)]
            if not requests:
                self.block(lines, ["none"])
            for request in requests:
                uuid = str(request.get("id", ""))
                text = f"  {formatting.short_uuid(uuid)}  {formatting.sanitize(request.get('name'))}  " \
                       f"{formatting.args_summary(request.get('args'), request.get('kwargs'))}"
                lines.append(TaskLink(("row", text), uuid))
        self.section(lines, "Queues consumed")
        queues = [q for q in _sequence(self.inspected.get("active_queues")) if isinstance(q, dict)]
        if not queues:
            self.block(lines, ["-"])
        for queue in queues:
            exchange = _mapping(queue.get("exchange")).get("name", "")
            self.block(lines, [f"{formatting.sanitize(queue.get('name'))}  "
                               f"(exchange {formatting.sanitize(exchange)}, key {formatting.sanitize(queue.get('routing_key'))})"])


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _sequence(value) -> list:
    return value if isinstance(value, list) else []


class WorkflowView(DetailView):
    """Every task linked to one: chains, groups, chords, tasks calling tasks.

    Rows are built lazily (a chain may be 10,000 tasks deep).  Group members
    are joined through the result backend: ``lookup(view, uuids)`` asks it
    in the background and calls :meth:`groups_found` on the UI thread.
    """

    #: Seconds between result-backend lookups for tasks it did not know yet.
    LOOKUP_EVERY = 3.0

    def __init__(self, model, uuid: str, lookup=None, clock=time.monotonic):
        self.model = model
        self.uuid = uuid
        self._lookup = lookup
        self._clock = clock
        self.fetching = False
        self.answered: set = set()  # tasks the backend has told about (group, or none)
        self.pending: set = set()  # asked, but the backend had nothing stored yet
        self.lookup_error = "" if lookup is not None else "no connection to the app"
        self._last_lookup = None
        self._answers = 0  # result-backend answers so far: each may join more tasks
        self._tree, self._tree_key = None, None
        super().__init__(f" Workflow of {formatting.short_uuid(uuid)}")
        self.walker = LazyWalker(self._make_row, key=_workflow_key)
        self.listbox.body = self.walker
        self.refresh()
        self._focus_on(uuid)

    def _focus_on(self, uuid: str) -> None:
        for index, item in enumerate(self.walker.items):
            if getattr(item, "uuid", None) == uuid and item.kind != "group":
                self.walker.set_focus(index)
                return

    def selected_task(self):
        item = self.walker.focus_item
        return item.uuid if getattr(item, "kind", "group") != "group" else None

    def jump_to(self, name: str) -> bool:
        return False

    def refresh(self) -> None:
        key = (self.model.version, self._answers)
        if key != self._tree_key:  # walking a long chain costs ~0.1 s: only when something changed
            self._tree, self._tree_key = self.model.workflow_tree(self.uuid), key
        tree = self._tree
        self._maybe_look_up(tree.lookup)
        members = {node.uuid for node in tree.nodes}
        notes = [_WorkflowNote(("help.section", f"{tree.tasks} tasks  (Enter opens one; "
                                                "? placeholders were never seen)"))]
        notes += [_WorkflowNote(("status.warn", "  " + text)) for text in self.incomplete(tree, members)]
        if self.fetching:
            notes.append(_WorkflowNote(("row", "  asking the result backend which group each task is in…")))
        self.walker.replace(notes + tree.nodes)

    def incomplete(self, tree, members: set) -> list:
        """Why the tree may be missing tasks, one line each."""
        reasons = []
        if tree.missing_parents:
            reasons.append("tree may be incomplete: tasks whose parents were never seen (? lines)")
        if self.lookup_error:
            reasons.append("tree may be incomplete: group and chord members are joined through the "
                           f"result backend: {formatting.sanitize(self.lookup_error)}")
        waiting = len(self.pending & members)
        if waiting:
            reasons.append(f"tree may be incomplete: {waiting} task{'s' if waiting != 1 else ''} "
                           "not in the result backend yet (running, or no result stored): their group is unknown")
        return reasons

    def _maybe_look_up(self, candidates) -> None:
        wanted = [uuid for uuid in candidates if uuid not in self.answered]
        now = self._clock()
        if not wanted or self._lookup is None or self.fetching or (
                self._last_lookup is not None and now - self._last_lookup < self.LOOKUP_EVERY):
            return
        self.fetching = True
        self._last_lookup = now
        self._lookup(self, wanted)

    def groups_found(self, asked, found) -> None:
        """The result backend's answer (a control.GroupLookup) for ``asked``: on the UI thread."""
        self.fetching = False
        self._answers += 1
        self.model.note_groups(found.groups)
        self.lookup_error = found.error
        if not found.error:
            # a finished task the backend does not know stores no result (celery.chord_unlock, ignore_result)
            self.pending = {uuid for uuid in found.pending if self._unfinished(uuid)}
            self.answered.update(uuid for uuid in asked if uuid not in self.pending)
        self.refresh()

    def _unfinished(self, uuid: str) -> bool:
        row = self.model.task_row(uuid)
        return row is not None and row.state not in FINISHED_STATES

    def _make_row(self, item):
        if isinstance(item, _WorkflowNote):
            return Row(item.markup)
        indent = _tree_indent(item.depth)
        if item.kind == "group":
            markup = [("row", indent), ("help.key", f"group {formatting.short_uuid(item.uuid)}"),
                      ("row", f"  ({item.size} tasks, from the result backend)")]
        elif (row := self.model.task_row(item.uuid)) is None:  # never seen, or evicted since
            markup = [("row", indent), ("state.other", f"? {formatting.short_uuid(item.uuid)}  (not seen)")]
        else:
            markup = [
                ("row", indent),
                (palettes.state_style(row.state), f"{formatting.sanitize(row.state):<8}"),
                ("row", f" {formatting.sanitize(row.name) or '?'}  {formatting.short_uuid(item.uuid)}  "
                        f"{formatting.format_duration(row.runtime)}"),
            ]
        if item.uuid == self.uuid and item.kind != "group":
            markup.append(("mark", "  ◀"))
        return TaskLink(markup, item.uuid if item.kind != "group" else None)


#: Levels drawn as indentation; deeper ones (a long chain) say their depth instead.
INDENT_LEVELS = 12


def _tree_indent(depth: int) -> str:
    if depth > INDENT_LEVELS:
        return "  " + "   " * (INDENT_LEVELS - 1) + f"└─{depth}─ "
    return "  " + "   " * max(0, depth - 1) + ("└─ " if depth else "")


class _WorkflowNote:
    """A line above the tree: the count, and why the tree may be incomplete."""

    __slots__ = ("markup",)

    def __init__(self, markup):
        self.markup = markup


def _workflow_key(item):
    return ("note", item.markup[1]) if isinstance(item, _WorkflowNote) else (item.kind, item.uuid)


class AuditView(DetailView):
    """This session's commands and every worker's reply, newest first."""

    def __init__(self, audit):
        self.audit = audit
        where = audit.path or "not written to a file (--no-audit-log)"
        super().__init__(f" Commands sent — audit log: {formatting.sanitize(where)}")
        self.refresh()

    def refresh(self) -> None:
        """Every line wraps: the reply that matters is often the longest one."""
        lines = []
        if not self.audit.entries:
            lines.append(Row(("row", "  No command sent yet in this session.")))
        for entry in reversed(self.audit.entries):
            if lines:
                lines.append(urwid.Text(""))
            title = f"{entry['time']}  {entry['command']}  → {entry['destination']}"
            lines.append(Row(("help.section", formatting.sanitize(title)), wrap="space"))
            replies = sorted(entry.get("replies", {}).items())
            labels = ["arguments", "sent"] + [host for host, _ in replies] + list(entry.get("no_reply", ()))
            # the widest label, unless one so long it goes on a line of its own anyway
            width = max([LABEL_WIDTH] + [n for n in map(len, labels) if n <= 3 * LABEL_WIDTH])

            def field(label, text, style="row"):
                lines.append(LabelledRow(formatting.sanitize(label), formatting.sanitize(text), width,
                                         text_style=style))

            field("arguments", repr(entry["arguments"]))
            for host, reply in replies:
                ok = "ok" in reply
                field(host, ("ok: " if ok else "error: ") + str(next(iter(reply.values()))),
                      "worker.online" if ok else "worker.offline")
            for host in entry.get("no_reply", ()):
                field(host, "no reply within the timeout", "status.warn")
            if entry.get("sent"):
                field("sent", entry["sent"])
        self.set_lines(lines)
