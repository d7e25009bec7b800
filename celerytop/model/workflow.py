"""Workflows: which tasks are linked to a task (root ids, parent ids, group ids), as a tree to draw.

:class:`WorkflowQueries` is mixed into :class:`~celerytop.model.cluster.ClusterModel`:
it reads the model's tasks and keeps the group ids the result backend told
(``note_groups``), each public method under ``self.lock``.
"""

from __future__ import annotations

import re
from collections import deque

from celerytop.model.rows import Workflow, WorkflowNode

#: Workflow node ids for groups: never a task uuid.
_GROUP = "group:"
#: Seconds around a parentless task in which another parentless task may be
#: a member of the same group (asked of the result backend).
GROUP_WINDOW = 5.0
#: At most this many tasks are asked about in one result-backend lookup.
GROUP_LOOKUP_MAX = 100


class _WorkflowLinks:
    """Who is linked to whom, by root id, parent id and group id (one scan of the tasks)."""

    def __init__(self, tasks: dict, group_of: dict, group_members: dict):
        self.tasks, self.group_of, self.group_members = tasks, group_of, group_members
        self.by_root: dict = {}
        self.by_parent: dict = {}
        self.parentless: list = []  # (time, uuid) of tasks that are their own root
        self.unlock_of: dict = {}  # celery.chord_unlock uuid -> the group it waits for
        self.unlocks: dict = {}  # group id -> [celery.chord_unlock uuid]
        for uuid, task in tasks.items():
            root, parent = _link(task.root_id, uuid), _link(task.parent_id, uuid)
            if root:
                self.by_root.setdefault(root, []).append(uuid)
            if parent:
                self.by_parent.setdefault(parent, []).append(uuid)
            elif not root:
                self.parentless.append((_first_time(task), uuid))
            if task.name == CHORD_UNLOCK:
                group_id = _chord_unlock_group(task.args)
                if group_id:
                    self.unlock_of[uuid] = group_id
                    self.unlocks.setdefault(group_id, []).append(uuid)
        self.groups_used: list = []
        self._placeholder_parent: dict = {}

    def component(self, start: str) -> set:
        """Every id linked to ``start``: tasks, and ids named but never seen."""
        found, queue = {start}, deque([start])
        while queue:
            node = queue.popleft()
            for other in self._neighbours(node):
                if other not in found:
                    found.add(other)
                    queue.append(other)
        return found

    def _neighbours(self, node: str):
        task = self.tasks.get(node)
        if task is not None:
            root, parent = _link(task.root_id, node), _link(task.parent_id, node)
            if root:
                yield root
            if parent:
                yield parent
                if parent not in self.tasks and root and root != parent:
                    self._placeholder_parent.setdefault(parent, root)
            group_id = self.group_of.get(node) or self.unlock_of.get(node)
            if group_id is not None:
                yield from self.group_members.get(group_id, ())
                yield from self.unlocks.get(group_id, ())
        yield from self.by_root.get(node, ())
        yield from self.by_parent.get(node, ())

    def parent_of(self, member: str, members: set):
        """The node ``member`` hangs under in the tree; None at the top."""
        task = self.tasks.get(member)
        if task is None:  # a placeholder hangs off the root of the task that named it
            return self._placeholder_parent.get(member)
        parent = _link(task.parent_id, member)
        if parent:
            return parent
        unlocks = self.unlock_of.get(member)  # chord_unlock hangs under the group it waits for
        group_id = unlocks if unlocks and self.group_members.get(unlocks) else self.group_of.get(member)
        if group_id is not None and (len(self.group_members.get(group_id, ())) > 1 or self.unlocks.get(group_id)):
            if group_id not in self.groups_used:
                self.groups_used.append(group_id)
            return _GROUP + group_id
        return _link(task.root_id, member)

    def lookup_candidates(self, members: set) -> list:
        """Parentless tasks whose group is not known yet: the members, then tasks seen near them."""
        unknown = [(t, u) for t, u in self.parentless if u not in self.group_of]
        mine = [u for t, u in unknown if u in members]
        times = sorted(t for t, u in self.parentless if u in members and t is not None)
        if not times:
            return mine[:GROUP_LOOKUP_MAX]

        def distance(item):
            t, _u = item
            return 0.0 if times[0] <= t <= times[-1] else min(abs(t - times[0]), abs(t - times[-1]))

        near = sorted((item for item in unknown if item[0] is not None and item[1] not in members
                       and distance(item) <= GROUP_WINDOW), key=distance)
        return (mine + [u for _t, u in near])[:GROUP_LOOKUP_MAX]


#: The task celery sends to wait for a chord's header where the result
#: backend cannot join chords itself; its first argument is the header's group id.
CHORD_UNLOCK = "celery.chord_unlock"
_FIRST_ARGUMENT = re.compile(r"""\(\s*['"]([^'"]+)['"]""")


