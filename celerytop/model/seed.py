"""Seed the model from remote control so the screen is not empty at start.

Events only tell what happens from now on; ``ping``/``inspect stats`` name
the workers and ``inspect active``/``reserved`` the tasks already in flight.
Replies become the same events a worker would have sent, applied uncounted
(they are not part of the event stream's statistics).

Each worker goes into the model as its ping reply arrives, not when the
ping's timeout is over (the ping waits the whole timeout: nobody knows how
many workers will answer); the inspect replies fill in the rest after.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from celery.utils.saferepr import saferepr

#: celery's ``Worker`` default heartbeat frequency: a worker known only from
#: a ping stays online this long * 2 unless its own heartbeats say otherwise.
SEEDED_HEARTBEAT_FREQ = 60.0


@dataclass(frozen=True)
class SeedReport:
    workers: tuple
    active: int
    reserved: int


def _as_repr(value) -> str:
    return value if isinstance(value, str) else saferepr(value, maxlen=1024)


def _processed(stats) -> int | None:
    try:
        return sum(int(n) for n in stats["total"].values())
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def worker_event(hostname: str, stats, active_count: int | None, now: float) -> dict:
    """A heartbeat as the worker would send it; ``active_count`` None: not known yet (a ping reply)."""
    event = {
        "type": "worker-heartbeat",
        "hostname": hostname,
        "timestamp": now,
        "local_received": now,
        "freq": SEEDED_HEARTBEAT_FREQ,
    }
    if active_count is not None:
        event["active"] = active_count
    processed = _processed(stats)
    if processed is not None:
        event["processed"] = processed
    if isinstance(stats, dict) and isinstance(stats.get("pid"), int):
        event["pid"] = stats["pid"]
    return event


def task_events(hostname: str, request: dict, started: bool, now: float) -> list:
    """task-received (and task-started for active ones) for one inspect entry."""
    uuid = request.get("id")
    if not isinstance(uuid, str):
        return []
    received = {
        "type": "task-received",
        "uuid": uuid,
        "hostname": hostname,
        "name": request.get("name"),
        "args": _as_repr(request.get("args", ())),
        "kwargs": _as_repr(request.get("kwargs", {})),
        "timestamp": now,
        "local_received": now,
        "clock": 0,
    }
    events = [received]
    if started:
        time_start = request.get("time_start")
        when = time_start if isinstance(time_start, (int, float)) else now
        events.append(
            {
                "type": "task-started",
                "uuid": uuid,
                "hostname": hostname,
                "timestamp": when,
                "local_received": now,
                "clock": 0,
                "pid": request.get("worker_pid"),
            }
        )
    return events


def seed(model, control, enable_events: bool = True, clock=time.time) -> SeedReport:
    """Ask the cluster what it is doing and put the answers into ``model``."""
    if enable_events and not control.read_only:  # read-only changes nothing, events included
        control.enable_events()
    seeded = set()  # workers this round put on screen, known from nothing but their ping reply

    def pong(hostname):
        with model.lock:  # a heartbeat of the worker's own between the check and the write would be overwritten
            if not model.has_worker(hostname):
                model.on_event(worker_event(hostname, None, None, clock()), counted=False)
                seeded.add(hostname)

    pongs = control.ping(on_reply=pong)
    # Named destinations let each reply round end as soon as every worker that
    # answered the ping has answered (kombu stops at len(destination) replies).
    answering = sorted(pongs)
    stats = control.inspect("stats", answering) if pongs else {}
    active = control.inspect("active", answering) if pongs else {}
    reserved = control.inspect("reserved", answering) if pongs else {}
    now = clock()
    for hostname in sorted(seeded):
        with model.lock:
            if model.heartbeat_freq(hostname) == SEEDED_HEARTBEAT_FREQ:  # else its own heartbeat says it better
                tasks = active.get(hostname) or []
                model.on_event(worker_event(hostname, stats.get(hostname), len(tasks), now), counted=False)
    for replies, started in ((reserved, False), (active, True)):
        for hostname, requests in replies.items():
            for request in requests or ():
                if isinstance(request, dict) and not model.has_task(request.get("id")):
                    for event in task_events(hostname, request, started, now):
                        model.on_event(event, counted=False)
    return SeedReport(
        workers=tuple(sorted(pongs)),
        active=sum(len(v or ()) for v in active.values()),
        reserved=sum(len(v or ()) for v in reserved.values()),
    )
