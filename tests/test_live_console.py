"""The ``:`` command prompt against a real worker on every selected broker:
each inspect command renders the worker's real replies as a view, control
commands reach the worker, bad commands explain themselves, completion
offers real names and the history survives a restart."""

import time
import uuid

from tests.live import wait_until
from tests.screen import cell_fg
from tests.test_live_control import audit_entries, inspect, monitor
from tests.test_queues import delete_amqp_queues


def command(term, line):
    term.press(":")
    term.wait_for(lambda t: t.lines()[-1].startswith(":"))
    term.send(line)
    term.press("enter")


def back(term):
    term.press("esc")
    term.wait_for("Workers ")


def test_each_inspect_command_renders_real_replies(broker, workers, tmp_path):
    # With -d a broadcast returns once the named workers answered; without, it waits --timeout.
    # The threads pool keeps the worker's main loop free while the sleeper runs (a busy
    # prefork worker with -c 1 on the filesystem transport stops answering remote control).
    side = f"side-{broker.ns}"
    worker = workers("w1", pool="threads", extra_args=("-Q", f"q-{broker.ns},{side}"))
    host = worker.hostname
    running = broker.app.send_task("tests.sleep", (60,))
    wait_until(lambda: inspect(broker, worker, "active"), timeout=30)
    waiting = broker.app.send_task("tests.add", (20, 22))  # prefetched behind the sleeper
    later = broker.app.send_task("tests.echo", ("later",), countdown=600)
    broker.app.control.revoke("dead0000-beef-4000-8000-000000000000", destination=[host])
    wait_until(lambda: inspect(broker, worker, "scheduled") and inspect(broker, worker, "reserved"), timeout=30)

    with monitor(broker, tmp_path, cols=150, rows=45) as term:
        term.wait_for("● connected")
        term.wait_for(host)

        command(term, "control rate_limit tests.echo 7/m")
        term.wait_for(f"rate_limit → all workers: {host}: ok")
        assert audit_entries(term)[-1]["arguments"] == {"task_name": "tests.echo", "rate_limit": "7/m"}

        command(term, "inspect registered")  # to all workers: waits the whole --timeout
        term.wait_for("1 worker(s) answered")
        term.wait_for(lambda t: any("tests.echo" in line and "7/m" in line for line in t.lines()))
        assert "RATE LIMIT" in term.text() and "tests.add" in term.text()
        back(term)

        command(term, f"inspect active -d {host}")
        term.wait_for(f"{host}  (1 task(s))")
        assert running.id[:8] in term.text() and "tests.sleep" in term.text()
        term.press("G", "enter")  # the task's row opens its detail
        term.wait_for(f"Task {running.id}")
        term.press("esc")
        back(term)

        command(term, f"inspect reserved -d {host}")
        term.wait_for(f"{host}  (1 task(s))")
        assert waiting.id[:8] in term.text() and "(20, 22)" in term.text()
        back(term)

        command(term, f"inspect scheduled -d {host}")
        term.wait_for(f"{host}  (1 task(s))")
        line = next(line for line in term.lines() if later.id[:8] in line)
        assert "tests.echo" in line and "eta " in line and "(in 9m" in line
        back(term)

        command(term, f"inspect revoked -d {host}")
        term.wait_for("dead0000-beef-4000-8000-000000000000")
        back(term)

        command(term, f"inspect query_task {running.id} {waiting.id} -d {host}")
        term.wait_for("2 found")
        assert any(running.id in line and "active" in line for line in term.lines())
        assert any(waiting.id in line and "reserved" in line for line in term.lines())
        back(term)

        command(term, f"inspect stats -d {host}")
        term.wait_for("max-concurrency")
        assert "prefetch_count  " in term.text() and "  broker" in term.text()
        term.press("G")  # the totals by task type come last
        term.wait_for(lambda t: any(line.strip().startswith("tests.sleep") for line in t.lines()))
        back(term)

        command(term, f"inspect conf -d {host}")
        term.wait_for(f"q-{broker.ns}")
        assert "task_default_queue" in term.text()
        back(term)

        command(term, f"inspect active_queues -d {host}")
        term.wait_for("ROUTING KEY")
        term.wait_for(f"q-{broker.ns}")
        term.wait_for(side)
        back(term)

        command(term, f"inspect report -d {host}")
        term.wait_for("software -> celery:")
        back(term)

        command(term, f"status -d {host},ghost@nowhere --timeout 1.5")
        term.wait_for(f"{host}: OK pong")
        term.wait_for("no reply within 1.5 s: ghost@nowhere")
        assert cell_fg(term, "no reply within", "ghost@nowhere") == "yellow"
        term.press("ctrl-r")  # ask again: the view waits, then fills with the new replies
        term.wait_for("asking the workers, up to 1.5 s")
        term.wait_for(f"{host}: OK pong")
        back(term)

        command(term, "inspect actve")
        term.wait_for("Not run: unknown inspect method 'actve'")
        command(term, "control rate_limit tests.add very-fast")
        term.wait_for("Not run: control rate_limit: 'very-fast' is not a rate limit")
        assert len(audit_entries(term)) == 1  # nothing was sent for the bad ones

        # completion offers the real worker name, then the real task names
        term.press(":")
        term.send("status -d ")
        term.press("tab")
        term.wait_for(f":status -d {host}")
        term.press("ctrl-u")
        term.send("control rate_limit tests.sl")
        term.press("tab")
        term.wait_for(":control rate_limit tests.sleep")
        term.press("ctrl-u")
        term.send("purge -Q si")  # a queue only the worker names (active_queues), not the app
        term.press("tab")
        term.wait_for(f":purge -Q {side}")
        term.press("esc")

    assert inspect(broker, worker, "registered") and any(
        "tests.echo" in entry and "rate_limit=7/m" in entry for entry in inspect(broker, worker, "registered"))
    broker.app.control.revoke(running.id, terminate=True, signal="KILL")
    delete_amqp_queues(broker, [side])


