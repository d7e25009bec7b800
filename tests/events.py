"""Events in the exact shape celery's Receiver delivers them, for pure tests."""

import itertools
import time
import uuid as uuidlib

_clock = itertools.count(1)


def event(type_, hostname="w1@host", timestamp=None, **fields):
    now = time.time() if timestamp is None else timestamp
    out = {
        "type": type_,
        "hostname": hostname,
        "timestamp": now,
        "local_received": now,
        "utcoffset": 0,
        "pid": 1234,
        "clock": next(_clock),
    }
    out.update(fields)
    return out


def task_lifecycle(name="proj.add", final="task-succeeded", hostname="w1@host", uuid=None, t0=None, **final_fields):
    uuid = uuid or str(uuidlib.uuid4())
    t0 = time.time() if t0 is None else t0
    events = [
        event("task-received", hostname, t0, uuid=uuid, name=name, args="(1, 2)", kwargs="{}", retries=0),
        event("task-started", hostname, t0 + 0.01, uuid=uuid),
    ]
    if final:
        fields = {"task-succeeded": {"result": "3", "runtime": 0.02},
                  "task-failed": {"exception": "ValueError('boom')", "traceback": "Traceback...\nValueError: boom"},
                  "task-retried": {"exception": "Retry", "traceback": ""},
                  "task-revoked": {"terminated": False}}.get(final, {})
        fields.update(final_fields)
        events.append(event(final, hostname, t0 + 0.03, uuid=uuid, **fields))
    return uuid, events


def heartbeat(hostname="w1@host", timestamp=None, freq=2.0, **fields):
    fields.setdefault("active", 0)
    fields.setdefault("processed", 0)
    fields.setdefault("loadavg", [0.1, 0.2, 0.3])
    fields.setdefault("sw_ident", "py-celery")
    fields.setdefault("sw_ver", "5.7.0")
    return event("worker-heartbeat", hostname, timestamp, freq=freq, **fields)
