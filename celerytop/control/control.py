"""Remote-control and inspect calls to the workers: run off the UI thread, refused in read-only mode, audited.

Every call blocks for up to ``timeout`` seconds waiting for worker replies,
so the UI submits them to :attr:`Control.executor` and gets the result
back through a callback.  Replies come back as ``{hostname: reply}``.
The result backend's calls are the other half of Control (control.backend).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from celerytop.control import verbs
from celerytop.control.backend import BackendCalls
from celerytop.control.replies import Outcome, merge_replies, normalise_replies
from celerytop.present.errors import one_line_error

#: Default seconds to wait for worker replies, as ``celery inspect`` does.
DEFAULT_TIMEOUT = 1.0


class ReadOnlyError(RuntimeError):
    pass


#: Commands after which a worker does not answer (it is gone).
NO_REPLY = frozenset({"shutdown"})


class Control(BackendCalls):
    """Commands and questions to the workers; BackendCalls adds the result backend's."""

    def __init__(self, app, timeout: float = DEFAULT_TIMEOUT, read_only: bool = False, audit=None):
        super().__init__(app)
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
        def each_reply(body):
            for hostname in merge_replies([body]):
                on_reply(hostname)

        return merge_replies(self.app.control.ping(destination=destination, timeout=timeout or self.timeout,
                                                   callback=each_reply if on_reply is not None else None))

    def inspect(self, method: str, destination=None, *args, timeout: float | None = None) -> dict:
        """``inspect <method>``: ``{hostname: reply}``, empty when nobody answered."""
        inspector = self.app.control.inspect(destination=destination, timeout=timeout or self.timeout)
        return dict(getattr(inspector, method)(*args) or {})

    def enable_events(self, destination=None) -> Outcome:
        """Broadcast ``enable_events`` (fire and forget, as ``celery control`` does);
        read-only mode refuses it here too, whatever the caller checked."""
        try:
            self.refuse_if_read_only("enable_events")
        except ReadOnlyError as exc:
            return Outcome("enable_events", tuple(destination or ()), {}, refused=str(exc))
        self.app.control.enable_events(destination=destination)
        return Outcome("enable_events", tuple(destination or ()), {}, sent="sent")

    def refuse_if_read_only(self, command: str) -> None:
        if self.read_only and verbs.changes_cluster(command):
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

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        super().close()
