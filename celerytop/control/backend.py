"""Calls to the result backend: each bounded by a timeout, on a backend instance of its own, off the UI thread.

The result backend is another server with failures of its own: its calls go to
:meth:`BackendCalls.submit_backend` (never the control thread), each on a backend
instance of its own that is closed when the call ends or times out.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from celery import states
from celery.app.backends import by_url
from celery.backends.base import DisabledBackend
from celery.utils.saferepr import saferepr

from celerytop.present.errors import one_line_error

#: Seconds the result backend gets to answer ``r`` before we say it did not.
BACKEND_TIMEOUT = 5.0

#: Result-backend calls running at once; more wait their turn (each is bounded by its timeout).
BACKEND_THREADS = 8

#: Result-backend questions alive at once, those a timeout gave up on included: while as many
#: are blocked on a backend that closing does not wake, a new one waits (within its timeout) for
#: one to end instead of adding a thread.
BACKEND_ASKERS = 2 * BACKEND_THREADS


@dataclass(frozen=True)
class BackendResult:
    """What the result backend holds for a task, or why there is nothing."""

    state: str = ""
    result: str = ""
    traceback: str = ""
    error: str = ""


@dataclass(frozen=True)
class GroupLookup:
    """Group ids the result backend gave ({uuid: group id}), or why it could not."""

    groups: dict = field(default_factory=dict)
    pending: tuple = ()  # tasks it does not know yet (no result stored)
    error: str = ""


class BackendTimeout(Exception):
    """The result backend did not answer in time (its connections were closed)."""


class BackendCalls:
    """The result-backend half of :class:`~celerytop.control.control.Control`."""

    def __init__(self, app):
        self.app = app
        # The result backend is not the broker: a backend that never answers must
        # hold up no command, and one slow fetch no other fetch.
        self.backend_executor = ThreadPoolExecutor(max_workers=BACKEND_THREADS, thread_name_prefix="celerytop-backend")
        self.backend_askers = threading.BoundedSemaphore(BACKEND_ASKERS)

    def submit_backend(self, fn, *args, **kwargs) -> Future:
        """Run a result-backend call (``fetch_result``, ``fetch_group_ids``, ``ask_backend``)
        off the UI thread and off the control thread."""
        return self.backend_executor.submit(fn, *args, **kwargs)

    def ask_backend(self, question, timeout: float = BACKEND_TIMEOUT):
        """``question(backend)`` on a result-backend instance of its own, answered within
        ``timeout`` or BackendTimeout; its connections are closed either way, so a backend
        that never answers keeps none open.  DisabledBackend passes through: say so first."""
        deadline = time.monotonic() + timeout
        silent = BackendTimeout(f"the result backend did not answer within {timeout:g} s")
        if not self.backend_askers.acquire(timeout=timeout):
            raise silent
        answer: dict = {}

        def ask():
            try:
                answer["value"] = question(backend)
            except Exception as exc:  # noqa: BLE001 - raised again below, on the caller's thread
                answer["error"] = exc
            finally:
                close_backend(backend)
                self.backend_askers.release()

        try:
            backend = fresh_backend(self.app, timeout)
            # A daemon thread, not a pool's: a call that close_backend cannot wake (a backend
            # without a closable client) would keep a pool thread, and the program's exit waits
            # for every pool thread.  backend_askers bounds how many such threads there are.
            asker = threading.Thread(target=ask, daemon=True, name="celerytop-result")
            asker.start()
        except BaseException:
            self.backend_askers.release()
            raise
        asker.join(max(0.0, deadline - time.monotonic()))
        if asker.is_alive():
            close_backend(backend)  # wakes the asker blocked on its socket: it ends, and nobody reads it
            raise silent
        if "error" in answer:
            raise answer["error"]
        return answer["value"]

    def fetch_result(self, uuid: str, timeout: float = BACKEND_TIMEOUT) -> BackendResult:
        """The task's stored state and result (or exception and traceback)."""
        if not has_result_backend(self.app):
            return BackendResult(error="this app has no result backend configured (result_backend is unset)")
        try:
            meta = self.ask_backend(lambda backend: backend.get_task_meta(uuid), timeout) or {}
        except BackendTimeout as exc:
            return BackendResult(error=str(exc))
        except Exception as exc:  # noqa: BLE001 - reported in the view
            return BackendResult(error=f"the result backend failed: {one_line_error(exc)}")
        state = meta.get("status") or states.PENDING
        if state == states.PENDING and meta.get("result") is None:
            return BackendResult(state=state, error="unknown to the result backend (PENDING): "
                                 "no result stored yet, or it expired")
        return BackendResult(state=state, result=saferepr(meta.get("result"), maxlen=20000),
                             traceback=meta.get("traceback") or "")

    def fetch_group_ids(self, uuids, timeout: float = BACKEND_TIMEOUT) -> GroupLookup:
        """Which group each task is in, as the result backend stores it (``result_extended``).

        Events never say: celery sends a group's tasks (and a chord's header)
        each as its own root, without a parent.  One bounded wait for all of
        ``uuids``; a task the backend does not know yet (still running) is in
        ``pending``, to be asked again later.
        """
        if not has_result_backend(self.app):
            return GroupLookup(error="no result backend is configured")
        if not self.app.conf.result_extended:
            return GroupLookup(error="result_extended is off, so it stores no group ids")
        uuids = list(uuids)
        groups: dict = {}
        pending: list = []

        def ask(backend):
            for uuid in uuids:
                meta = backend.get_task_meta(uuid) or {}
                group_id = meta.get("group_id")
                if isinstance(group_id, str) and group_id:
                    groups[uuid] = group_id
                elif (meta.get("status") or states.PENDING) not in states.READY_STATES:
                    pending.append(uuid)

        try:
            self.ask_backend(ask, timeout)
        except BackendTimeout as exc:
            return GroupLookup(dict(groups), error=str(exc))
        except Exception as exc:  # noqa: BLE001 - reported in the view
            return GroupLookup(dict(groups), error=f"the result backend failed: {one_line_error(exc)}")
        return GroupLookup(groups, tuple(pending))

    def close(self) -> None:
        self.backend_executor.shutdown(wait=False, cancel_futures=True)


