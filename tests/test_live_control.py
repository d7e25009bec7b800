"""Control keys against real workers on every selected broker, each shown by
the worker's own state changing (inspect, its process, its events)."""

import json
import os
import signal
import sys

from celery.worker.control import Panel

from celerytop.control.verbs import READ_ONLY_COMMANDS
from tests.live import REPO_ROOT, ControlSpy, wait_until
from tests.terminal import Terminal

BIN = os.path.join(os.path.dirname(sys.executable), "celerytop")


def monitor(broker, tmp_path, *args, cols=160, rows=50):
    audit = tmp_path / "audit.log"
    term = Terminal([BIN, "-A", "tests.liveapp", "--refresh", "0.25", "--audit-log", str(audit), *args],
                    cols=cols, rows=rows, env=broker.env, cwd=str(REPO_ROOT))
    term.audit_path = audit
    return term


def audit_entries(term):
    if not term.audit_path.exists():
        return []
    return [json.loads(line) for line in term.audit_path.read_text().splitlines()]


def row_with(term, text):
    """The first screen line containing ``text``; for a task id, its row in the tasks pane."""
    if len(text) == 8 and "-" not in text:
        return next((line for line in term.lines() if line[2:10] == text), "")
    return next((line for line in term.lines() if text in line), "")


def cluster_changes(spy):
    """The broadcasts a ControlSpy saw that change workers: celery's control
    commands, less ping and heartbeat (a worker only answers or sends an event)."""
    return [m for m in spy.methods() if Panel.meta[m].type == "control" and m not in READ_ONLY_COMMANDS]


def select_task(term, uuid):
    term.press("/")
    term.send(f"id:{uuid}")
    term.press("enter")
    term.wait_for("1 of ")


def inspect(broker, worker, method, *args):
    reply = getattr(broker.app.control.inspect(destination=[worker.hostname], timeout=2), method)(*args)
    return (reply or {}).get(worker.hostname)


def test_rate_limit_reaches_the_worker(broker, workers, tmp_path):
    worker = workers("w1")
    with monitor(broker, tmp_path) as term:
        term.wait_for("● connected")
        done = broker.app.send_task("tests.add", (1, 2))
        assert done.get(timeout=30) == 3
        term.wait_for(done.id[:8])
        select_task(term, done.id)
        term.press("l")
        term.wait_for("rate limit for tests.add")
        term.send("too fast")
        term.press("enter")
        term.wait_for("Not sent: 'toofast' is not a rate limit")
        assert audit_entries(term) == []
        term.press("l")
        term.send("10/m")
        term.press("enter")
        term.wait_for("new rate limit set successfully")
        registered = inspect(broker, worker, "registered", "rate_limit")
        assert any(entry.startswith("tests.add") and "rate_limit=10/m" in entry for entry in registered), registered
        [entry] = audit_entries(term)
        assert entry["command"] == "rate_limit" and entry["arguments"]["rate_limit"] == "10/m"
        assert entry["replies"][worker.hostname] == {"ok": "new rate limit set successfully"}


def test_revoking_a_queued_task_ends_it_revoked(broker, workers, tmp_path):
    # A task with a countdown waits in the worker's timer: queued, not yet in
    # the pool (celery cannot revoke what the pool already took without
    # terminating it).
    workers("w1", concurrency=1)
    with monitor(broker, tmp_path) as term:
        term.wait_for("● connected")
        queued = broker.app.send_task("tests.add", (5, 5), countdown=6)
        term.wait_for(queued.id[:8])
        select_task(term, queued.id)
        term.press("c")
        term.wait_for("Revoke 1 task(s)?")
        term.press("n")  # anything but y cancels
        term.wait_for("Cancelled: nothing was sent")
        assert audit_entries(term) == []
        term.press("c")
        term.wait_for("Revoke 1 task(s)?")
        assert "Sent to: all workers" in term.text()
        term.press("y")
        term.wait_for("ok: tasks {")  # "tasks {id} flagged as revoked"
        term.wait_for(lambda t: "REVOKED" in row_with(t, queued.id[:8]), timeout=30)
        assert audit_entries(term)[-1]["arguments"]["task_id"] == [queued.id]


