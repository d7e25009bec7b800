"""Result fetching against real (mis)configurations: no backend, a dead backend."""

import os
import socket

import pytest
from celery import Celery

from celerytop.control.control import Control


def test_an_app_without_a_result_backend_says_so():
    control = Control(Celery("nobackend", broker="memory://", set_as_current=False))
    fetched = control.fetch_result("0f3c2a10-0000-0000-0000-000000000000")
    assert "no result backend configured" in fetched.error
    control.close()


def test_a_backend_that_is_down_is_reported_in_one_line():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = Celery("deadbackend", broker="memory://", backend=f"redis://127.0.0.1:{port}/0",
                 set_as_current=False)
    app.conf.redis_backend_health_check_interval = None
    app.conf.result_backend_transport_options = {"retry_policy": {"max_retries": 0}}
    control = Control(app)
    fetched = control.fetch_result("0f3c2a10-0000-0000-0000-000000000000", timeout=5)
    assert fetched.error.startswith(("the result backend failed", "the result backend did not answer"))
    assert "\n" not in fetched.error
    control.close()


def test_a_backend_that_never_answers_holds_no_command_and_keeps_no_connection():
    """Six fetches and a group lookup against a backend that accepts and stays silent
    (tests/silent.py: no real Redis does that): each times out on its own backend
    thread while the control thread stays free, and every connection is closed."""
    from tests.live import wait_until
    from tests.silent import SilentServer

    with SilentServer() as silent:
        app = Celery("silent", broker="memory://", backend=silent.url, set_as_current=False)
        app.conf.result_extended = True
        control = Control(app)
        fetches = [control.submit_backend(control.fetch_result, f"0f3c2a10-0000-0000-0000-00000000000{i}", 1)
                   for i in range(6)]
        groups = control.submit_backend(control.fetch_group_ids, ["0f3c2a10-0000-0000-0000-000000000009"], 1)
        wait_until(lambda: silent.accepted == 7, message="the fetches did not all ask at once")
        assert silent.closed == 0, "a fetch ended before the last one started: they ran one after another"
        assert control.submit(lambda: "the control thread is free").result() == "the control thread is free"
        assert all(not f.done() for f in fetches), "the control thread's call waited for the fetches"
        for fetched in fetches:
            assert fetched.result().error == "the result backend did not answer within 1 s"
        assert groups.result().error == "the result backend did not answer within 1 s"
        wait_until(lambda: silent.open_connections == 0, timeout=5,
                   message=f"{silent.open_connections} connection(s) left open to the silent backend")
        assert silent.accepted == 7  # closed, not reopened by a retry
        control.close()


def test_closing_a_backend_wakes_the_call_blocked_on_it():
    """close_backend from another thread ends a read the silent backend would hold for
    a minute (celery's socket timeout, set to 60 s here): the call fails, its connection closes."""
    import threading

    from celerytop.control.backend import close_backend
    from tests.live import wait_until
    from tests.silent import SilentServer

    with SilentServer() as silent:
        app = Celery("silent", broker="memory://", backend=silent.url, set_as_current=False)
        app.conf.redis_socket_timeout = 60
        backend = app.backend  # celery keeps one per thread: this one, used from the caller's
        failed = []

        def fetch():
            try:
                backend.get_task_meta("0f3c2a10-0000-0000-0000-000000000000")
            except Exception as exc:  # noqa: BLE001 - what the blocked call ends with
                failed.append(exc)

        caller = threading.Thread(target=fetch, daemon=True)
        caller.start()
        # the request itself read: the call now waits for the answer (closing earlier, between the
        # connect and the send, would only make redis-py retry on a new connection)
        wait_until(lambda: silent.received > 0, message="the call never reached the silent backend")
        assert caller.is_alive() and silent.open_connections == 1
        close_backend(backend)
        caller.join(10)
        assert not caller.is_alive() and failed, "the call still waits on the closed backend"
        wait_until(lambda: silent.open_connections == 0, timeout=5, message="the connection stayed open")


def test_questions_closing_cannot_wake_never_pile_up_threads():
    """A question blocked where closing its backend does not reach (an Event here; a backend
    without a closable client in life) outlives its timeout, but at most BACKEND_ASKERS
    of them are ever alive: later questions time out without starting a thread."""
    import threading

    from celerytop.control.backend import BACKEND_ASKERS, BackendTimeout
    from tests.live import wait_until

    control = Control(Celery("stuck", broker="memory://", backend="cache+memory://", set_as_current=False))
    release = threading.Event()
    before = set(threading.enumerate())

    def askers():
        return [t for t in threading.enumerate() if t.name == "celerytop-result" and t not in before]

    try:
        for _ in range(BACKEND_ASKERS + 3):
            with pytest.raises(BackendTimeout, match="did not answer within 0.05 s"):
                control.ask_backend(lambda backend: release.wait(), 0.05)
        assert len(askers()) == BACKEND_ASKERS
    finally:
        release.set()
    wait_until(lambda: not askers(), message="the released questions did not end")
    assert control.ask_backend(lambda backend: "answered", 5) == "answered"  # their places are free again
    control.close()


