"""Offline workers on screen: no stale ACTIVE count, when last heard from, lost tasks flagged, old ones folded.

The workers here are event publishers (celery's Dispatcher) on a filesystem
broker: a worker that stops sending heartbeats is what a dead worker looks like.
"""
import re
import time

from tests.screen import EventSource, cell_fg, connected, monitor


def line_with(term, text):
    return next((line for line in term.lines() if text in line), "")


def test_an_offline_worker_is_dated_its_running_task_flagged_and_after_the_limit_folded(fs, events):
    ghost = EventSource(fs.app, hostname="ghost@example")
    try:
        # no worker-offline alert: its header line would name the ghost above its row
        with monitor(fs, 140, 30, "--fold-offline-after", "0.05", "--no-alert", "worker-offline") as term:  # 3 s
            connected(term)
            events.heartbeat(freq=60.0)  # w1 stays online
            ghost.heartbeat(freq=0.5, active=7)  # expires 1 s after its last heartbeat
            lost = ghost.task(name="proj.lost", final=None)
            term.wait_for(lambda t: "online" in line_with(t, "ghost@example") and " 7 " in line_with(t, "ghost@ex"))
            # ghost sends nothing more: offline in about a second, with no ACTIVE count
            term.wait_for(lambda t: "offline" in line_with(t, "ghost@example"), timeout=10)
            row = line_with(term, "ghost@example")
            assert " 7 " not in row and re.search(r"offline \d+s ago", row), row
            term.wait_for(lambda t: "worker offline: ghost" in line_with(t, "proj.lost"))
            assert cell_fg(term, "proj.lost", "worker offline") == "yellow"
            # past the limit: folded into one line at the bottom of the workers pane
            term.wait_for("+1 offline", timeout=10)
            assert "ghost@example" not in term.text().split(" Tasks ")[0]
            assert "w1@example" in term.text() and "online" in line_with(term, "w1@example")
            term.press("tab")  # the workers pane
            term.press("o")
            term.wait_for("−1 offline")
            assert "offline" in line_with(term, "ghost@example") and "ago" in line_with(term, "ghost@example")
            term.press("o")
            term.wait_for("+1 offline")
            term.press("tab", "enter")  # the lost task's detail
            term.wait_for(f" Task {lost}")
            term.wait_for("worker offline: the task was running there and may be lost")
    finally:
        ghost.close()


def test_batch_json_lists_every_offline_worker_however_long_gone():
    from celerytop.events.capture import ConnectionStatus
    from celerytop.model.cluster import ClusterModel
    from celerytop.modes import batch
    from tests.events import heartbeat

    model = ClusterModel()
    model.on_event(heartbeat("gone@host", timestamp=time.time() - 3600, active=4))
    model.on_event(heartbeat("here@host"))
    workers = batch.snapshot(model, ConnectionStatus().snapshot())["workers"]
    assert [(w["hostname"], w["online"], w["active"]) for w in workers] == [
        ("here@host", True, 0), ("gone@host", False, None)]
    assert "offline 1h ago" in batch.render_text(model, ConnectionStatus().snapshot(), 120)