def test_terminate_stops_a_long_task(broker, workers, tmp_path):
    workers("w1", concurrency=1)
    with monitor(broker, tmp_path) as term:
        term.wait_for("● connected")
        long = broker.app.send_task("tests.sleep", (120,))
        term.wait_for(lambda t: "STARTED" in row_with(t, long.id[:8]), timeout=30)
        select_task(term, long.id)
        term.press("C")
        term.wait_for("signal (TERM")
        term.press("enter")  # TERM, pre-filled
        term.wait_for("Revoke and terminate (SIGTERM) 1 task(s)?")
        term.press("y")
        term.wait_for(lambda t: "REVOKED" in row_with(t, long.id[:8]), timeout=30)
        term.wait_for("ok: terminate: ")
        assert audit_entries(term)[-1]["arguments"]["terminate"] is True


def test_shutdown_makes_the_worker_exit_and_go_offline(broker, workers, tmp_path):
    worker = workers("doomed")
    with monitor(broker, tmp_path) as term:
        term.wait_for(lambda t: "online" in row_with(t, worker.hostname[:20]))
        term.press("tab")
        term.press("X")
        term.wait_for("Shut down 1 worker(s)?")
        assert f"Sent to: {worker.hostname} only." in term.text()
        assert f"{worker.hostname}: no task running" in term.text()
        term.press("esc")
        term.wait_for("Cancelled: nothing was sent")
        assert worker.alive()
        term.press("X")
        term.wait_for("Shut down 1 worker(s)?")
        term.press("y")
        worker.proc.wait(timeout=30)
        term.wait_for(lambda t: "offline" in row_with(t, worker.hostname[:20]), timeout=30)


def test_pool_grow_adds_a_process(broker, workers, tmp_path):
    worker = workers("w1", concurrency=1)
    before = len(inspect(broker, worker, "stats")["pool"]["processes"])
    with monitor(broker, tmp_path) as term:
        term.wait_for(lambda t: "online" in row_with(t, worker.hostname[:20]))
        term.press("tab", "+")
        term.wait_for("pool_grow")
        term.press("ctrl-u")
        term.send("2")
        term.press("enter")
        term.wait_for("pool will grow")
        wait_until(lambda: len(inspect(broker, worker, "stats")["pool"]["processes"]) == before + 2, timeout=20,
                   message="the pool did not grow")


def test_add_consumer_makes_the_worker_consume_a_queue(broker, workers, tmp_path):
    worker = workers("w1")
    queue = f"extra-{broker.ns}"
    with monitor(broker, tmp_path) as term:
        term.wait_for(lambda t: "online" in row_with(t, worker.hostname[:20]))
        term.press("tab", "Q")
        term.wait_for(f"(consumes q-{broker.ns})")
        term.send(queue)
        term.press("enter")
        term.wait_for(f"ok: add consumer {queue}")
        names = {q["name"] for q in inspect(broker, worker, "active_queues")}
        assert queue in names


def test_retry_sends_the_task_again_with_the_same_arguments(broker, workers, tmp_path):
    workers("w1")
    with monitor(broker, tmp_path) as term:
        term.wait_for("● connected")
        failed = broker.app.send_task("tests.fail", ("try me again",))
        term.wait_for(lambda t: "FAILURE" in row_with(t, failed.id[:8]), timeout=30)
        select_task(term, failed.id)
        term.press("R")
        term.wait_for("Send tests.fail again?")
        assert "tests.fail(*('try me again',), **{})" in term.text()
        term.press("y")
        term.wait_for("retry: sent tests.fail again as ")
        new_id = term.text().split("again as ")[1][:36]
        term.wait_for(lambda t: "FAILURE" in row_with(t, new_id[:8]), timeout=30)
        assert "('try me again',)" in row_with(term, new_id[:8])