def test_control_from_the_prompt_confirms_and_reaches_the_worker(broker, workers, tmp_path):
    worker = workers("w1")
    earlier = broker.app.send_task("tests.add", (2, 3))
    assert earlier.get(timeout=30) == 5  # finished before celerytop started: not in its memory
    with monitor(broker, tmp_path) as term:
        term.wait_for("● connected")
        term.wait_for(worker.hostname)
        command(term, f"result {earlier.id}")
        term.wait_for("No longer in memory (evicted), or never seen.")
        term.wait_for(lambda t: any("result" in line and line.strip().endswith("5") for line in t.lines()))
        assert cell_fg(term, "state", "SUCCESS") == "green"
        term.press("esc")
        term.wait_for("Workers ")
        command(term, f"control shutdown -d {worker.hostname}")
        term.wait_for(f"control shutdown → {worker.hostname}?")
        term.press("n")
        term.wait_for("Cancelled: nothing was sent")
        time.sleep(1)
        assert worker.alive() and audit_entries(term) == []
        term.press(":")
        term.press("up")  # the history brings the line back
        term.wait_for(f":control shutdown -d {worker.hostname}")
        term.press("enter")
        term.wait_for(f"control shutdown → {worker.hostname}?")
        term.press("y")
        wait_until(lambda: not worker.alive(), timeout=30)
        assert audit_entries(term)[-1]["command"] == "shutdown"
        assert audit_entries(term)[-1]["destination"] == [worker.hostname]