def has_result_backend(app) -> bool:
    return not isinstance(app.backend, DisabledBackend)


def fresh_backend(app, timeout: float):
    """A result-backend instance of our own, as celery builds ``app.backend``: closing it
    closes no one else's connection.  Redis's socket timeouts are cut to just past
    ``timeout`` (celery's default is 120 s), so even a call the close misses soon ends."""
    backend_cls, url = by_url(app.backend_cls or app.conf.result_backend, app.loader)
    backend = backend_cls(app=app, url=url)
    connparams = getattr(backend, "connparams", None)
    if isinstance(connparams, dict):
        backstop = timeout + 1.0  # after the close at ``timeout``, which says why
        for key in ("socket_timeout", "socket_connect_timeout"):
            connparams[key] = min(connparams.get(key) or backstop, backstop)
    return backend


def close_backend(backend) -> None:
    """Close what a backend instance holds open, from any thread: a call blocked on
    one of its sockets fails at once.  Redis (and sentinel) close their connection
    pool, in-use connections included; clients with ``close()`` (MongoDB,
    Elasticsearch...) close; a result consumer (Redis pub/sub, rpc) stops."""
    client = vars(backend).get("client")  # a cached property: only if this call made one
    pool = getattr(client, "connection_pool", None)
    for closing in (getattr(pool, "disconnect", None), getattr(client, "close", None) if pool is None else None,
                    getattr(vars(backend).get("result_consumer"), "stop", None)):
        if closing is None:
            continue
        try:
            closing()
        except Exception:  # noqa: BLE001 - already closed, or never opened
            pass
