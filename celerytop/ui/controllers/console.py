"""The ``:`` command prompt: completion, history, and running what was typed.

Parsing lives in :mod:`celerytop.control.cmdline` and Tab completion in
:mod:`celerytop.control.completion`; this module turns an
:class:`~celerytop.control.cmdline.Invocation` into views (inspect, status, result,
queues) or into commands sent through the same path as the control keys
(:meth:`ControlActions.request`: read-only guard, confirmation, audit log).
"""

from __future__ import annotations

from dataclasses import replace

from celerytop.control import cmdline, completion, reconcile, verbs
from celerytop.control.history import History
from celerytop.control.limits import TASK_LIMITS
from celerytop.model import seed, taskids
from celerytop.present import formatting
from celerytop.present.errors import one_line_error
from celerytop.ui.views.inspect_views import InspectView
from celerytop.ui.widgets.prompt import Prompt

#: inspect methods whose replies name tasks the model may not know yet.
_TASK_LISTS = {"active": True, "reserved": False, "scheduled": False}


class CommandConsole:
    """The ``:`` prompt and the verbs it runs."""

    def __init__(self, control, model, history: History, talk, stack, queues, actions, *,
                 show_queues, open_task, refresh, show_failures=None, show_types=None, show_stuck=None,
                 show_beat=None, show_alerts=None):
        self.control = control  # None: not connected to an app
        self.model = model
        self.history = history
        self.talk = talk  # a Conversation
        self.stack = stack  # the ViewStack: the prompt, and the views answers go to
        self.queues = queues  # the QueueMonitor: queue names, purge, migrate
        self.actions = actions  # ControlActions: the one path of commands that change the cluster
        self.show_queues = show_queues  # () -> None: the queues view
        self.show_failures = show_failures  # () -> None: the failures view
        self.open_task = open_task  # (uuid, fetch) -> None: a task's detail view
        self.refresh = refresh  # () -> None: the screen, now
        self.show_types = show_types  # () -> None: the task types view
        self.show_stuck = show_stuck  # () -> None: the stuck and lost tasks view
        self.show_beat = show_beat  # () -> None: the periodic tasks view
        self.show_alerts = show_alerts  # () -> None: the alerts view

    def open(self, text: str = "") -> None:
        self.queues.learn_names()
        self.stack.open_prompt(Prompt(":", text, self._submitted, self.stack.cancel_prompt,
                                      completer=self.complete, history=self.history.browser()))

    def vocabulary(self) -> completion.Vocabulary:
        workers = tuple(row.hostname for row in self.model.worker_rows())
        return completion.Vocabulary(workers=workers, queues=tuple(self.queues.known_names()),
                                     tasks=tuple(self.model.task_names()),
                                     task_ids=self.model.task_ids_starting)

    def complete(self, text: str) -> list:
        return completion.complete(text, self.vocabulary())

    def _submitted(self, line: str) -> None:
        self.stack.close_prompt()
        if not line.strip():
            return
        self.history.add(line)
        if self.history.error:
            self.talk.say(self.history.error)
        self.run(line)

    def run(self, line: str) -> None:
        try:
            invocation = cmdline.parse(line)
        except cmdline.CommandLineError as exc:
            self.talk.say(f"Not run: {exc}", seconds=15)
            return
        show = {"queues": self.show_queues, "failures": self.show_failures, "types": self.show_types,
                "stuck": self.show_stuck, "beat": self.show_beat, "alerts": self.show_alerts}.get(invocation.verb)
        if show is not None:  # a view: opened, not sent to the cluster
            show()
            return
        if self.control is None:
            self.talk.say("Not connected to an app: cannot run commands")
            return
        try:
            invocation, resolved = self._resolve_task_ids(invocation)
        except taskids.TaskIdError as exc:
            self.talk.say(f"Not run: {exc}", seconds=15)
            return
        note = taskids.notes(resolved)
        if invocation.verb == "control":  # its confirmation names the ids; its refusal must not be hidden
            if note:
                self.talk.say(note, seconds=15)
            self._run_control(invocation, note)
            return
        getattr(self, f"_run_{invocation.verb}")(invocation)
        if note:  # after the view opened, whose progress message would hide it
            self.talk.say(note, seconds=15)

    def _resolve_task_ids(self, invocation) -> tuple:
        """(the invocation with every task id it names in full, [taskids.Resolved]).

        Ids are typed as the screen shows them (8 characters) or as any unique prefix of at
        least 4; TaskIdError when one is too short, ambiguous or unknown: nothing is sent.
        """
        lookup = self.model.task_ids_starting
        if invocation.verb == "result":
            resolved = taskids.resolve_all([invocation.task_id], lookup)
            return replace(invocation, task_id=resolved[0].full), resolved
        if invocation.name == "inspect query_task":
            resolved = taskids.resolve_all(invocation.args, lookup)
            return replace(invocation, args=tuple(r.full for r in resolved)), resolved
        if invocation.name == "control revoke":  # terminate too: a revoke that kills
            resolved = taskids.resolve_all(invocation.arguments["task_id"], lookup)
            arguments = dict(invocation.arguments, task_id=[r.full for r in resolved])
            return replace(invocation, arguments=arguments), resolved
        return invocation, []

    # -- read-only verbs: views --------------------------------------------------------
    def _run_inspect(self, invocation) -> None:
        args = invocation.args
        if invocation.action == "registered" and not args:  # show each task type's current limits
            args = TASK_LIMITS
        self.ask(InspectView(invocation.action, args, invocation.destination,
                             invocation.timeout or self.control.timeout, self._online_workers(), ask=self.ask))

    def _run_status(self, invocation) -> None:
        self.ask(InspectView("status", (), invocation.destination, invocation.timeout or self.control.timeout,
                             self._online_workers(), ask=self.ask))

    def _online_workers(self) -> tuple:
        return tuple(row.hostname for row in self.model.worker_rows() if row.online)

    def ask(self, view) -> None:
        """(Re)send the view's question in the background; the answer fills the view."""
        if view not in self.stack.views:
            self.stack.push(view)
        down = self.talk.broker_down()
        if down:
            asked = view.method if view.method == "status" else f"inspect {view.method}"
            view.failed(f"broker down: {asked} not sent ({down}); Ctrl-R asks again")
            return
        view.asking()
        destination = list(view.destination) or None
        if view.method == "status":
            future = self.control.submit(self.control.ping, destination, view.timeout)
        else:
            future = self.control.submit(self._inspect_and_learn, view.method, destination, view.args, view.timeout)
        future.add_done_callback(lambda f: self.talk.deliver(self._answered, view, f))

    def _answered(self, view, future) -> None:
        try:
            replies = future.result()
        except Exception as exc:  # noqa: BLE001 - a broker error is shown in the view
            view.failed(f"{view.method} failed: {one_line_error(exc)}")
            return
        view.answered(replies)

    def _inspect_and_learn(self, method: str, destination, args, timeout) -> dict:
        """On the control thread, which writes the model for seeding too (the UI thread never does):
        the replies, once the tasks they name are known to the model."""
        replies = self.control.inspect(method, destination, *args, timeout=timeout)
        self._learn_tasks(method, replies)
        return replies

    def _learn_tasks(self, method: str, replies: dict) -> None:
        """Tasks an inspect reply names become known to the model (uncounted), as seeding
        makes them, so Enter on one opens its detail even before its next event."""
        if method not in _TASK_LISTS:
            return
        now = self.model.now()
        for host, requests in replies.items():
            for entry in requests if isinstance(requests, list) else ():
                request = entry.get("request", entry) if method == "scheduled" and isinstance(entry, dict) else entry
                if isinstance(request, dict) and not self.model.has_task(request.get("id")):
                    for event in seed.task_events(host, request, _TASK_LISTS[method], now):
                        self.model.on_event(event, counted=False)

    def _run_reconcile(self, invocation) -> None:
        """Ask in the background; the corrections and what stayed as it was come back to the status line and L."""
        asked = reconcile.candidates(self.model)
        if not asked:
            self.talk.say("reconcile: no task is shown STARTED or RECEIVED, nothing to ask about")
            return
        self.talk.say(f"reconcile: asking the workers and the result backend about {len(asked)} task(s)…",
                      seconds=30)

        def work():
            try:
                report = reconcile.reconcile(self.model, self.control, asked, invocation.timeout)
            except Exception as exc:  # noqa: BLE001 - a broker error is a message
                report = reconcile.Report(len(asked), (), (), (f"reconcile failed: {one_line_error(exc)}",))
            self.talk.deliver(self._reconciled, report)

        # Not on the control thread: reconcile waits there for the workers' answers.  Its result-backend
        # questions are bounded, so it holds one backend thread for a bounded time.
        self.control.submit_backend(work)

    def _reconciled(self, report) -> None:
        audit = self.control.audit
        if audit is not None:  # L shows each task: what changed, what stayed and why
            lines = {uuid: {"ok": f"{before} → {after} ({source})"} for uuid, before, after, source in report.changed}
            lines.update({uuid: {"ok" if not why.startswith("unknown") else "error": f"{state}: {why}"}
                          for uuid, state, why in report.unchanged})
            audit.record("reconcile", {"tasks": report.asked}, (),
                         {"replies": lines, "no_reply": [], "sent": report.summary()})
        self.talk.say(report.summary(), seconds=30)
        self.refresh()

    def _run_result(self, invocation) -> None:
        self.open_task(invocation.task_id, fetch=True)

    # -- verbs that change the cluster ---------------------------------------------------
    def _run_control(self, invocation, note: str = "") -> None:
        arguments = invocation.arguments
        where = ", ".join(invocation.destination) if invocation.destination else "all workers"
        confirm = None
        typed = "terminate" if invocation.action == "revoke" and arguments.get("terminate") else invocation.action
        if verbs.asks_first(typed):
            details = [f"  {key}: {formatting.sanitize(repr(value), limit=200)}" for key, value in arguments.items()]
            if note:
                details.append(f"  typed as: {formatting.sanitize(note, limit=200)}")
            confirm = (f"control {typed} → {where}?", details + [f"Sent to: {where}."])
        self.actions.request(invocation.action, arguments, invocation.destination,
                                 timeout=invocation.timeout, confirm=confirm)

    def _run_purge(self, invocation) -> None:
        names = list(invocation.queues) or sorted(self.queues.app_queue_names())
        names = [name for name in names if name not in invocation.exclude]
        if not names:
            self.talk.say("Not run: no queue left to purge (every one excluded)")
            return
        self.queues.purge(names)

    def _run_migrate(self, invocation) -> None:
        self.queues.migrate(invocation.url, list(invocation.queues))