def test_read_only_refuses_every_command(broker, workers, tmp_path):
    worker = workers("w1")
    with monitor(broker, tmp_path, "--read-only") as term:
        term.wait_for(lambda t: "online" in row_with(t, worker.hostname[:20]))
        assert "READ-ONLY" in term.lines()[0]
        for key, what in (("c", "revoke"), ("l", "rate_limit"), ("R", "retry")):
            term.press(key)
            term.wait_for(f"Read-only mode: {what} changes the cluster")
        term.press("tab")
        for key, what in (("X", "shutdown"), ("+", "pool_grow"), ("Q", "add_consumer")):
            term.press(key)
            term.wait_for(f"Read-only mode: {what} changes the cluster")
        assert worker.alive() and audit_entries(term) == []


def test_a_silent_worker_is_named_as_not_answering(broker, workers, tmp_path):
    worker = workers("sleepy")
    with monitor(broker, tmp_path, "--timeout", "1") as term:
        term.wait_for(lambda t: "online" in row_with(t, worker.hostname[:20]))
        worker.kill(signal.SIGSTOP)
        try:
            term.press("tab", "e")
            term.wait_for("Enable task events on 1 worker(s)?")
            term.press("y")
            term.wait_for(f"enable_events → {worker.hostname}: {worker.hostname}: no reply within the timeout",
                          timeout=20)
            assert audit_entries(term)[-1]["no_reply"] == [worker.hostname]
        finally:
            worker.kill(signal.SIGCONT)


def test_time_limits_reach_the_worker(broker, workers, tmp_path):
    worker = workers("w1")
    with monitor(broker, tmp_path) as term:
        term.wait_for("● connected")
        done = broker.app.send_task("tests.echo", ("x",))
        done.get(timeout=30)
        term.wait_for(done.id[:8])
        select_task(term, done.id)
        term.press("T")
        term.wait_for("time limits for tests.echo")
        term.send("60 30")
        term.press("enter")
        term.wait_for("Not sent: the soft limit (60 s) must be below the hard limit (30 s)")
        term.press("T")
        term.send("30 60")
        term.press("enter")
        term.wait_for("time limits set successfully")
        registered = inspect(broker, worker, "registered", "time_limit", "soft_time_limit")
        entry = next(e for e in registered if e.startswith("tests.echo"))
        assert "time_limit=60" in entry and "soft_time_limit=30" in entry, entry


def test_pool_shrink_autoscale_restart_refusal_consumers_and_events(broker, workers, tmp_path):
    worker = workers("w1", concurrency=3)
    with monitor(broker, tmp_path) as term:
        term.wait_for(lambda t: "online" in row_with(t, worker.hostname[:20]))
        term.press("tab", "-")
        term.wait_for("pool_shrink")
        term.press("enter")
        term.wait_for("ok: pool will shrink")
        wait_until(lambda: len(inspect(broker, worker, "stats")["pool"]["processes"]) == 2, timeout=20,
                   message="the pool did not shrink")
        term.press("a")
        term.send("1,5")
        term.press("enter")
        term.wait_for("Not sent: MAX (1) must be at least 1 and at least MIN (5)")
        term.press("a")
        term.send("4,1")
        term.press("enter")
        term.wait_for(f"autoscale → {worker.hostname}: ")  # refused or done: the worker's own words
        term.press("P")
        term.wait_for(f"Restart the pool of {worker.hostname}?")
        term.press("y")
        term.wait_for("error: ValueError('Pool restarts not enabled')")
        term.press("D")
        term.wait_for(f"(consumes q-{broker.ns})")
        term.press("tab")  # completes the one queue it consumes
        term.wait_for(lambda t: f"queue (Tab completes): q-{broker.ns}" in t.lines()[-1])
        term.press("enter")
        term.wait_for(f"Stop {worker.hostname} consuming from q-{broker.ns}?")
        term.press("y")
        term.wait_for(f"ok: no longer consuming from q-{broker.ns}")
        wait_until(lambda: not inspect(broker, worker, "active_queues"), timeout=20,
                   message="the worker still consumes the queue")
        # celery's own words vary ("already disabled" for a worker started
        # with -E, whose dispatcher has no explicit groups): wait for the reply
        term.press("E")
        term.wait_for("Disable task events on 1 worker(s)?")
        term.press("y")
        term.wait_for(f"disable_events → {worker.hostname}: ok: task events")
        term.press("e")
        term.wait_for("Enable task events on 1 worker(s)?")
        term.press("y")
        term.wait_for(f"enable_events → {worker.hostname}: ok: task events")
        commands = [entry["command"] for entry in audit_entries(term)]
        assert commands == ["pool_shrink", "autoscale", "pool_restart", "cancel_consumer",
                            "disable_events", "enable_events"]


