"""The workflow view: the tree of every task linked to one (chains, groups, chords, tasks calling tasks)."""

from __future__ import annotations

import time

from celerytop.model.cluster import FINISHED_STATES
from celerytop.present import formatting, palettes
from celerytop.ui.views.detail import DetailView, TaskLink
from celerytop.ui.widgets.lazylist import LazyWalker, Row


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
