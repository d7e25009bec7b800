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

from celerytop.capture import one_line_error

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


@dataclass(frozen=True)
class Outcome:
    """What happened to one command: each worker's reply, who was silent."""

    command: str
    destination: tuple  # () = every worker
    replies: dict  # hostname -> (ok: bool, text)
    missing: tuple = ()  # named destinations that did not answer in time
    refused: str = ""  # why nothing was sent (read-only)
    sent: str = ""  # for commands without replies: what was done

    def summary(self) -> str:
        """One line for the status bar."""
        if self.refused:
            return self.refused
        if self.sent and not self.destination and not self.replies:
            return f"{self.command}: {self.sent}"
        where = ", ".join(self.destination) if self.destination else "all workers"
        single = len(self.destination) == 1 and set(self.replies) <= set(self.destination)
        parts = [("" if single else f"{host}: ") + f"{'ok' if ok else 'error'}: {text}"
                 for host, (ok, text) in sorted(self.replies.items())]
        parts += [f"{host}: no reply within the timeout" for host in self.missing]
        if self.sent:
            parts.insert(0, self.sent)
        if not parts:
            parts = ["no worker replied within the timeout"]
        return f"{self.command} → {where}: " + "; ".join(parts)


def normalise_replies(replies) -> dict:
    """celery's [{host: {'ok': text} | {'error': text}}] as {host: (ok, text)}."""
    out = {}
    for host, reply in merge_replies(replies).items():
        if isinstance(reply, dict) and "error" in reply:
            out[host] = (False, str(reply["error"]))
        elif isinstance(reply, dict) and "ok" in reply:
            out[host] = (True, str(reply["ok"]))
        else:
            out[host] = (True, str(reply))
    return out


class ReadOnlyError(RuntimeError):
    pass


def merge_replies(replies) -> dict:
    """celery's ``[{host: reply}, ...]`` (or ``None``) as one ``{host: reply}``."""
    merged: dict = {}
    for reply in replies or ():
        if isinstance(reply, dict):
            merged.update(reply)
    return merged


#: Commands after which a worker does not answer (it is gone).
NO_REPLY = frozenset({"shutdown"})

#: Remote-control commands that only read; everything else changes the cluster.
READ_ONLY_COMMANDS = frozenset({"ping", "heartbeat"})


class Control:
    def __init__(self, app, timeout: float = DEFAULT_TIMEOUT, read_only: bool = False, audit=None):
        self.app = app
        self.timeout = timeout
        self.read_only = read_only
        self.audit = audit
        # One thread: kombu's Mailbox caches its reply-queue id per process,
        # not per thread, so two broadcasts in flight at once consume each
        # other's replies and drop them as foreign (seen: a seeding 'inspect
        # active' coming back empty while a worker view inspected).
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="celerytop-control")

    def submit(self, fn, *args, **kwargs) -> Future:
        return self.executor.submit(fn, *args, **kwargs)

    def ping(self, destination=None, timeout: float | None = None, on_reply=None) -> dict:
        """``{hostname: reply}`` once the timeout is over; ``on_reply(hostname)`` runs as each reply arrives."""
        callback = None
        if on_reply is not None:
            def callback(body):
                for hostname in merge_replies([body]):
                    on_reply(hostname)
        return merge_replies(self.app.control.ping(destination=destination, timeout=timeout or self.timeout,
                                                   callback=callback))

    def inspect(self, method: str, destination=None, *args, timeout: float | None = None) -> dict:
        """``inspect <method>``: ``{hostname: reply}``, empty when nobody answered."""
        inspector = self.app.control.inspect(destination=destination, timeout=timeout or self.timeout)
        return dict(getattr(inspector, method)(*args) or {})

    def enable_events(self, destination=None) -> None:
        """Broadcast ``enable_events`` (fire and forget, as ``celery control`` does)."""
        self.app.control.enable_events(destination=destination)

    def refuse_if_read_only(self, command: str) -> None:
        if self.read_only and command not in READ_ONLY_COMMANDS:
            raise ReadOnlyError(f"read-only mode: '{command}' changes the cluster and was not sent")

    def execute(self, command: str, arguments: dict | None = None, destination=(),
                timeout: float | None = None) -> Outcome:
        """Send one remote-control command: the one path every control key takes.

        Read-only mode refuses it here, whatever the caller; every command
        sent is written to the audit log with the replies.
        """
        arguments = dict(arguments or {})
        destination = tuple(destination or ())
        try:
            self.refuse_if_read_only(command)
        except ReadOnlyError as exc:
            return Outcome(command, destination, {}, refused=str(exc))
        expects_reply = command not in NO_REPLY
        replies = self.app.control.broadcast(
            command, arguments=arguments, destination=list(destination) or None,
            reply=expects_reply, timeout=timeout or self.timeout,
        )
        if expects_reply:
            normalised = normalise_replies(replies)
            missing = tuple(host for host in destination if host not in normalised)
            outcome = Outcome(command, destination, normalised, missing)
        else:
            outcome = Outcome(command, destination, {}, sent="sent (workers do not reply to it)")
        self._audit(command, arguments, destination, outcome)
        return outcome

    def send_task(self, name: str, args, kwargs) -> Outcome:
        """Send a task (a retry); read-only refuses it, the audit log keeps it."""
        try:
            self.refuse_if_read_only("send_task")
        except ReadOnlyError as exc:
            return Outcome("retry", (), {}, refused=str(exc))
        result = self.app.send_task(name, args=args, kwargs=kwargs)
        outcome = Outcome("retry", (), {}, sent=f"sent {name} again as {result.id}")
        self._audit("send_task", {"name": name, "args": args, "kwargs": kwargs, "task_id": result.id}, (), outcome)
        return outcome

    def run_on_broker(self, command: str, arguments: dict, action) -> Outcome:
        """A command that acts on the broker rather than the workers (purge, migrate):
        the same read-only guard and audit line as a broadcast.  ``action()`` does the
        work and says in words what it did; its failure is reported, never raised."""
        try:
            self.refuse_if_read_only(command)
        except ReadOnlyError as exc:
            return Outcome(command, (), {}, refused=str(exc))
        try:
            outcome = Outcome(command, (), {}, sent=action())
        except Exception as exc:  # noqa: BLE001 - a broker error is a message, and audited
            outcome = Outcome(command, (), {}, refused=f"{command} failed: {one_line_error(exc)}")
            self._audit(command, arguments, (), outcome, error=outcome.refused)
            return outcome
        self._audit(command, arguments, (), outcome)
        return outcome

    def _audit(self, command, arguments, destination, outcome: Outcome, error: str = "") -> None:
        if self.audit is None:
            return
        self.audit.record(command, arguments, destination, {
            "replies": {host: {"ok" if ok else "error": text} for host, (ok, text) in outcome.replies.items()},
            "no_reply": list(outcome.missing),
            "sent": outcome.sent,
            **({"error": error} if error else {}),
        })

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