def test_task_ids_are_taken_as_the_screen_shows_them(broker, workers, tmp_path):
    worker = workers("w1", concurrency=2)  # one process runs the sleeper, the other the rest
    host = worker.hostname
    stem = uuid.uuid4().hex[:8]  # two tasks whose ids start alike, as the screen shows them
    twins = [f"{stem}-0000-4000-8000-00000000000{n}" for n in (1, 2)]
    with monitor(broker, tmp_path) as term:
        term.wait_for("● connected")
        term.wait_for(host)
        done = broker.app.send_task("tests.add", (20, 22))
        for twin in twins:
            broker.app.send_task("tests.add", (1, 1), task_id=twin)
        running = broker.app.send_task("tests.sleep", (120,))
        assert done.get(timeout=30) == 42
        term.wait_for(done.id[:8])
        term.wait_for(running.id[:8])
        term.wait_for(lambda t: sum(stem in line for line in t.lines()) == 2)
        wait_until(lambda: inspect(broker, worker, "active"), timeout=30)

        command(term, f"result {done.id[:8]}")
        term.wait_for(f"Task {done.id}")  # the detail of the full id it stands for
        term.wait_for(lambda t: any(line.split()[:1] == ["result"] and line.strip().endswith("42")
                                    for line in t.lines()))
        term.press("esc")
        term.wait_for("Workers ")

        command(term, f"inspect query_task {running.id[:8]} -d {host}")
        term.wait_for("1 found")
        assert any(running.id in line and "active" in line for line in term.lines())
        term.wait_for(f"{running.id[:8]} → {running.id}")  # the status line names the id asked about
        term.press("G", "enter")  # the task's row opens its detail
        term.wait_for(f"Task {running.id}")
        term.press("esc")
        back(term)

        command(term, f"result {stem}")
        term.wait_for(f"Not run: task id '{stem}' matches 2 tasks: {twins[0]}, {twins[1]}; type more of it")
        command(term, f"control revoke {running.id[:3]}")
        term.wait_for(f"Not run: task id '{running.id[:3]}' is too short: type at least 4 characters")
        command(term, "inspect query_task 0000ffff")
        term.wait_for("Not run: no task in memory has an id starting '0000ffff' (evicted, or never seen)")
        assert audit_entries(term) == []  # none of them sent anything

        # Tab: an ambiguous prefix cycles through its candidates, a unique one completes
        term.press(":")
        term.send(f"result {stem}")
        term.press("tab")
        term.wait_for(f"2 task ids start with '{stem}': Tab cycles through them")
        term.wait_for(f":result {twins[0]}")
        term.press("tab")
        term.wait_for(f":result {twins[1]}")
        term.press("ctrl-u")
        term.wait_gone("2 task ids start with")
        term.send(f"control terminate KILL {running.id[:5]}")
        term.press("tab")
        term.wait_for(f":control terminate KILL {running.id}")
        term.press("esc")

        command(term, f"control terminate KILL {running.id[:8]}")
        term.wait_for("control terminate → all workers?")
        term.wait_for(f"typed as: {running.id[:8]} → {running.id}")
        term.press("y")
        wait_until(lambda: audit_entries(term), timeout=30)
        assert audit_entries(term)[-1]["arguments"]["task_id"] == [running.id]
        wait_until(lambda: not inspect(broker, worker, "active"), timeout=30)  # the sleeper was killed


def test_read_only_refuses_prompt_commands_that_change_the_cluster(fs, tmp_path):
    with monitor(fs, tmp_path, "--read-only") as term:
        term.wait_for("● connected")
        command(term, "control enable_events")
        term.wait_for("Read-only mode: enable_events changes the cluster and is disabled")
        command(term, "purge")
        term.wait_for("Read-only mode: purge changes the cluster and is disabled")
        assert audit_entries(term) == []
    # the prompt's history outlives the process: Up recalls the newest line first
    with monitor(fs, tmp_path, "--read-only") as term:
        term.wait_for("● connected")
        term.press(":")
        term.press("up")
        term.wait_for(lambda t: t.lines()[-1].startswith(":purge"))
        term.press("up")
        term.wait_for(lambda t: t.lines()[-1].startswith(":control enable_events"))
        term.press("esc")
