"""Remote control and inspect calls, run off the UI thread, replies normalised.

Every call blocks for up to ``timeout`` seconds waiting for worker replies,
so the UI submits them to :attr:`Control.executor` and gets the result
back through a callback.  Replies come back as ``{hostname: reply}``.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from celery import states
from celery.backends.base import DisabledBackend
from celery.utils.saferepr import saferepr

#: Default seconds to wait for worker replies, as ``celery inspect`` does.
DEFAULT_TIMEOUT = 1.0


#: Seconds the result backend gets to answer ``r`` before we say it did not.
BACKEND_TIMEOUT = 5.0


@dataclass(frozen=True)
class BackendResult:
    """What the result backend holds for a task, or why there is nothing."""

    state: str = ""
    result: str = ""
    traceback: str = ""
    error: str = ""


def merge_replies(replies) -> dict:
    """celery's ``[{host: reply}, ...]`` (or ``None``) as one ``{host: reply}``."""
    merged: dict = {}
    for reply in replies or ():
        if isinstance(reply, dict):
            merged.update(reply)
    return merged


class Control:
    def __init__(self, app, timeout: float = DEFAULT_TIMEOUT):
        self.app = app
        self.timeout = timeout
        # One thread: kombu's Mailbox caches its reply-queue id per process,
        # not per thread, so two broadcasts in flight at once consume each
        # other's replies and drop them as foreign (seen: a seeding 'inspect
        # active' coming back empty while a worker view inspected).
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="celerytop-control")

    def submit(self, fn, *args, **kwargs) -> Future:
        return self.executor.submit(fn, *args, **kwargs)

    def ping(self, destination=None) -> dict:
        return merge_replies(self.app.control.ping(destination=destination, timeout=self.timeout))

    def inspect(self, method: str, destination=None, *args) -> dict:
        """``inspect <method>``: ``{hostname: reply}``, empty when nobody answered."""
        inspector = self.app.control.inspect(destination=destination, timeout=self.timeout)
        return dict(getattr(inspector, method)(*args) or {})

    def enable_events(self, destination=None) -> None:
        """Broadcast ``enable_events`` (fire and forget, as ``celery control`` does)."""
        self.app.control.enable_events(destination=destination)

    def fetch_result(self, uuid: str, timeout: float = BACKEND_TIMEOUT) -> BackendResult:
        """The task's stored state and result (or exception and traceback)."""
        backend = self.app.backend
        if isinstance(backend, DisabledBackend):
            return BackendResult(error="this app has no result backend configured (result_backend is unset)")
        answer: dict = {}

        def ask():
            try:
                answer["meta"] = backend.get_task_meta(uuid)
            except Exception as exc:  # noqa: BLE001 - reported in the view
                answer["error"] = exc

        asker = threading.Thread(target=ask, daemon=True, name="celerytop-result")
        asker.start()
        asker.join(timeout)
        if asker.is_alive():
            return BackendResult(error=f"the result backend did not answer within {timeout:g} s")
        if "error" in answer:
            from celerytop.capture import one_line_error

            return BackendResult(error=f"the result backend failed: {one_line_error(answer['error'])}")
        meta = answer["meta"] or {}
        state = meta.get("status") or states.PENDING
        if state == states.PENDING and meta.get("result") is None:
            return BackendResult(state=state, error="unknown to the result backend (PENDING): "
                                 "no result stored yet, or it expired")
        return BackendResult(state=state, result=saferepr(meta.get("result"), maxlen=20000),
                             traceback=meta.get("traceback") or "")

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
