"""The status line's one-line summary of worker replies (Outcome.summary): the reply
that matters first, the rest counted, always fitting the width it is given."""

import pytest

from celerytop.control.replies import Outcome

TASK = "387ed050-1234-4567-89ab-0123456789ab"


def terminate_outcome():
    return Outcome("revoke", (), {"alpha@vm": (True, "terminate: tasks unknown"),
                                  "beta@vm": (True, "terminate: tasks unknown"),
                                  "gamma@vm": (True, f"terminate: {TASK}")})


def test_the_reply_that_differs_comes_first_and_all_of_it_fits_a_wide_line():
    full = terminate_outcome().summary(200)
    assert full.startswith(f"revoke → all workers: gamma@vm: ok: terminate: {TASK}; alpha@vm: ok:")
    assert full == terminate_outcome().summary()  # no width: the whole text


@pytest.mark.parametrize("width", [60, 80, 100, 120])
def test_a_long_reply_is_summarised_to_fit_naming_the_worker_that_did_the_work(width):
    line = terminate_outcome().summary(width)
    assert len(line) <= width
    assert "3 answered, gamma@vm: terminate: 387ed050" in line or width < 74
    assert "gamma@vm" in line and line.endswith("; L for all")


def test_the_usual_reply_is_counted_not_repeated():
    assert terminate_outcome().summary(100) == (
        "revoke → all workers: 3 answered, gamma@vm: terminate: 387ed050; 2 others: ok; L for all")
    assert terminate_outcome().summary(80) == "revoke: 3 answered, gamma@vm: terminate: 387ed050; 2 others: ok; L for all"


def test_errors_and_silent_workers_come_before_the_usual_reply():
    outcome = Outcome("pool_grow", ("a@x", "b@x", "c@x", "d@x"),
                      {"a@x": (True, "pool will grow"), "b@x": (True, "pool will grow"),
                       "c@x": (False, "pool is not autoscaling")}, missing=("d@x",))
    assert outcome.summary().startswith("pool_grow → a@x, b@x, c@x, d@x: c@x: error: pool is not autoscaling;")
    brief = outcome.summary(100)
    assert brief.startswith("pool_grow: 3 of 4 answered, c@x: error: pool is not autoscaling; d@x: no reply;")
    assert brief.endswith("; L for all") and len(brief) <= 100


def test_a_worker_that_acted_comes_before_one_that_had_nothing_to_do():
    outcome = Outcome("revoke", (), {"idle@vm": (True, "terminate: tasks unknown"),
                                     "zbusy@vm": (True, f"terminate: {TASK}")})
    brief = outcome.summary(70)
    assert brief.startswith("revoke: 2 answered, zbusy@vm: terminate: 387ed050; idle")
    assert brief.endswith("…; L for all") and len(brief) == 70
