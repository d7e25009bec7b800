"""Correct pictures from real workers: a chord's and a group's whole tree, a killed worker's lost task."""

from celery import chord, group

from tests.live import wait_until
from tests.test_live_drilldown import focus_task, monitor


def line_with(term, text):
    return next((line for line in term.lines() if text in line), "")


def test_the_workflow_of_a_real_chord_and_group_shows_every_header_task_and_member(broker, workers):
    workers("w1", concurrency=2)
    add, total = broker.app.signature("tests.add"), broker.app.signature("tests.total")
    with monitor(broker) as term:
        term.wait_for("● connected")
        result = chord([add.clone((i, i)) for i in range(3)], total).apply_async()
        assert result.get(timeout=30) == 6
        header = [r.id for r in result.parent.results]
        members = group(add.clone((i, 10)) for i in range(4)).apply_async()
        assert members.get(timeout=30) == [10, 11, 12, 13]
        wait_until(lambda: result.id[:8] in term.text(), timeout=20, message="the callback never showed")
        focus_task(term, result.id)
        term.press("w")
        term.wait_for("Workflow of")
        # events alone join the callback to one header task; the backend's group ids join the rest
        term.wait_for("4 tasks", timeout=20)
        term.wait_for(lambda t: all(uuid[:8] in t.text() for uuid in header))
        assert f"group {result.parent.id[:8]}" in term.text()
        callback = line_with(term, "tests.total")
        assert result.id[:8] in callback and "└─" in callback and "◀" in callback
        for uuid in header:
            assert "SUCCESS" in line_with(term, uuid[:8])
        assert not any(r.id[:8] in term.text() for r in members.results), "another group's tasks crept in"
        term.press("esc")
        term.press("esc")  # clear the filter
        focus_task(term, members.results[2].id)
        term.press("w")
        term.wait_for("4 tasks", timeout=20)
        term.wait_for(lambda t: all(r.id[:8] in t.text() for r in members.results))
        assert "tree may be incomplete" not in term.text()


def test_a_task_running_on_a_killed_worker_is_flagged_and_the_worker_folds(broker, workers):
    victim = workers("victim")
    with monitor(broker, "--fold-offline-after", "0.1") as term:  # 6 s
        term.wait_for("● connected")
        term.wait_for(lambda t: "py-celery" in line_with(t, victim.hostname[:20]))
        running = broker.app.send_task("tests.sleep", (60,))
        term.wait_for(lambda t: "STARTED" in line_with(t, running.id[:8]), timeout=30)
        victim.kill()  # SIGKILL: no worker-offline event, its heartbeats just stop
        term.wait_for(lambda t: "worker offline" in line_with(t, running.id[:8]), timeout=30)
        term.wait_for("+1 offline", timeout=30)
        assert victim.hostname[:20] not in term.text()
        term.press("tab", "o")  # the workers pane: list the folded worker
        term.wait_for(lambda t: "offline" in line_with(t, victim.hostname[:20]))
        assert "ago" in line_with(term, victim.hostname[:20]) and "−1 offline" in term.text()
        term.press("tab")
        focus_task(term, running.id)
        term.press("enter")
        term.wait_for("worker offline: the task was running there and may be lost")
