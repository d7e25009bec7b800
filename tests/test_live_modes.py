"""Batch, dump, cameras, record and replay, and the history database, as a user
runs them: celerytop as a separate process against real workers."""

import json
import os
import signal
import subprocess
import textwrap
import threading
import time

from tests.live import REPO_ROOT, wait_until
from tests.screen import BIN

CONTROL_BYTES = set(range(0x20)) - {0x0A}


def run(broker, *args, timeout=90):
    return subprocess.run([BIN, "-A", "tests.liveapp", *args], capture_output=True, timeout=timeout,
                          env=broker.subprocess_env(), cwd=str(REPO_ROOT), stdin=subprocess.DEVNULL)


def start(broker, *args, env=None):
    return subprocess.Popen([BIN, "-A", "tests.liveapp", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=broker.subprocess_env(**(env or {})), cwd=str(REPO_ROOT),
                            stdin=subprocess.DEVNULL, start_new_session=True)


class Output(threading.Thread):
    """Collects a process's stdout as it comes, so a test waits for a line instead of sleeping."""

    def __init__(self, proc):
        super().__init__(daemon=True)
        self.proc, self.chunks = proc, []
        self.start()

    def run(self):
        for line in iter(self.proc.stdout.readline, b""):
            self.chunks.append(line)

    def text(self):
        return b"".join(self.chunks).decode(errors="replace")

    def wait_for(self, needle, timeout=30):
        wait_until(lambda: needle in self.text(), timeout=timeout,
                   message=f"{needle!r} not in the output:\n{self.text()[-3000:]}")


class Producer(threading.Thread):
    """Sends a success and a failure every ``every`` seconds until stopped."""

    def __init__(self, app, every=0.25):
        super().__init__(daemon=True)
        self.app, self.every = app, every
        self.sent = []
        self._halt = threading.Event()

    def run(self):
        n = 0
        while not self._halt.is_set():
            self.sent.append(self.app.send_task("tests.add", (n, 1)))
            self.sent.append(self.app.send_task("tests.fail", (f"boom {n}",)))
            n += 1
            self._halt.wait(self.every)

    def stop(self):
        self._halt.set()
        self.join()


def test_batch_prints_text_and_json_snapshots_of_real_work(broker, workers):
    worker = workers("w1", concurrency=2)
    producer = Producer(broker.app)
    producer.start()
    try:
        result = run(broker, "--batch", "--format", "json", "--delay", "2", "--iterations", "2")
        text = run(broker, "--batch", "--delay", "2", "--width", "100")
    finally:
        producer.stop()
    assert result.returncode == 0, result.stderr
    docs = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [doc["iteration"] for doc in docs] == [1, 2]
    last = docs[-1]
    assert last["connection"]["state"] == "connected"
    assert [w["hostname"] for w in last["workers"] if w["online"]] == [worker.hostname]
    states = {task["state"] for task in last["tasks"]}
    assert {"SUCCESS", "FAILURE"} <= states
    assert last["counts"]["tasks"] == len(last["tasks"])
    assert sum(last["counts"]["states"].values()) == len(last["tasks"])
    sent = {r.id for r in producer.sent}
    assert {task["uuid"] for task in last["tasks"]} <= sent
    assert any(t["name"] == "tests.fail" and t["state"] == "FAILURE" and t["worker"] == worker.hostname
               for t in last["tasks"])

    assert text.returncode == 0, text.stderr
    assert not CONTROL_BYTES & set(text.stdout), "an escape or control byte in batch output"
    lines = text.stdout.decode().splitlines()
    assert all(len(line) <= 100 for line in lines)
    assert lines[0].startswith(" celerytop  app tests.liveapp") and "● connected" in lines[0]
    assert any(worker.hostname[:30] in line and "online" in line for line in lines)
    assert any("tests.fail" in line and "FAILURE" in line for line in lines)


def test_dump_prints_each_event_as_text_or_json(broker, workers):
    workers("w1")
    dumps = {fmt: start(broker, "--dump", "--format", fmt) for fmt in ("text", "json")}
    outputs = {fmt: Output(proc) for fmt, proc in dumps.items()}
    try:
        outputs["text"].wait_for("heartbeat")  # both consuming
        outputs["json"].wait_for("worker-heartbeat")
        done = broker.app.send_task("tests.add", (2, 3))
        assert done.get(timeout=30) == 5
        outputs["text"].wait_for("result=5")
        outputs["json"].wait_for('"task-succeeded"')
    finally:
        for proc in dumps.values():
            os.killpg(proc.pid, signal.SIGINT)
    for fmt, proc in dumps.items():
        proc.wait(20)
        outputs[fmt].join(5)
    text, errors = outputs["text"].text().encode(), dumps["text"].stderr.read()
    assert dumps["text"].returncode == 130, errors
    assert b"Traceback" not in errors
    lines = text.decode().splitlines()
    assert any(f"task received: tests.add({done.id}) args=(2, 3) kwargs={{}}" in line for line in lines), lines
    assert any("task succeeded: tests.add(" in line and "result=5" in line for line in lines)
    assert any("heartbeat" in line for line in lines)
    events = [json.loads(line) for line in outputs["json"].text().splitlines()]
    mine = [e for e in events if e.get("uuid") == done.id]
    # the filesystem transport orders events within a millisecond at random: look, do not assume the order
    succeeded = [e for e in mine if e["type"] == "task-succeeded"]
    assert succeeded and succeeded[0]["result"] == "5"
    assert all({"type", "hostname", "timestamp", "local_received"} <= set(e) for e in events)


def test_the_guides_dumpcam_works_unchanged(fs, fs_workers, tmp_path):
    # The Polaroid from the monitoring guide, character for character.
    (tmp_path / "myapp.py").write_text(textwrap.dedent("""\
        from pprint import pformat
        from celery.events.snapshot import Polaroid


        class DumpCam(Polaroid):
            # clear after flush
            clear_after = True

            def on_shutter(self, state):
                if not state.event_count:
                    # No new events since last snapshot
                    return
                print('Workers: {0}'.format(pformat(state.workers, indent=4)))
                print('Tasks: {0}'.format(pformat(state.tasks, indent=4)))
                print('Total: {0.event_count} events, {0.task_count} tasks'.format(
                    state))
        """))
    fs_workers("w1")
    env = {"PYTHONPATH": os.pathsep.join((str(tmp_path), fs.env["PYTHONPATH"]))}
    cam = start(fs, "--camera", "myapp.DumpCam", "--frequency=1.0", env=env)
    output = Output(cam)
    try:
        output.wait_for("Workers: ")  # a heartbeat came through: the camera is consuming
        done = fs.app.send_task("tests.add", (4, 4))
        assert done.get(timeout=30) == 8
        output.wait_for(done.id)
    finally:
        os.killpg(cam.pid, signal.SIGINT)
    cam.wait(20)
    output.join(5)
    text = output.text()
    assert text.startswith("-> evcam: Taking snapshots with myapp.DumpCam (every 1.0 secs.)")
    assert "Tasks: OrderedDict(" in text and f"<Task: tests.add({done.id}) SUCCESS" in text
    assert "Total: " in text and " events, " in text and " tasks" in text


def test_record_then_replay_gives_the_same_final_picture(fs, fs_workers, tmp_path):
    from tests.terminal import Terminal

    fs_workers("w1", concurrency=2)
    recording = tmp_path / "incident.jsonl.gz"
    env = fs.env
    with Terminal([BIN, "-A", "tests.liveapp", "--refresh", "0.2", "--record", str(recording)], cols=140, rows=40,
                  env=env, cwd=str(REPO_ROOT)) as term:
        term.wait_for("● connected")
        results = [fs.app.send_task("tests.add", (n, n)) for n in range(6)]
        results += [fs.app.send_task("tests.fail", (f"boom {n}",)) for n in range(3)]
        for result in results:
            result.get(timeout=30, propagate=False)
        term.wait_for("FAILURE 3  SUCCESS 6", timeout=30)
        live_rows = task_rows(term)
        live_counts = header_counts(term)
        term.press("q")
        term.wait_exit()
    assert len(live_rows) == 9

    with Terminal([BIN, "--replay", str(recording), "--speed", "0", "--refresh", "0.2"], cols=140, rows=40,
                  env=env, cwd=str(REPO_ROOT)) as term:
        term.wait_for("FAILURE 3  SUCCESS 6", timeout=30)
        term.wait_for("REPLAY")
        assert header_counts(term) == live_counts
        assert task_rows(term) == live_rows  # the same tasks, states, workers, times, args
        term.press("q")
        term.wait_exit()

    replayed = subprocess.run([BIN, "--replay", str(recording), "--batch", "--speed", "0", "--format", "json"],
                              capture_output=True, timeout=60, cwd=str(REPO_ROOT), env=fs.subprocess_env())
    assert replayed.returncode == 0, replayed.stderr
    doc = json.loads(replayed.stdout)
    assert doc["counts"]["states"] == {"SUCCESS": 6, "FAILURE": 3}
    assert {t["uuid"] for t in doc["tasks"]} == {r.id for r in results}


def header_counts(term):
    return next(line for line in term.lines() if line.startswith(" Workers ")).split("Events")[0].split("online")[1].strip()


def task_rows(term):
    """The tasks pane's rows without the runtime-independent parts that differ by clock."""
    return [line.rstrip() for line in term.lines() if line[2:10].isalnum() and len(line) > 12
            and ("tests.add" in line or "tests.fail" in line)]


def test_the_database_carries_tasks_across_a_restart(fs, fs_workers, tmp_path):
    db = tmp_path / "history.db"
    fs_workers("w1")
    first = start(fs, "--db", str(db), "--batch", "--delay", "4", "--format", "json")
    time.sleep(2)
    done = [fs.app.send_task("tests.add", (n, 1)) for n in range(3)]
    for result in done:
        result.get(timeout=30)
    out, errors = first.communicate(timeout=60)
    assert first.returncode == 0, errors
    kept = {t["uuid"]: t["state"] for t in stored_tasks(fs, db, tmp_path)}
    assert {r.id for r in done} <= set(kept) and {kept[r.id] for r in done} == {"SUCCESS"}


def test_a_sigkilled_writers_database_reopens(fs, tmp_path):
    from tests.screen import EventSource

    db = tmp_path / "history.db"
    writer = start(fs, "--db", str(db), "--batch", "--delay", "60")
    source = EventSource(fs.app)
    try:
        time.sleep(3)
        uuids = [source.task() for _ in range(5)]
        # the snapshot camera writes every few seconds: wait for a snapshot holding them
        wait_until(lambda: db.exists() and _count_rows(db) >= 5, timeout=30)
        more = [source.task() for _ in range(50)]
        time.sleep(0.3)
        os.killpg(writer.pid, signal.SIGKILL)
        writer.wait(10)
    finally:
        source.close()
    kept = {t["uuid"] for t in stored_tasks(fs, db, tmp_path)}
    assert set(uuids) <= kept  # nothing lost before the last snapshot
    assert kept <= set(uuids) | set(more)


def stored_tasks(fs, db, tmp_path):
    """The tasks a celerytop started on ``db`` shows with no event at all: only what the database kept."""
    empty = tmp_path / "nothing.jsonl"
    empty.write_text("")
    shown = subprocess.run([BIN, "--db", str(db), "--replay", str(empty), "--batch", "--speed", "0",
                            "--format", "json"], capture_output=True, timeout=60, cwd=str(REPO_ROOT),
                           env=fs.subprocess_env())
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)["tasks"]


def _count_rows(path):
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("select count(*) from tasks").fetchone()[0]
    except sqlite3.Error:
        return 0



def test_a_second_celerytop_on_the_same_database_reads_and_says_so(fs, tmp_path):
    db = tmp_path / "history.db"
    writer = start(fs, "--db", str(db), "--batch", "--delay", "8")
    try:
        wait_until(lambda: (tmp_path / "history.db.lock").exists(), timeout=20)
        time.sleep(1)
        second = run(fs, "--db", str(db), "--batch", "--delay", "0.5", "--format", "json")
    finally:
        writer.send_signal(signal.SIGTERM)
        writer.wait(20)
    assert second.returncode == 0, second.stderr
    assert f"another celerytop (pid {writer.pid}) is writing {db}; this one only reads it" in second.stderr.decode()
    assert json.loads(second.stdout)["iteration"] == 1
    assert writer.returncode == 143  # SIGTERM: saved and left cleanly
