"""Tab completion at the ``:`` prompt (celerytop.control.completion)."""

import pytest

from celerytop.control import completion
from celerytop.control.completion import Vocabulary, complete

WORDS = Vocabulary(workers=("w1@alpha", "w2@beta"), queues=("celery", "hipri", "lopri"),
                   tasks=("proj.add", "proj.mail"))


@pytest.mark.parametrize("line, candidates", [
    ("", ["inspect ", "control ", "purge ", "result ", "status ", "migrate ", "queues ", "reconcile ",
          "failures ", "types ", "stuck ", "beat ", "alerts "]),
    ("in", ["inspect "]),
    ("inspect act", ["inspect active ", "inspect active_queues "]),
    ("control ra", ["control rate_limit "]),
    ("control rate_limit ", ["control rate_limit proj.add ", "control rate_limit proj.mail "]),
    ("control time_limit proj.m", ["control time_limit proj.mail "]),
    ("inspect active -d ", ["inspect active -d w1@alpha ", "inspect active -d w2@beta "]),
    ("inspect active -d w1@alpha,", ["inspect active -d w1@alpha,w2@beta"]),
    ("purge -Q hipri,", ["purge -Q hipri,celery", "purge -Q hipri,lopri"]),
    ("purge -X lo", ["purge -X lopri "]),
    ("control add_consumer h", ["control add_consumer hipri "]),
    ("status ", ["status --destination ", "status --timeout "]),
    ("inspect active --timeout ", []),
    ("nonsense ", []),
])
def test_completion_offers_commands_workers_queues_and_task_names(line, candidates):
    assert complete(line, WORDS) == candidates


TASK_IDS = ("4951fab2-aaaa-4bbb-8ccc-dddddddddddd", "ec9a0c6e-1b2c-4d5e-8f90-0123456789ab",
            "ec9a11ff-2222-4333-8444-555566667777")


def task_ids(prefix, limit):
    """The model's look-up (ClusterModel.task_ids_starting) over TASK_IDS."""
    found = [uuid for uuid in TASK_IDS if uuid.startswith(prefix)]
    return len(found), found[:limit]


WITH_IDS = Vocabulary(workers=WORDS.workers, queues=WORDS.queues, tasks=WORDS.tasks, task_ids=task_ids)


@pytest.mark.parametrize("line, candidates", [
    ("result 495", ["result 4951fab2-aaaa-4bbb-8ccc-dddddddddddd "]),
    ("result ec9a0", ["result ec9a0c6e-1b2c-4d5e-8f90-0123456789ab "]),
    ("inspect query_task 4951fab2-aaaa-4bbb-8ccc-dddddddddddd ec9a0",
     ["inspect query_task 4951fab2-aaaa-4bbb-8ccc-dddddddddddd ec9a0c6e-1b2c-4d5e-8f90-0123456789ab "]),
    ("inspect query_task -d w1@alpha 49", ["inspect query_task -d w1@alpha 4951fab2-aaaa-4bbb-8ccc-dddddddddddd "]),
    ("control revoke 4951", ["control revoke 4951fab2-aaaa-4bbb-8ccc-dddddddddddd "]),
    ("control terminate KILL 4951", ["control terminate KILL 4951fab2-aaaa-4bbb-8ccc-dddddddddddd "]),
    ("control terminate 4", []),  # the signal comes first
    ("inspect query_task -d w", ["inspect query_task -d w1@alpha ", "inspect query_task -d w2@beta "]),
    ("result ", []),  # nothing typed: every task in memory is no candidate list
    ("inspect active 4951", []),
])
def test_tab_completes_task_ids_where_a_command_takes_one(line, candidates):
    assert complete(line, WITH_IDS) == candidates


def test_an_ambiguous_task_id_prefix_completes_to_each_candidate_and_says_how_many():
    found = complete("result ec9a", WITH_IDS)
    assert found == ["result ec9a0c6e-1b2c-4d5e-8f90-0123456789ab ", "result ec9a11ff-2222-4333-8444-555566667777 "]
    assert found.hint == "2 task ids start with 'ec9a': Tab cycles through them"
    assert complete("result ec9a0", WITH_IDS).hint == ""


def test_a_prefix_matching_too_many_tasks_offers_the_first_and_asks_for_more(monkeypatch):
    monkeypatch.setattr(completion, "TASK_ID_CANDIDATES", 2)
    many = Vocabulary(task_ids=lambda prefix, limit: (57, [f"{prefix}{n}" for n in range(limit)]))
    found = complete("control revoke x", many)
    assert found == ["control revoke x0 ", "control revoke x1 "]
    assert found.hint == "57 task ids start with 'x': Tab cycles through the first 2; type more to narrow"


def test_an_unknown_task_id_prefix_completes_to_nothing_and_says_so():
    found = complete("result zzzz", WITH_IDS)
    assert found == [] and found.hint == "no task in memory has an id starting 'zzzz'"
