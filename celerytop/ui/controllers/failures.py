"""The failures view's keys: open it, sort and filter it, list a group's tasks, show a group's example traceback."""

from __future__ import annotations

import shlex

from celerytop.ui.controllers.table_keys import TableViewKeys
from celerytop.ui.views.failures_view import FailureExampleView, FailuresView


def members_filter(group: dict) -> str:
    """The tasks filter that selects exactly a group's failed tasks still in memory.

    ``failgroup:ID`` alone is exact; ``state:FAILURE`` and ``name:`` come first so
    the filter reads as what it is and narrows cheaply before the group is computed.
    """
    terms = ["state:FAILURE"]
    name = group["name"]
    if name and not any(c in name for c in "*?[]\"'\\") and not any(c.isspace() for c in name):
        terms.append("name:" + shlex.quote(name))
    terms.append("failgroup:" + group["id"])
    return " ".join(terms)


class FailuresController(TableViewKeys):
    """Opens the failures view and runs its keys; talks to the tasks pane through ``listing``."""

    view_class = FailuresView
    filter_caption = "/ failures: "

    def __init__(self, model, stack, talk, listing, *, open_task, focus_tasks):
        super().__init__(model, stack)
        self.talk = talk  # a Conversation
        self.listing = listing  # the tasks pane's filter
        self.open_task = open_task  # (uuid) -> None: the task detail view
        self.focus_tasks = focus_tasks  # () -> None: focus the tasks pane

    def _selected_group(self):
        """The group under the cursor of the failures view on top; None, said, when there is none."""
        view = self._view()
        group = view.selected_group() if view is not None else None
        if group is None:
            self.talk.say("No failure group under the cursor")
        return group

    def list_members(self) -> None:
        """Enter: close the view and filter the tasks pane to the group's failed tasks."""
        group = self._selected_group()
        if group is None:
            return
        if group["id"] == "other":
            self.talk.say("The (other) group counts failures past the group limit: it cannot filter the tasks")
            return
        self.stack.pop()
        self.focus_tasks()
        self.listing.apply_filter(members_filter(group))

    def show_example(self) -> None:
        """``t``: the example's traceback, in its task's detail view, or as the group kept it if evicted."""
        group = self._selected_group()
        if group is None:
            return
        uuid = group["example_task_id"]
        if uuid and self.model.has_task(uuid):
            self.open_task(uuid)
            if self.stack.top.jump_to("Traceback"):
                return
            self.stack.pop()  # its record has no traceback (a later event replaced it): show the kept one
        example = FailureExampleView(group)
        self.stack.push(example)
        example.jump_to("Traceback")