def test_marked_workers_all_get_the_command_and_L_shows_the_replies(broker, workers, tmp_path):
    first, second = workers("one"), workers("two")
    with monitor(broker, tmp_path, "--no-audit-log") as term:
        for worker in (first, second):
            term.wait_for(lambda t, w=worker: "online" in row_with(t, w.hostname[:20]))
        term.press("tab", "*")
        term.wait_for("2 marked: commands go to them")
        assert sum(line.startswith("*") for line in term.lines()) == 2
        term.press("e")
        term.wait_for("Enable task events on 2 worker(s)?")
        term.press("y")
        term.wait_for(f"enable_events → {first.hostname}, {second.hostname}:" if first.hostname < second.hostname
                      else f"enable_events → {second.hostname}, {first.hostname}:")
        term.wait_for(lambda t: "task events" in t.lines()[-1] and "no reply" not in t.lines()[-1])
        assert "2 marks cleared · " in term.lines()[-1]
        term.wait_gone("marked: commands go to them")  # used once, the marks are gone
        assert sum(line.startswith("*") for line in term.lines()) == 0
        term.press("L")
        term.wait_for("not written to a file (--no-audit-log)")
        for worker in (first, second):
            assert worker.hostname in term.text()
        assert "enable_events" in term.text()
        term.press("esc")
        term.wait_gone("not written to a file")
    assert not term.audit_path.exists()


def test_typing_a_filter_in_the_workers_pane_sends_nothing_and_E_asks_first(broker, workers, tmp_path):
    alpha, beta = workers("alpha"), workers("beta")
    with ControlSpy(broker.app) as spy, monitor(broker, tmp_path) as term:
        for worker in (alpha, beta):
            term.wait_for(lambda t, w=worker: "online" in row_with(t, w.hostname[:20]))
        term.press("tab")
        term.send("/beta")  # typed as text: e, t, a would be commands if / were not a prompt here
        term.press("enter")
        term.wait_for(" Workers  1 of 2 match 'beta'")
        assert beta.hostname in term.text() and alpha.hostname not in term.text()
        term.press("E")  # the cursor is on beta, the one worker shown
        term.wait_for("Disable task events on 1 worker(s)?")
        assert "will stop seeing that worker's tasks" in term.text()
        assert f"Sent to: {beta.hostname} only." in term.text()
        term.press("n")
        term.wait_for("Cancelled: nothing was sent")
        term.press("L")
        term.wait_for("No command sent yet in this session.")
        term.press("esc", "esc")  # back from L, then clear the workers filter
        term.wait_for(lambda t: alpha.hostname in t.text() and beta.hostname in t.text())
        assert "match" not in row_with(term, " Workers ")
        spy.mark()
        assert cluster_changes(spy) == ["enable_events"]  # the start's own: no disable_events, no autoscale
    assert audit_entries(term) == []


def test_read_only_start_broadcasts_nothing_that_changes_the_cluster(broker, tmp_path):
    """Observed at the broker: a queue bound to the control exchange sees every broadcast."""
    with ControlSpy(broker.app) as spy:
        with monitor(broker, tmp_path) as term:
            term.wait_for("● connected")
            wait_until(lambda: "ping" in spy.methods(), message="a normal start did not seed (no ping)")
        spy.mark()  # everything the normal start sent has arrived
        assert cluster_changes(spy) == ["enable_events"]  # what read-only must not send
        spy.messages.clear()

        with monitor(broker, tmp_path, "--read-only") as term:
            term.wait_for("● connected")
            wait_until(lambda: "ping" in spy.methods(), message="a read-only start did not seed (no ping)")
        spy.mark()
        assert cluster_changes(spy) == [], spy.messages
