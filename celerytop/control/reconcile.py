"""``:reconcile``: put right the tasks left mid-flight by events that never arrived.

A task shown STARTED or RECEIVED whose task-succeeded (or -failed, -revoked)
was lost stays so forever.  Reconcile asks the workers (``inspect active``,
``reserved`` and ``query_task``) where each such task is, and the result
backend, where there is one, how each that no worker holds ended; the tasks
that finished are corrected through the model's one entry point for it
(:meth:`ClusterModel.reconcile`).  Nothing is sent that changes the
cluster, so read-only mode reconciles too.

Runs on a result-backend thread (``Control.submit_backend``): the worker questions go through the control
thread (one question at a time, see control.Control), the result backend is
asked with a deadline for all tasks together, on a backend of its own that is
closed after (``Control.ask_backend``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from celery import states
from celery.utils.saferepr import saferepr

from celerytop.control.backend import BackendTimeout, has_result_backend
from celerytop.model import filtering
from celerytop.present.errors import one_line_error

#: The states a lost outcome leaves a task in.
SHOWN_STATES = (states.STARTED, states.RECEIVED)
#: At most this many tasks are asked about in one reconcile, the oldest first.
MAX_TASKS = 500
#: Ids per query_task broadcast (each reply names every task found).
QUERY_CHUNK = 100
#: Seconds the result backend gets for all the tasks together.
BACKEND_BUDGET = 5.0
#: Where a worker holds a task, in its own words (query_task), and how that reads.
_ON_WORKER = {"active": "running on", "reserved": "waiting on", "scheduled": "scheduled on"}
#: What the result backend's state becomes: the event a worker would have sent.
_OUTCOME_EVENTS = {states.SUCCESS: "task-succeeded", states.FAILURE: "task-failed",
                   states.REVOKED: "task-revoked"}


@dataclass(frozen=True)
class Candidate:
    uuid: str
    state: str  # as shown when reconcile began
    worker: str


@dataclass
class Answers:
    """What the workers and the result backend said."""

    on_worker: dict = field(default_factory=dict)  # uuid -> (hostname, "active" | "reserved" | "scheduled", request)
    answered: set = field(default_factory=set)  # workers that replied
    backend: dict = field(default_factory=dict)  # uuid -> meta
    errors: list = field(default_factory=list)


@dataclass(frozen=True)
class Report:
    asked: int
    changed: tuple  # (uuid, before, after, source)
    unchanged: tuple  # (uuid, state, why)
    errors: tuple = ()

    def summary(self) -> str:
        """One line for the status bar."""
        if not self.changed:
            head = f"reconcile: {self.asked} task(s) asked about, none changed"
        else:
            after = {}
            for _uuid, _before, state, _source in self.changed:
                after[state] = after.get(state, 0) + 1
            head = (f"reconcile: corrected {len(self.changed)} of {self.asked} ("
                    + ", ".join(f"{n} → {state}" for state, n in sorted(after.items())) + ")")
        kept: dict = {}
        for _uuid, _state, why in self.unchanged:
            kept[_kind(why)] = kept.get(_kind(why), 0) + 1
        parts = [head] + [f"{n} {kind}" for kind, n in sorted(kept.items())]
        if self.errors:
            parts.append(self.errors[0])
        return "; ".join(parts) + "; L for each task"


def _kind(why: str) -> str:
    if why.startswith("unknown"):
        return "unknown"
    if why.startswith("unchanged"):
        return "updated meanwhile"
    return "still on workers"


def candidates(model, limit: int = MAX_TASKS) -> list:
    """Tasks shown STARTED or RECEIVED, oldest first, at most ``limit``."""
    found = []
    for state in SHOWN_STATES:
        for uuid in model.query(filtering.parse(f"state:{state}")):
            row = model.task_row(uuid)
            if row is not None and row.state == state:
                found.append((row.received or 0.0, Candidate(uuid, state, row.worker)))
    found.sort(key=lambda item: item[0])
    return [candidate for _when, candidate in found[:limit]]


def ask_workers(control, uuids: list, timeout=None) -> Answers:
    """Where the workers hold ``uuids`` (run on the control thread: it broadcasts)."""
    answers = Answers()
    for method in ("active", "reserved"):
        try:
            replies = control.inspect(method, None, timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - reported, never raised
            answers.errors.append(f"inspect {method} failed: {one_line_error(exc)}")
            continue
        for host, requests in replies.items():
            answers.answered.add(host)
            for request in requests if isinstance(requests, list) else ():
                if isinstance(request, dict) and isinstance(request.get("id"), str):
                    answers.on_worker.setdefault(request["id"], (host, method, request))
    for start in range(0, len(uuids), QUERY_CHUNK):
        try:
            replies = control.inspect("query_task", None, *uuids[start:start + QUERY_CHUNK], timeout=timeout)
        except Exception as exc:  # noqa: BLE001
            answers.errors.append(f"inspect query_task failed: {one_line_error(exc)}")
            break
        for host, found in replies.items():
            answers.answered.add(host)
            for uuid, entry in found.items() if isinstance(found, dict) else ():
                if isinstance(entry, (list, tuple)) and len(entry) == 2 and entry[0] in _ON_WORKER:
                    request = entry[1] if isinstance(entry[1], dict) else {}
                    answers.on_worker.setdefault(uuid, (host, entry[0], request))
    return answers


def ask_backend(control, uuids: list, answers: Answers, budget: float = BACKEND_BUDGET) -> None:
    """The result backend's record of each of ``uuids``, as many as it gives within ``budget``
    seconds (through :meth:`Control.ask_backend`: bounded, its connections closed after)."""
    if not uuids or not has_result_backend(control.app):
        return
    found: dict = {}

    def ask(backend):
        for uuid in uuids:
            meta = backend.get_task_meta(uuid)
            if isinstance(meta, dict):
                found[uuid] = meta

    try:
        control.ask_backend(ask, budget)
    except BackendTimeout:
        answers.errors.append(f"the result backend did not answer for every task within {budget:g} s")
    except Exception as exc:  # noqa: BLE001 - said in the report
        answers.errors.append(f"the result backend failed: {one_line_error(exc)}")
    answers.backend.update(dict(found))  # a copy: what it gave before the budget ran out


def corrections(asked: list, answers: Answers, now: float) -> tuple:
    """([(uuid, state shown, event, source)], [(uuid, state, why it stays)]) from the answers."""
    fixes, kept = [], []
    for candidate in asked:
        held = answers.on_worker.get(candidate.uuid)
        meta = answers.backend.get(candidate.uuid) or {}
        outcome = meta.get("status")
        if held is not None:
            host, where, request = held
            if where == "active" and candidate.state == states.RECEIVED:
                fixes.append((candidate.uuid, candidate.state, _started_event(candidate, host, request, now),
                              f"inspect: active on {host}"))
            else:
                kept.append((candidate.uuid, candidate.state, f"{_ON_WORKER[where]} {host}"))
        elif outcome in _OUTCOME_EVENTS and candidate.worker:
            fixes.append((candidate.uuid, candidate.state, _outcome_event(candidate, outcome, meta, now),
                          "result backend"))
        elif candidate.worker and candidate.worker not in answers.answered:
            kept.append((candidate.uuid, candidate.state, f"unknown: its worker {candidate.worker} did not answer"))
        else:
            kept.append((candidate.uuid, candidate.state,
                         "unknown: on no worker, and no outcome in the result backend (lost, or its result not kept)"))
    return fixes, kept


def _started_event(candidate: Candidate, host: str, request: dict, now: float) -> dict:
    started = request.get("time_start")
    return {"type": "task-started", "uuid": candidate.uuid, "hostname": host,
            "timestamp": started if type(started) in (int, float) else now, "local_received": 0.0}


def _outcome_event(candidate: Candidate, outcome: str, meta: dict, now: float) -> dict:
    event = {"type": _OUTCOME_EVENTS[outcome], "uuid": candidate.uuid,
             "hostname": candidate.worker or "unknown",
             # 0: no sign of life of the worker (it may be long gone), see ClusterModel._update_task
             "local_received": 0.0, "timestamp": _done_at(meta.get("date_done"), now)}
    if outcome == states.SUCCESS:
        event["result"] = saferepr(meta.get("result"), maxlen=1024)
    elif outcome == states.FAILURE:
        event["exception"] = saferepr(meta.get("result"), maxlen=1024)
        event["traceback"] = meta.get("traceback") if isinstance(meta.get("traceback"), str) else ""
    return event


def _done_at(value, now: float) -> float:
    """The backend's date_done (a datetime, or ISO text once serialised) as a timestamp."""
    try:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        if when.tzinfo is None:  # celery stores UTC
            when = when.replace(tzinfo=timezone.utc)
        return when.timestamp()
    except (TypeError, ValueError, OverflowError, OSError):
        return now


def reconcile(model, control, asked: list, timeout=None, budget: float = BACKEND_BUDGET) -> Report:
    """Ask, then correct: the whole of ``:reconcile`` for the tasks ``asked`` (off the UI thread)."""
    uuids = [candidate.uuid for candidate in asked]
    try:
        answers = control.submit(ask_workers, control, uuids, timeout).result()
    except Exception as exc:  # noqa: BLE001
        answers = Answers(errors=[f"asking the workers failed: {one_line_error(exc)}"])
    ask_backend(control, [u for u in uuids if u not in answers.on_worker], answers, budget)
    fixes, kept = corrections(asked, answers, model.now())
    sources = {uuid: source for uuid, _shown, _event, source in fixes}
    changed = model.reconcile([(uuid, shown, event) for uuid, shown, event, _source in fixes])
    applied = {uuid for uuid, _before, _after in changed}
    kept += [(uuid, shown, "unchanged: an event arrived meanwhile") for uuid, shown, _e, _s in fixes
             if uuid not in applied]
    return Report(asked=len(asked),
                  changed=tuple((uuid, before, after, sources[uuid]) for uuid, before, after in changed),
                  unchanged=tuple(kept), errors=tuple(answers.errors))
