"""The ``--demo`` cluster, with real worker processes (no mocks)."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from celerytop.demo.cluster import DemoCluster, remove_stale_folders
from celerytop.demo.tasks import REINDEX_EVERY

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="checks processes through /proc")


def wait_for(condition, timeout, what, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s: {what}")
        time.sleep(interval)


def _stat(pid):
    """(state, pgid) of a live process, None if it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # a zombie has exited already; only its parent's wait() is missing
    return None if fields[0] == "Z" else (fields[0], int(fields[2]))


def processes_in_groups(pgids):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat and stat[1] in pgids:
                found.append(int(entry))
    return found


def survivors(pids, pgids):
    return sorted(set(p for p in pids if _stat(p))
                  | set(processes_in_groups(set(pgids))))


def wait_until_gone(pids, pgids, timeout):
    try:
        wait_for(lambda: not survivors(pids, pgids), timeout, "workers gone")
    except AssertionError:
        left = {}
        for pid in survivors(pids, pgids):
            try:
                with open(f"/proc/{pid}/cmdline") as f:
                    left[pid] = f.read().replace("\0", " ")
            except OSError:
                pass
        raise AssertionError(f"still running after {timeout}s: {left}")


def wait_for_ping(app, hostnames, timeout=20):
    def everyone_replied():
        replies = app.control.ping(timeout=0.5)
        return set(hostnames) <= {name for r in replies for name in r}
    wait_for(everyone_replied, timeout, f"ping replies from {hostnames}")


@pytest.fixture(scope="module")
def cluster():
    with DemoCluster(workers=3, rate=4.0) as c:
        yield c


@pytest.fixture(scope="module")
def events(cluster):
    """Every event a Receiver in this process gets, in arrival order."""
    recorded = []
    with cluster.app.connection() as conn:
        recv = cluster.app.events.Receiver(
            conn, handlers={"*": recorded.append})
        thread = threading.Thread(
            target=recv.capture,
            kwargs={"limit": None, "timeout": None, "wakeup": True},
            daemon=True)
        thread.start()
        yield recorded
        recv.should_stop = True
        thread.join(5)


def find(events, type_, task_id):
    return next((e for e in list(events)
                 if e["type"] == type_ and e.get("uuid") == task_id), None)


def test_tasks_module_imports_without_a_cluster():
    env = {k: v for k, v in os.environ.items() if k != "CELERYTOP_DEMO_DIR"}
    out = subprocess.run(
        [sys.executable, "-c", "import celerytop.demo.tasks as t; "
         "print(*sorted(n for n in t.app.tasks if n.startswith('demo.')))"],
        env=env, capture_output=True, text=True, check=True).stdout.split()
    assert {"demo.billing.charge", "demo.inventory.sync",
            "demo.payments.capture", "demo.reports.generate",
            "demo.search.reindex"} <= set(out)
    # and a worker on it refuses to start rather than use amqp://localhost
    worker = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "celerytop.demo.tasks",
         "worker"], env=env, capture_output=True, text=True, timeout=30)
    assert worker.returncode == 1
    assert "needs $CELERYTOP_DEMO_DIR" in worker.stderr


def test_start_does_not_block_and_names_workers():
    c = DemoCluster(workers=2, rate=0)
    t0 = time.monotonic()
    try:
        c.start()
        assert time.monotonic() - t0 < 2
        assert len(c.worker_pids) == 2
        host = socket.gethostname()
        assert c.hostnames == [f"alpha@{host}", f"beta@{host}"]
        assert os.path.isdir(c.folder)
    finally:
        c.stop(grace=0)
    assert not os.path.exists(c.folder)
    assert not survivors(c.worker_pids, c.worker_pids)
    c.stop()  # idempotent


def test_every_worker_answers_ping(cluster):
    # remote control broadcasts (a fanout exchange) over the filesystem
    wait_for_ping(cluster.app, cluster.hostnames)


def test_receiver_sees_task_events(cluster, events):
    wait_for_ping(cluster.app, cluster.hostnames)
    # the Receiver is bound once anything (heartbeats, producer) arrives
    wait_for(lambda: events, 10, "a first event")
    send = cluster.app.send_task
    ok = send("demo.email.send", ("test@example.com",))
    bad = send("demo.inventory.sync", ("SKU-TEST",))
    retried_ok = send("demo.payments.capture", (1, 1))
    retried_bad = send("demo.payments.capture", (2, None))
    slow = send("demo.reports.generate", ("test-report", 30))

    started = wait_for(lambda: find(events, "task-started", slow.id), 20,
                       "task-started for the slow task")
    assert wait_for(lambda: find(events, "task-succeeded", ok.id), 20,
                    "task-succeeded")["result"]
    failed = wait_for(lambda: find(events, "task-failed", bad.id), 20,
                      "task-failed")
    assert "KeyError" in failed["exception"]
    # a real multi-frame traceback, down to the helper that raised
    assert "_load_record" in failed["traceback"]
    assert "_parse_record" in failed["traceback"]

    wait_for(lambda: find(events, "task-retried", retried_ok.id), 20,
             "task-retried")
    wait_for(lambda: find(events, "task-succeeded", retried_ok.id), 20,
             "retried task succeeding on its second attempt")
    gave_up = wait_for(lambda: find(events, "task-failed", retried_bad.id),
                       20, "retried task failing after max_retries")
    assert "GatewayTimeout" in gave_up["exception"]
    retries = [e for e in events
               if e["type"] == "task-retried" and e["uuid"] == retried_bad.id]
    assert len(retries) == 2

    # the 30 s report is still STARTED a few seconds after it started
    wait_for(lambda: time.time() - started["timestamp"] > 3, 5, "3 s")
    assert not find(events, "task-succeeded", slow.id)


