"""Drilling into real tasks and workers, on every selected broker."""

import os
import sys

from celery import chain, group

from tests.live import REPO_ROOT, wait_until
from tests.terminal import Terminal, normalise_colour

BIN = os.path.join(os.path.dirname(sys.executable), "celerytop")


def monitor(broker, *args, cols=140, rows=50):
    return Terminal([BIN, "-A", "tests.liveapp", "--refresh", "0.25", *args], cols=cols, rows=rows,
                    env=broker.env, cwd=str(REPO_ROOT))


def focus_task(term, uuid):
    """Filter the tasks pane down to one task, so the cursor is on it."""
    term.press("/")
    term.send(f"id:{uuid}")
    term.press("enter")
    term.wait_for("1 of ")


def test_a_real_failure_shows_its_real_traceback(broker, workers):
    workers("w1")
    with monitor(broker) as term:
        term.wait_for("● connected")
        failed = broker.app.send_task("tests.fail", ("the real thing",))
        term.wait_for(lambda t: "FAILURE" in next((line for line in t.lines() if failed.id[:8] in line), ""))
        focus_task(term, failed.id)
        term.press("t")
        term.wait_for("ValueError: the real thing")
        for frame in ("_fail_outer", "_fail_inner", "liveapp.py"):
            assert frame in term.text(), frame


def test_result_comes_from_the_real_result_backend(broker, workers):
    workers("w1")
    with monitor(broker) as term:
        term.wait_for("● connected")
        result = broker.app.send_task("tests.echo", ({"answer": 42, "nested": [1, 2, 3]},))
        assert result.get(timeout=30) == {"answer": 42, "nested": [1, 2, 3]}
        term.wait_for(result.id[:8])
        focus_task(term, result.id)
        term.press("r")
        term.wait_for("result fetched")
        text = term.text()
        backend_part = text[text.index("Result backend"):]
        assert "SUCCESS" in backend_part
        assert "{'answer': 42, 'nested': [1, 2, 3]}" in backend_part


def test_fetching_a_result_the_backend_never_stored_says_so(broker, events_for):
    with monitor(broker) as term:
        term.wait_for("● connected")
        source = events_for(broker)
        uuid = source.task(name="tests.never_stored")
        term.wait_for("tests.never_stored")
        focus_task(term, uuid)
        term.press("r")
        term.wait_for("unknown to the result backend (PENDING)")


def test_a_chain_into_a_group_makes_the_right_tree(broker, workers):
    workers("w1", concurrency=2)
    add = broker.app.signature
    workflow = chain(add("tests.add", (1, 1)), group(add("tests.add", (10,)), add("tests.add", (20,))))
    with monitor(broker) as term:
        term.wait_for("● connected")
        result = workflow.apply_async()
        assert sorted(result.get(timeout=30)) == [12, 22]
        root = result.parent.id if result.parent is not None else None
        wait_until(lambda: root and root[:8] in term.text(), timeout=20, message="the chain's first task never showed")
        focus_task(term, root)
        term.press("w")
        term.wait_for("Workflow of")
        term.wait_for(lambda t: sum("tests.add" in line for line in t.lines()) == 3)
        lines = [line for line in term.lines() if "tests.add" in line]
        assert root[:8] in lines[0] and "└─" not in lines[0]
        for child in lines[1:]:
            assert "└─ SUCCESS" in child
        term.press("j", "enter")
        term.wait_for(" Task ")
        assert "parent id" in term.text() and root in term.text()


def test_worker_detail_shows_inspect_stats_active_tasks_and_queues(broker, workers):
    worker = workers("w1", concurrency=2)
    running = broker.app.send_task("tests.sleep", (20,))
    wait_until(lambda: broker.app.control.inspect(destination=[worker.hostname], timeout=1).active(),
               timeout=20, message="the task never started")
    with monitor(broker) as term:
        term.wait_for("● connected")
        term.wait_for(worker.hostname[:20])
        term.press("tab", "enter")
        term.wait_for(f" Worker {worker.hostname}")
        term.wait_for("Stats (inspect, fetched")
        text = term.text()
        assert "concurrency 2" in text
        assert f"q-{broker.ns}" in text
        assert running.id[:8] in text and "tests.sleep" in text
        # the active task's row opens its detail: move the cursor onto it
        for _ in range(60):
            y = term.find(running.id[:8])[0]
            if normalise_colour(term.screen.buffer[y][3].bg) != "default":
                break
            term.press("j")
        else:
            raise AssertionError("the cursor never reached the active task's row\n" + term.text())
        term.press("enter")
        term.wait_for(f" Task {running.id}")
        assert "STARTED" in term.text(), term.text()
