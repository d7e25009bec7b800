"""Remote control and inspect calls, run off the UI thread, replies normalised.

Every call blocks for up to ``timeout`` seconds waiting for worker replies,
so the UI submits them to :attr:`Control.executor` and gets the result
back through a callback.  Replies come back as ``{hostname: reply}``.

The result backend is another server with failures of its own: its calls go to
:meth:`Control.submit_backend` (never the control thread), each on a backend
instance of its own that is closed when the call ends or times out.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from celery import states
from celery.app.backends import by_url
from celery.backends.base import DisabledBackend
from celery.utils.saferepr import saferepr

from celerytop.present.errors import one_line_error
from celerytop.present.formatting import display_width, fit

#: Default seconds to wait for worker replies, as ``celery inspect`` does.
DEFAULT_TIMEOUT = 1.0


#: Seconds the result backend gets to answer ``r`` before we say it did not.
BACKEND_TIMEOUT = 5.0

#: Result-backend calls running at once; more wait their turn (each is bounded by its timeout).
BACKEND_THREADS = 8


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


@dataclass(frozen=True)
class Outcome:
    """What happened to one command: each worker's reply, who was silent."""

    command: str
    destination: tuple  # () = every worker
    replies: dict  # hostname -> (ok: bool, text)
    missing: tuple = ()  # named destinations that did not answer in time
    refused: str = ""  # why nothing was sent (read-only)
    sent: str = ""  # for commands without replies: what was done

    def summary(self, width: int | None = None) -> str:
        """One line for the status bar, the replies that stand out (errors, then the
        rarest) before the ones most workers gave.  Given ``width``, a line too long
        is summarised to fit: the usual reply is counted rather than repeated, task
        ids are shortened, and it ends with where to read everything (``L``)."""
        if self.refused:
            return self.refused
        if self.sent and not self.destination and not self.replies:
            return f"{self.command}: {self.sent}"
        full = self._full_summary()
        if width is None or display_width(full) <= width or not (self.replies or self.missing):
            return full
        for line in self._brief_summaries():
            if display_width(line) <= width:
                return line
        return fit(line[: -len(SEE_ALL)], width - len(SEE_ALL)).rstrip() + SEE_ALL

    def _where(self) -> str:
        return ", ".join(self.destination) if self.destination else "all workers"

    def _reply_groups(self) -> list:
        """[((ok, text), [hosts])]: errors first, then replies saying something was done
        (the rarest first), then those saying there was nothing to do."""
        groups: dict = {}
        for host, reply in sorted(self.replies.items()):
            groups.setdefault(reply, []).append(host)
        return sorted(groups.items(), key=lambda group: (group[0][0], bool(NOTHING_DONE.search(group[0][1])),
                                                         len(group[1])))

    def _full_summary(self) -> str:
        single = len(self.destination) == 1 and set(self.replies) <= set(self.destination)
        parts = [("" if single else f"{host}: ") + f"{'ok' if ok else 'error'}: {text}"
                 for (ok, text), hosts in self._reply_groups() for host in hosts]
        parts += [f"{host}: no reply within the timeout" for host in self.missing]
        if self.sent:
            parts.insert(0, self.sent)
        if not parts:
            parts = ["no worker replied within the timeout"]
        return f"{self.command} → {self._where()}: " + "; ".join(parts)

    def _brief_summaries(self):
        """Ever shorter one-liners, each ending with where to read everything."""
        groups = [((ok, shorten_task_ids(text)), hosts) for (ok, text), hosts in self._reply_groups()]
        total = len(self.replies) + len(self.missing)
        count = "" if total < 2 else f"{len(self.replies)} of {total} answered" if self.missing \
            else f"{total} answered"

        def said(ok, text):
            return text if ok else f"error: {text}"

        def line(parts, prefix=f"{self.command} → {self._where()}: "):
            return prefix + ", ".join(p for p in [count, "; ".join(parts)] if p) + SEE_ALL

        named = [f"{', '.join(hosts)}: {said(ok, text)}" for (ok, text), hosts in groups]
        errors = sum(1 for (ok, _text), _hosts in groups if not ok)
        if self.missing:
            named.insert(errors, f"{', '.join(self.missing)}: no reply")
        yield line(named)
        if groups and groups[-1][0][0] and len(groups[-1][1]) > 1:  # the last reply: counted, not named
            (ok, text), hosts = groups[-1]
            yield line(named[:-1] + [f"{len(hosts)} others: {text}"])
            named = named[:-1] + [f"{len(hosts)} others: ok"]
            yield line(named)
        yield line(named, prefix=f"{self.command}: ")


