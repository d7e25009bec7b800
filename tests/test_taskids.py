"""Task ids as people type them (celerytop.model.taskids) against the model's prefix look-up
(ClusterModel.task_ids_starting): unique prefixes resolve, short, ambiguous and unknown
ones are refused saying why, full uuids are used as typed."""

import pytest

from celerytop.model.cluster import ClusterModel
from celerytop.model.taskids import TaskIdError, notes, resolve, resolve_all
from tests.events import event, task_lifecycle

ALPHA = "ec9a0c6e-1b2c-4d5e-8f90-0123456789ab"
BETA = "ec9a11ff-2222-4333-8444-555566667777"
GAMMA = "4951fab2-aaaa-4bbb-8ccc-dddddddddddd"


def model_with(*uuids, max_tasks=10000):
    model = ClusterModel(max_tasks=max_tasks)
    for uuid in uuids:
        for item in task_lifecycle(uuid=uuid)[1]:
            model.on_event(item)
    return model


def test_the_eight_characters_on_screen_resolve_to_the_full_id():
    model = model_with(ALPHA, BETA, GAMMA)
    used = resolve("ec9a0c6e", model.task_ids_starting)
    assert (used.full, used.in_memory) == (ALPHA, True)
    assert used.note == f"ec9a0c6e → {ALPHA}"
    assert resolve("4951", model.task_ids_starting).full == GAMMA  # any unique prefix of 4 or more


def test_an_ambiguous_prefix_is_refused_with_the_candidates():
    model = model_with(ALPHA, BETA, GAMMA)
    with pytest.raises(TaskIdError) as refused:
        resolve("ec9a", model.task_ids_starting)
    assert str(refused.value) == "task id 'ec9a' matches 2 tasks: ec9a0c6e…, ec9a11ff…; type more of it"


def test_many_candidates_are_listed_a_few_with_a_count_cut_where_they_differ():
    uuids = [f"abcdef0{n}-0000-4000-8000-00000000000{n}" for n in range(7)]
    model = model_with(*uuids)
    with pytest.raises(TaskIdError) as refused:
        resolve("abcd", model.task_ids_starting)
    assert str(refused.value) == ("task id 'abcd' matches 7 tasks: abcdef00…, abcdef01…, abcdef02…, abcdef03… "
                                  "and 3 more; type more of it")
    twins = model_with("aaaabbbb-cccc-0001", "aaaabbbb-cccc-0002")  # ids alike past the 8th character
    with pytest.raises(TaskIdError, match="aaaabbbb-cccc-0001, aaaabbbb-cccc-0002;"):
        resolve("aaaa", twins.task_ids_starting)


def test_a_prefix_shorter_than_four_is_refused_even_when_unique():
    model = model_with(GAMMA)
    with pytest.raises(TaskIdError) as refused:
        resolve("495", model.task_ids_starting)
    assert str(refused.value) == "task id '495' is too short: type at least 4 characters of it (the screen shows 8)"


def test_an_unknown_prefix_is_explained_but_an_unknown_full_uuid_is_used_as_typed():
    model = model_with(ALPHA)
    with pytest.raises(TaskIdError) as refused:
        resolve("dead0000", model.task_ids_starting)
    assert "no task in memory has an id starting 'dead0000' (evicted, or never seen)" in str(refused.value)
    gone = "dead0000-beef-4000-8000-000000000000"  # workers or the result backend may know it
    used = resolve(gone, model.task_ids_starting)
    assert (used.full, used.in_memory) == (gone, False)
    assert used.note == f"{gone}: not in memory, used as typed"


def test_a_full_id_in_memory_wins_over_longer_ids_it_starts():
    model = model_with("job-7", "job-77")  # celery takes any string as a task id
    used = resolve("job-7", model.task_ids_starting)
    assert (used.full, used.note) == ("job-7", "")
    with pytest.raises(TaskIdError, match="too short"):
        resolve("job", model.task_ids_starting)
    with pytest.raises(TaskIdError, match="an empty task id"):
        resolve("", model.task_ids_starting)


def test_several_ids_resolve_together_and_the_first_bad_one_stops_them_all():
    model = model_with(ALPHA, BETA, GAMMA)
    used = resolve_all(["ec9a0", GAMMA], model.task_ids_starting)
    assert [r.full for r in used] == [ALPHA, GAMMA]
    assert notes(used) == f"ec9a0 → {ALPHA}"  # the id typed in full needs no note
    with pytest.raises(TaskIdError, match="'ec9a' matches 2 tasks"):
        resolve_all(["4951", "ec9a"], model.task_ids_starting)


