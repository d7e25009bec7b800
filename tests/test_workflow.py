"""Workflow trees from events as a real worker sends them (pure: no broker).

The chord and group streams below are the task events a celery 5.7 worker
and client sent for ``chord([add.s(i, i) for i in range(3)], echo.s())`` and
``group(add.s(i, i) for i in range(3))`` (captured once from a live run,
timestamps and pids dropped): every header or group task is its own root with
no parent, and the callback names the last header task to finish as both its
root and its parent.  The group ids come from the result backend
(``result_extended``), as ``AsyncResult(id)._get_task_meta()["group_id"]``.
"""
import sys

from celerytop.control.backend import GroupLookup
from celerytop.model.cluster import ClusterModel
from celerytop.ui.views.workflow_view import WorkflowView
from tests.events import event

CLIENT, WORKER = "gen9690@vm", "w1@vm"
HEADER = ["b9676875-a654-4313-ac2e-66895a21ed7d", "79b7a9bc-5d7d-4f69-b462-9e9e9490f535",
          "d78fd538-5bba-4258-bc38-202794f4c532"]
CALLBACK = "c97f2096-6b64-4339-b076-fa5211a5d006"
CHORD_GROUP = "81db6253-03a0-402b-bf8f-87c810ea2144"
MEMBERS = ["2bda9f18-eb7d-4b8e-92d5-9369e126b9e4", "553106b8-48a3-45a4-84bf-3ffadc3eabc2",
           "9c99fd28-dc3e-431e-832c-0ffd5f820223"]
GROUP = "4d4d6752-7478-4d32-a331-52af753baf9e"


def _sent(uuid, name, args, root, parent, t):
    return event("task-sent", CLIENT, t, uuid=uuid, root_id=root, parent_id=parent, name=name, args=args,
                 kwargs="{}", retries=0, eta=None, expires=None, queue="celery", exchange="",
                 routing_key="celery")


def _received(uuid, name, args, root, parent, t):
    return event("task-received", WORKER, t, uuid=uuid, name=name, args=args, kwargs="{}", root_id=root,
                 parent_id=parent, retries=0, eta=None, expires=None)


def _ran(uuid, result, t):
    return [event("task-started", WORKER, t, uuid=uuid),
            event("task-succeeded", WORKER, t + 0.01, uuid=uuid, result=result, runtime=0.01)]


def chord_events(t=1000.0):
    events = []
    for i, uuid in enumerate(HEADER):
        args = f"({i}, {i})"
        events += [_sent(uuid, "tests.add", args, uuid, None, t + i / 10),
                   _received(uuid, "tests.add", args, uuid, None, t + i / 10 + 0.01)]
        events += _ran(uuid, str(2 * i), t + i / 10 + 0.02)
    last = HEADER[-1]
    events += [_sent(CALLBACK, "tests.echo", "([0, 2, 4],)", last, last, t + 0.5),
               _received(CALLBACK, "tests.echo", "([0, 2, 4],)", last, last, t + 0.51)]
    return events + _ran(CALLBACK, "[0, 2, 4]", t + 0.52)


def group_events(t=1001.0):
    events = []
    for i, uuid in enumerate(MEMBERS):
        args = f"({i}, {i})"
        events += [_sent(uuid, "tests.add", args, uuid, None, t + i / 10),
                   _received(uuid, "tests.add", args, uuid, None, t + i / 10 + 0.01)]
        events += _ran(uuid, str(2 * i), t + i / 10 + 0.02)
    return events


#: What the result backend stores (result_extended): every header task and the callback carry the group.
BACKEND_GROUPS = {**{uuid: CHORD_GROUP for uuid in HEADER + [CALLBACK]}, **{uuid: GROUP for uuid in MEMBERS}}


def model_with(*streams):
    model = ClusterModel()
    for stream in streams:
        for e in stream:
            model.on_event(dict(e))
    return model


def test_events_alone_join_only_the_callback_and_the_last_header_task():
    model = model_with(chord_events(), group_events())
    tree = model.workflow_tree(CALLBACK)
    assert [(n.depth, n.uuid) for n in tree.nodes] == [(0, HEADER[-1]), (1, CALLBACK)]
    # which tasks the result backend is asked about: the parentless ones, the tree's own first
    assert tree.lookup[0] == HEADER[-1]
    assert set(HEADER) | set(MEMBERS) <= set(tree.lookup)
    assert CALLBACK not in tree.lookup


def test_group_ids_from_the_backend_show_every_chord_header_task():
    model = model_with(chord_events(), group_events())
    model.note_groups({uuid: BACKEND_GROUPS[uuid] for uuid in model.workflow_tree(CALLBACK).lookup})
    for start in HEADER + [CALLBACK]:
        tree = model.workflow_tree(start)
        assert [(n.depth, n.kind, n.uuid) for n in tree.nodes] == [
            (0, "group", CHORD_GROUP), (1, "task", HEADER[0]), (1, "task", HEADER[1]), (1, "task", HEADER[2]),
            (2, "task", CALLBACK)]
        assert tree.tasks == 4 and tree.missing_parents == 0
        assert tree.nodes[0].size == 3
    group_tree = model.workflow_tree(MEMBERS[1])
    assert [(n.depth, n.uuid) for n in group_tree.nodes] == [(0, GROUP)] + [(1, uuid) for uuid in MEMBERS]