def test_producer_sends_a_mixed_stream(cluster, events):
    def names():
        return {e["name"] for e in list(events) if e["type"] == "task-sent"}
    wait_for(lambda: len(names()) >= 5, 20, "task-sent for 5 task names")
    assert all(name.startswith("demo.") for name in names())


def test_the_producer_runs_the_schedule_the_beat_view_reads(cluster, events):
    """The demo app's beat_schedule is what B shows: reindex-products is sent on it (args and all, so the
    view counts its runs); inventory-audit never is, so the view has a missed run to show."""
    from celerytop.model.beat import plan_from_app

    schedule = cluster.app.conf.beat_schedule
    assert {name: entry["task"] for name, entry in schedule.items()} == {
        "reindex-products": "demo.search.reindex", "inventory-audit": "demo.inventory.sync"}
    assert plan_from_app(cluster.app, watching_since=time.time()).note == ""

    def reindexes():
        return [e for e in list(events) if e["type"] == "task-sent" and e["name"] == "demo.search.reindex"]
    sent = wait_for(lambda: len(reindexes()) >= 2 and reindexes(), REINDEX_EVERY * 3, "two reindex runs")
    assert all(e["args"] == repr(schedule["reindex-products"]["args"]) for e in sent)
    assert sent[1]["timestamp"] - sent[0]["timestamp"] >= REINDEX_EVERY - 0.5
    assert not [e for e in list(events) if e.get("args") == "('SKU-AUDIT',)"]


def test_rate_limited_task(cluster):
    task = cluster.app.tasks["demo.search.reindex"]
    assert task.rate_limit == "10/m"
    wait_for_ping(cluster.app, cluster.hostnames)
    registered = cluster.app.control.inspect(timeout=2).registered(
        "rate_limit")
    for hostname in cluster.hostnames:
        assert "demo.search.reindex [rate_limit=10/m]" in registered[hostname]


def test_stop_kills_every_process_and_removes_folder():
    c = DemoCluster(workers=2, rate=2.0).start()
    try:
        wait_for_ping(c.app, c.hostnames)
        # main processes plus their prefork pool children
        wait_for(lambda: len(processes_in_groups(set(c.worker_pids))) >= 6,
                 10, "2 workers with 2 pool processes each")
        pids = processes_in_groups(set(c.worker_pids))
    finally:
        c.stop()
    assert not survivors(pids, c.worker_pids)
    assert not os.path.exists(c.folder)


SCRIPT = textwrap.dedent("""
    import sys, time
    from celerytop.demo.cluster import DemoCluster

    mode = sys.argv[1]
    with DemoCluster(workers=2, rate=2.0) as c:
        print(c.folder, *c.worker_pids, flush=True)
        if mode == "crash":
            raise RuntimeError("simulated UI crash")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            replies = c.app.control.ping(timeout=0.5)
            if len(replies) == len(c.hostnames):
                break
        print("ready", flush=True)
        time.sleep(60)
""")


def run_script(mode):
    # own session, so a signal to its group is what a Ctrl-C in its
    # terminal would be, and cannot hit pytest
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, mode], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    folder, *pids = proc.stdout.readline().split()
    return proc, folder, [int(p) for p in pids]


def test_ui_crash_leaves_no_workers():
    proc, folder, pids = run_script("crash")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1 and "simulated UI crash" in err
    assert len(pids) == 2
    wait_until_gone(pids, pids, 5)
    assert not os.path.exists(folder)


def test_ctrl_c_leaves_no_workers():
    proc, folder, pids = run_script("sigint")
    assert proc.stdout.readline().strip() == "ready"
    children = processes_in_groups(set(pids))
    assert len(children) >= 4
    # in sessions of their own, out of reach of the terminal's Ctrl-C
    assert all(os.getsid(pid) == pid for pid in pids)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert "KeyboardInterrupt" in err
    wait_until_gone(children, pids, 5)
    assert not os.path.exists(folder)


def test_sigkilled_parent_leaves_no_workers():
    proc, folder, pids = run_script("sigkill")
    assert proc.stdout.readline().strip() == "ready"
    children = processes_in_groups(set(pids))
    assert len(children) >= 4
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    # PR_SET_PDEATHSIG: SIGKILL for the workers, then for their pools
    wait_until_gone(children, pids, 5)
    # nobody was left to remove the folder; the next demo does
    assert os.path.exists(folder)
    remove_stale_folders()
    assert not os.path.exists(folder)