def test_read_only_is_refused_in_the_command_path_itself(tmp_path):
    from celerytop.control.audit import AuditLog

    audit = AuditLog(str(tmp_path / "audit.log"))
    app = Celery("ro", broker="memory://", set_as_current=False)
    control = Control(app, read_only=True, audit=audit)
    outcome = control.execute("shutdown", {}, ("w1@host",))
    assert outcome.refused.startswith("read-only mode: 'shutdown' changes the cluster")
    assert control.send_task("tests.add", (1, 2), {}).refused
    assert audit.entries == [] and not (tmp_path / "audit.log").exists()
    control.close()


def test_audit_log_appends_json_lines_with_user_and_replies(tmp_path):
    import json

    from celerytop.control.audit import AuditLog

    path = tmp_path / "nested" / "audit.log"
    audit = AuditLog(str(path))
    audit.record("rate_limit", {"task_name": "t", "rate_limit": "1/s"}, ("w1@h",),
                 {"replies": {"w1@h": {"ok": "done"}}, "no_reply": []})
    audit.record("shutdown", {}, (), {"replies": {}, "no_reply": [], "sent": "sent"})
    first, second = (json.loads(line) for line in path.read_text().splitlines())
    assert first["command"] == "rate_limit" and first["destination"] == ["w1@h"]
    assert "@" in first["user"] and first["replies"] == {"w1@h": {"ok": "done"}}
    assert second["destination"] == "all workers"
    assert AuditLog(None).record("x", {}, (), {})["command"] == "x"  # --no-audit-log: memory only


def test_broker_actions_take_the_same_guard_and_audit_as_broadcasts(tmp_path):
    import json

    from celerytop.control.audit import AuditLog

    ran = []
    log = tmp_path / "audit.log"
    app = Celery("purger", broker="memory://", set_as_current=False)
    read_only = Control(app, read_only=True, audit=AuditLog(str(log)))
    refused = read_only.run_on_broker("purge", {"queues": ["q"]}, lambda: ran.append(1) or "removed 3 from q")
    assert refused.refused.startswith("read-only mode: 'purge'") and ran == [] and not log.exists()

    control = Control(app, audit=AuditLog(str(log)))
    done = control.run_on_broker("purge", {"queues": ["q"]}, lambda: "removed 3 from q")
    assert done.summary() == "purge: removed 3 from q"

    def broken():
        raise ConnectionRefusedError(111, "Connection refused")

    failed = control.run_on_broker("migrate", {"url": "redis://x//"}, broken)
    assert failed.refused.startswith("migrate failed: ConnectionRefusedError") and "\n" not in failed.refused
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["command"], e["sent"]) for e in entries] == [("purge", "removed 3 from q"), ("migrate", "")]
    assert entries[1]["error"] == failed.refused
    control.close()
    read_only.close()


#: Control's methods that only read (or run other code): everything else must refuse in read-only mode.
READING_METHODS = {"submit", "ping", "inspect", "fetch_result", "fetch_group_ids", "close", "refuse_if_read_only",
                   "submit_backend", "ask_backend"}


def test_read_only_refuses_every_cluster_change_at_the_control_layer(fs, tmp_path):
    """Not only the UI guard: Control itself refuses, and the broker sees nothing
    (a queue bound to the control exchange, and the task queue's folder)."""
    from celery.worker.control import Panel

    from celerytop.control.audit import AuditLog
    from celerytop.control.verbs import READ_ONLY_COMMANDS
    from tests.live import ControlSpy

    changing = sorted(name for name, meta in Panel.meta.items()
                      if meta.type == "control" and name not in READ_ONLY_COMMANDS)
    assert {"shutdown", "revoke", "rate_limit", "pool_grow", "enable_events", "disable_events"} <= set(changing)
    public = {name for name in dir(Control) if not name.startswith("_") and callable(getattr(Control, name))}
    tested = {"execute", "send_task", "run_on_broker", "enable_events"}
    assert public == READING_METHODS | tested, "a new Control method: test its read-only refusal here"

    queue_folder = os.path.join(fs.fsdir, "queue")
    ran = []
    audit = AuditLog(str(tmp_path / "audit.log"))
    read_only = Control(fs.app, read_only=True, audit=audit)
    with ControlSpy(fs.app) as spy:
        before = sorted(os.listdir(queue_folder))
        refusals = [read_only.execute(name, {}, ("w1@host",)) for name in changing]
        refusals.append(read_only.send_task("tests.add", (1, 2), {}))
        refusals.append(read_only.run_on_broker("purge", {"queues": ["q"]}, lambda: ran.append(1) or "purged"))
        refusals.append(read_only.enable_events())
        spy.mark()
        assert spy.messages == [] and ran == [] and audit.entries == []
        assert [o.command for o in refusals if not o.refused.startswith("read-only mode: ")] == []
        assert sorted(os.listdir(queue_folder)) == before

        # the same observer sees what a writable Control sends
        Control(fs.app).enable_events()
        spy.mark()
        assert spy.methods() == ["enable_events"]
    read_only.close()