def test_a_parent_never_seen_makes_a_placeholder_and_the_tree_says_it_may_be_incomplete():
    model = model_with(chord_events()[6:])  # the first two header tasks' events are lost
    model.note_groups(BACKEND_GROUPS)
    model.on_event(event("task-received", WORKER, 2000.0, uuid="child-1", name="x", args="()", kwargs="{}",
                         root_id="gone-root", parent_id="gone-parent"))
    tree = model.workflow_tree("child-1")
    assert [(n.depth, n.kind, n.uuid) for n in tree.nodes] == [
        (0, "missing", "gone-root"), (1, "missing", "gone-parent"), (2, "task", "child-1")]
    assert tree.missing_parents == 2
    view = WorkflowView(model, "child-1")
    assert "tree may be incomplete: tasks whose parents were never seen" in render(view)


def chain_events(length, t=5000.0):
    root = "link-00000"
    events = []
    for i in range(length):
        uuid, parent = f"link-{i:05d}", (f"link-{i - 1:05d}" if i else None)
        events += [_received(uuid, "tests.add", "(1, 1)", root, parent, t + i),
                   *_ran(uuid, "2", t + i + 0.1)]
    return events


def test_a_chain_of_10000_tasks_is_walked_without_recursion_and_renders():
    model = model_with(chain_events(10_000))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # far below the chain's depth: any recursion per link fails
    try:
        tree = model.workflow_tree("link-05000")
        view = WorkflowView(model, "link-05000")
    finally:
        sys.setrecursionlimit(limit)
    assert tree.tasks == 10_000
    assert [n.depth for n in tree.nodes] == list(range(10_000))
    shown = render(view, rows=10)
    assert "link-050" in shown and "◀" in shown  # opened on the task asked for
    view.to_bottom()
    assert "link-099" in render(view, rows=10)
    view.to_top()
    assert "10000 tasks" in render(view, rows=10)


def test_the_view_asks_the_backend_in_the_background_and_shows_the_groups_it_gives():
    model = model_with(chord_events())
    asked = []
    view = WorkflowView(model, CALLBACK, lookup=lambda v, uuids: asked.append(list(uuids)))
    assert asked and set(HEADER) <= set(asked[0])
    assert "asking the result backend" in render(view)
    assert "2 tasks" in render(view)
    view.groups_found(asked[0], GroupLookup({u: BACKEND_GROUPS[u] for u in asked[0]}))
    shown = render(view)
    assert "4 tasks" in shown and "group 81db6253" in shown and "asking" not in shown
    for uuid in HEADER:
        assert uuid[:8] in shown


def test_a_backend_that_cannot_tell_groups_is_said_on_the_tree():
    model = model_with(chord_events())
    asked = []
    view = WorkflowView(model, CALLBACK, lookup=lambda v, uuids: asked.append(list(uuids)))
    view.groups_found(asked[0], GroupLookup(error="result_extended is off, so it stores no group ids"))
    assert "tree may be incomplete: group and chord members are joined through the result backend: " \
           "result_extended is off" in render(view, cols=200)


def render(view, cols=160, rows=30):
    canvas = view.render((cols, rows), focus=True)
    return "\n".join(line.decode("utf-8", "replace") for line in canvas.text)


def test_where_the_backend_cannot_join_chords_chord_unlock_hangs_under_the_header_group():
    # e.g. the file:// backend: celery sends celery.chord_unlock(group_id, callback), and the
    # callback is its child; chord_unlock stores no result (ignore_result)
    unlock = "e4b0a7c2-96f1-4a8e-b7a3-2f3c5d8e9a10"
    events = [e for e in chord_events() if e["uuid"] != CALLBACK]
    events += [_sent(unlock, "celery.chord_unlock", f"('{CHORD_GROUP}', {{'task': 'tests.echo'}})",
                     unlock, None, 1000.05),
               _received(unlock, "celery.chord_unlock", f"('{CHORD_GROUP}', {{'task': 'tests.echo'}})",
                         unlock, None, 1000.06)]
    events += _ran(unlock, "None", 1000.6)
    events += [_received(CALLBACK, "tests.echo", "([0, 2, 4],)", unlock, unlock, 1000.7)] + _ran(CALLBACK, "x", 1000.8)
    model = model_with(events)
    assert [n.uuid for n in model.workflow_tree(CALLBACK).nodes] == [unlock, CALLBACK]
    model.note_groups({uuid: CHORD_GROUP for uuid in HEADER})
    tree = model.workflow_tree(CALLBACK)
    assert [(n.depth, n.kind, n.uuid) for n in tree.nodes] == [
        (0, "group", CHORD_GROUP), (1, "task", HEADER[0]), (1, "task", HEADER[1]), (1, "task", HEADER[2]),
        (1, "task", unlock), (2, "task", CALLBACK)]
    assert tree.tasks == 5
