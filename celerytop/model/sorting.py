"""How the task list is sorted and what a filter reads of a task: the sort columns and the field readers.

Both read a :class:`~celerytop.model.taskrecord.TaskRecord` directly, under the
model's lock (:meth:`ClusterModel.query`).
"""

from __future__ import annotations

from operator import attrgetter

from celerytop.model.failgroups import task_group_id
from celerytop.model.taskrecord import as_text


def hostname_of(task) -> str:
    """The name of the worker a task ran on, "" before one took it."""
    return task.worker.hostname if task.worker is not None else ""


#: Sort columns: how to read the key, and whether it starts descending.
SORTS = {
    "received": (None, True),  # arrival order; newest first
    "name": (lambda t: (t.name or "").lower(), False),
    "state": (lambda t: t.state or "", False),
    "worker": (hostname_of, False),
    "runtime": (lambda t: t.runtime if t.runtime is not None else -1.0, True),
    "uuid": (lambda t: t.uuid, False),
}
SORT_ORDER = tuple(SORTS)


def read_text(attribute: str | None):
    """A function task -> the text a filter reads for ``attribute`` (see filtering.Term.test)."""
    if attribute is None:  # free text: filtering.FREE_TEXT_FIELDS, one string per task
        return lambda task: task.search_text() + "\0" + hostname_of(task)
    if attribute == "worker":
        return hostname_of
    if attribute == "failgroup":  # the failure group a failed task is in (model/failgroups.py)
        return lambda task: task_group_id(task.name, task.exception) if task.state == "FAILURE" else ""
    if attribute == "route_queue":  # the queue named when it was sent, else the routing key it was sent with
        return lambda task: as_text(task.queue) or as_text(task.routing_key)
    get = attrgetter(attribute)
    return lambda task: value if type(value := get(task)) is str else as_text(value)
