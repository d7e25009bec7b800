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


def worker_row(term, text):
    """The first line with ``text`` below the header (the header's red ALERT line names a lost worker too)."""
    return next((line for line in term.lines() if text in line and not line.startswith(" ALERT")), "")


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
        # folded: in the panes, the only line naming the worker is its lost task's (the WORKER column);
        # the header's red ALERT line names it too (the worker-offline alert)
        named = [line for line in term.lines() if victim.hostname[:20] in line]
        assert [line for line in named if not line.startswith(" ALERT")] == [line_with(term, running.id[:8])]
        assert any(line.startswith(" ALERT worker offline") for line in named)
        term.press("tab", "o")  # the workers pane: list the folded worker
        term.wait_for(lambda t: "offline" in worker_row(t, victim.hostname[:20]))
        assert "ago" in worker_row(term, victim.hostname[:20]) and "−1 offline" in term.text()
        term.press("tab")
        focus_task(term, running.id)
        term.press("enter")
        term.wait_for("worker offline: the task was running there and may be lost")


def test_limits_set_outside_this_session_show_in_registered_and_pre_fill_the_prompts(broker, workers, tmp_path):
    from tests.test_live_console import command
    from tests.test_live_control import monitor as control_monitor
    from tests.test_live_control import select_task

    worker = workers("w1")
    # set by someone else (celery's own control), before this celerytop started
    assert broker.app.control.rate_limit("tests.add", "10/m", destination=[worker.hostname], reply=True, timeout=3)
    assert broker.app.control.time_limit("tests.add", soft=30, hard=60, destination=[worker.hostname],
                                         reply=True, timeout=3)
    with control_monitor(broker, tmp_path) as term:
        term.wait_for(lambda t: "online" in line_with(t, worker.hostname[:20]))
        done = broker.app.send_task("tests.add", (1, 2))
        assert done.get(timeout=20) == 3
        term.wait_for(done.id[:8])
        command(term, "inspect registered")
        term.wait_for(lambda t: "tests.add" in line_with(t, "10/m"), timeout=10)
        header = line_with(term, "RATE LIMIT")
        assert "TIME LIMIT" in header and "SOFT LIMIT" in header
        assert line_with(term, "tests.add").split()[1:4] == ["10/m", "60", "30"], line_with(term, "tests.add")
        assert line_with(term, "tests.echo").split()[1:4] == ["-", "-", "-"], "none is '-', never 0"
        term.press("esc")
        select_task(term, done.id)
        term.press("l")
        term.wait_for("rate limit for tests.add")
        term.wait_for("[now 10/m on 1 worker]", timeout=10)
        assert term.lines()[-1].rstrip().endswith(": 10/m"), term.lines()[-1]
        term.press("esc")
        term.press("T")
        term.wait_for("[now 30 60 on 1 worker]", timeout=10)
        assert term.lines()[-1].rstrip().endswith(": 30 60"), term.lines()[-1]
        term.send("20 40")  # typing replaces the value offered
        term.wait_for(lambda t: t.lines()[-1].rstrip().endswith(": 20 40"))
        term.press("esc")
