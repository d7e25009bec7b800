"""Result fetching against real (mis)configurations: no backend, a dead backend."""

import socket

from celery import Celery

from celerytop.control import Control


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


def test_read_only_is_refused_in_the_command_path_itself(tmp_path):
    from celerytop.audit import AuditLog

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

    from celerytop.audit import AuditLog

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

    from celerytop.audit import AuditLog

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