#: Words of celery's replies from a worker that had nothing to act on
#: ('terminate: tasks unknown', 'no task found'): those go after the ones that acted.
NOTHING_DONE = re.compile(r"\b(unknown|not found|no such|nothing)\b", re.IGNORECASE)

#: How a summarised status line points at the whole text: the audit view.
SEE_ALL = "; L for all"

_TASK_ID = re.compile(r"\b([0-9a-f]{8})-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def shorten_task_ids(text: str) -> str:
    """Task ids as the tasks pane shows them (8 characters)."""
    return _TASK_ID.sub(r"\1", text)


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


#: What ``inspect registered`` is asked to say of each task type: its current limits.
TASK_LIMITS = ("rate_limit", "time_limit", "soft_time_limit")
_TASK_INFO = re.compile(r"^(?P<name>\S+)(?: \[(?P<info>.*)\])?$")


def task_info(entry) -> tuple:
    """One ``inspect registered`` entry, 'name [rate_limit=10/m time_limit=None]', as (name, {field: text})."""
    match = _TASK_INFO.match(str(entry))
    if not match:
        return str(entry), {}
    return match["name"], dict(item.partition("=")[::2] for item in (match["info"] or "").split())


def limit_text(value) -> str:
    """A limit as the screen shows it: '-' for none (celery says None; a rate limit of 0 is none too)."""
    text = str(value).strip() if value is not None else ""
    return "-" if text in ("", "None", "0", "0.0") else text


def limits_on_workers(replies: dict, name: str) -> dict:
    """{hostname: {limit: text}} for task type ``name`` from ``inspect registered`` replies."""
    found = {}
    for host, entries in replies.items():
        for entry in entries if isinstance(entries, list) else ():
            entry_name, fields = task_info(entry)
            if entry_name == name:
                found[host] = {limit: limit_text(fields.get(limit)) for limit in TASK_LIMITS}
    return found


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
        # The result backend is not the broker: a backend that never answers must
        # hold up no command, and one slow fetch no other fetch.
        self.backend_executor = ThreadPoolExecutor(max_workers=BACKEND_THREADS, thread_name_prefix="celerytop-backend")

    def submit(self, fn, *args, **kwargs) -> Future:
        return self.executor.submit(fn, *args, **kwargs)

    def submit_backend(self, fn, *args, **kwargs) -> Future:
        """Run a result-backend call (``fetch_result``, ``fetch_group_ids``, ``ask_backend``)
        off the UI thread and off the control thread."""
        return self.backend_executor.submit(fn, *args, **kwargs)

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

    def ask_backend(self, question, timeout: float = BACKEND_TIMEOUT):
        """``question(backend)`` on a result-backend instance of its own, answered within
        ``timeout`` or BackendTimeout; its connections are closed either way, so a backend
        that never answers keeps none open.  DisabledBackend passes through: say so first."""
        backend = fresh_backend(self.app, timeout)
        answer: dict = {}

        def ask():
            try:
                answer["value"] = question(backend)
            except Exception as exc:  # noqa: BLE001 - raised again below, on the caller's thread
                answer["error"] = exc
            finally:
                close_backend(backend)

        asker = threading.Thread(target=ask, daemon=True, name="celerytop-result")
        asker.start()
        asker.join(timeout)
        if asker.is_alive():
            close_backend(backend)  # wakes the asker blocked on its socket: it ends, and nobody reads it
            raise BackendTimeout(f"the result backend did not answer within {timeout:g} s")
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
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.backend_executor.shutdown(wait=False, cancel_futures=True)


class BackendTimeout(Exception):
    """The result backend did not answer in time (its connections were closed)."""


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