def _chord_unlock_group(args):
    match = _FIRST_ARGUMENT.match(args) if type(args) is str else None
    return match.group(1) if match else None


def _link(value, own: str):
    """A root or parent id worth following: a non-empty string naming another task."""
    return value if type(value) is str and value and value != own else None


def _first_time(task):
    for value in (task.sent, task.received, task.timestamp):
        if isinstance(value, (int, float)):
            return float(value)
    return None


class WorkflowQueries:
    """The workflow side of :class:`ClusterModel`: group ids kept, trees walked."""

    def workflow(self, uuid: str) -> list:
        """The tree of tasks linked to ``uuid``, depth first, as [(depth, id, TaskRow or None)].

        None marks a task named as a parent or root but never seen (a
        placeholder) or, with group ids known, a group; :meth:`workflow_tree`
        tells them apart and says whether the tree may be incomplete.
        """
        with self.lock:
            return [(node.depth, node.uuid, self.task_row(node.uuid) if node.kind == "task" else None)
                    for node in self.workflow_tree(uuid).nodes]

    def workflow_tree(self, uuid: str) -> Workflow:
        """Every task linked to ``uuid`` by root ids, parent ids and known group ids.

        celery gives each task of a group (and each header task of a chord)
        its own root id and no parent, so events alone cannot join them: the
        group ids read from the result backend (:meth:`note_groups`) do.
        A task hangs under its parent; a task without one under its group;
        a parent never seen is a placeholder under the root.  Siblings are in
        first-seen order.  Walked without recursion: a chain of 10,000 tasks
        is 10,000 levels deep.
        """
        with self.lock:
            links = _WorkflowLinks(self._tasks, self._group_of, self._group_members)
            members = links.component(uuid)
            order = {u: i for i, u in enumerate(u for u in self._tasks if u in members)}
            parents = {member: links.parent_of(member, members) for member in members}
            for member, parent in parents.items():  # a placeholder sits where its first child was seen
                if parent in members and parent not in order and member in order:
                    order[parent] = min(order.get(parent, order[member]), order[member] - 0.5)
            children: dict = {}
            for member in sorted(members, key=lambda u: order.get(u, -1)):
                children.setdefault(parents[member], []).append(member)
            for group_id in links.groups_used:
                children.setdefault(None, []).insert(0, _GROUP + group_id)
            nodes = self._walk_workflow(children, members, order)
            placeholders = sum(1 for node in nodes if node.kind == "missing")
            return Workflow(nodes=nodes, tasks=sum(1 for node in nodes if node.kind == "task"),
                            missing_parents=placeholders, lookup=tuple(links.lookup_candidates(members)))

    def _walk_workflow(self, children: dict, members: set, order: dict) -> list:
        """Depth first from the tops (parent None); members in a parent cycle are shown as tops."""
        nodes, seen = [], set()
        tops = children.get(None, [])
        leftovers = sorted((m for m in members), key=lambda u: order.get(u, -1))
        for start in (*tops, *leftovers):
            if start in seen:
                continue
            stack = [(start, 0)]
            while stack:
                node, depth = stack.pop()
                if node in seen:  # a malformed parent cycle must not loop forever
                    continue
                seen.add(node)
                nodes.append(self._workflow_node(node, depth, children))
                stack.extend((child, depth + 1) for child in reversed(children.get(node, ())))
        return nodes

    def _workflow_node(self, node: str, depth: int, children: dict) -> WorkflowNode:
        if node.startswith(_GROUP):
            return WorkflowNode(depth, node[len(_GROUP):], "group", len(children.get(node, ())))
        return WorkflowNode(depth, node, "task" if node in self._tasks else "missing")

    def note_groups(self, group_ids: dict) -> None:
        """Remember which group each task is in ({uuid: group id}, from the result backend)."""
        with self.lock:
            for uuid, group_id in group_ids.items():
                if type(uuid) is not str or type(group_id) is not str or not group_id:
                    continue
                old = self._group_of.get(uuid)
                if old == group_id:
                    continue
                if old is not None:
                    self._group_members[old].discard(uuid)
                self._group_of[uuid] = group_id
                self._group_members.setdefault(group_id, set()).add(uuid)
            if len(self._group_of) > 2 * self.max_tasks:  # forget evicted tasks' groups
                for uuid in [u for u in self._group_of if u not in self._tasks]:
                    group_id = self._group_of.pop(uuid)
                    members = self._group_members[group_id]
                    members.discard(uuid)
                    if not members:
                        del self._group_members[group_id]

    def group_of(self, uuid: str):
        with self.lock:
            return self._group_of.get(uuid)