# -- the model's prefix look-up ----------------------------------------------------------

def test_prefix_lookup_counts_every_match_and_returns_the_first_sorted():
    model = model_with(BETA, GAMMA, ALPHA)
    assert model.task_ids_starting("ec9a") == (2, [ALPHA, BETA])
    assert model.task_ids_starting("ec9a", limit=1) == (2, [ALPHA])
    assert model.task_ids_starting("4") == (1, [GAMMA])
    assert model.task_ids_starting("f") == (0, [])
    assert model.task_ids_starting("") == (3, [GAMMA, ALPHA, BETA])


def test_prefix_lookup_follows_new_evicted_and_moved_tasks():
    model = model_with(ALPHA, max_tasks=3)
    assert model.task_ids_starting("ec9a") == (1, [ALPHA])  # the index is built here
    for item in task_lifecycle(uuid=BETA)[1]:
        model.on_event(item)
    assert model.task_ids_starting("ec9a") == (2, [ALPHA, BETA])  # seen after the index was built
    child = "ec9a2222-0000-4000-8000-000000000000"
    # a child's event moves its parent (ALPHA) to the newest place: listed once, not twice
    model.on_event(event("task-received", uuid=child, name="proj.child", parent_id=ALPHA, root_id=ALPHA))
    assert model.task_ids_starting("ec9a") == (3, [ALPHA, BETA, child])
    for uuid in (GAMMA, "11111111-0000", "22222222-0000"):  # over max_tasks: the three oldest finished go
        for item in task_lifecycle(uuid=uuid)[1]:
            model.on_event(item)
    assert model.task_ids_starting("ec9a") == (1, [child])
    assert model.task_ids_starting("") == (3, ["11111111-0000", "22222222-0000", child])


def test_prefix_lookup_sees_tasks_restored_from_history():
    source = model_with(ALPHA, GAMMA)
    exported = source.export_all()
    model = model_with(BETA)
    assert model.task_ids_starting("ec9a") == (1, [BETA])
    model.restore(exported.tasks, exported.workers)
    assert model.task_ids_starting("ec9a") == (2, [ALPHA, BETA])
    assert model.task_ids_starting("4951") == (1, [GAMMA])


def test_prefix_lookup_drops_evicted_ids_once_they_pile_up():
    model = model_with(max_tasks=10)
    for number in range(1500):
        for item in task_lifecycle(uuid=f"{number:08x}-0000")[1]:
            model.on_event(item)
        model.task_ids_starting("0000")  # each read takes the new id into the index
    assert model.task_ids_starting("") == (10, [f"{n:08x}-0000" for n in range(1490, 1500)])
    assert len(model._id_index) <= 2 * 10 + 1024  # not every id ever seen


def test_prefix_lookup_takes_in_many_new_tasks_at_once():
    first = [f"{n:04x}aaaa" for n in range(0, 400, 2)]
    later = [f"{n:04x}bbbb" for n in range(400, 0, -3)]  # more than are inserted one by one
    model = model_with(*first)
    assert model.task_ids_starting("")[0] == 200
    for uuid in later:
        for item in task_lifecycle(uuid=uuid)[1]:
            model.on_event(item)
    assert model.task_ids_starting("", limit=1000) == (200 + len(later), sorted(first + later))
    assert model.task_ids_starting("0010") == (2, ["0010aaaa", "0010bbbb"])


def test_a_custom_id_never_seen_is_used_as_typed_and_upper_case_hex_finds_the_task():
    model = model_with(ALPHA)
    used = resolve("nightly-report-2026-12-01", model.task_ids_starting)  # not hex: a custom id
    assert (used.full, used.in_memory) == ("nightly-report-2026-12-01", False)
    assert used.note == "nightly-report-2026-12-01: not in memory, used as typed"
    upper = resolve("EC9A0C6E", model.task_ids_starting)  # celery writes uuids in lower case
    assert (upper.full, upper.in_memory, upper.note) == (ALPHA, True, f"EC9A0C6E → {ALPHA}")
    with pytest.raises(TaskIdError, match="no task in memory has an id starting 'dead0000'"):
        resolve("DEAD0000", model.task_ids_starting)
