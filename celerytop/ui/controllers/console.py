"""The ``:`` command prompt: completion, history, and running what was typed.

Parsing lives in :mod:`celerytop.control.cmdline`; this module turns an
:class:`~celerytop.control.cmdline.Invocation` into views (inspect, status, result,
queues) or into commands sent through the same path as the control keys
(:meth:`ControlActions.request`: read-only guard, confirmation, audit log).
"""

from __future__ import annotations

import threading
from dataclasses import replace

from celerytop.control import cmdline, reconcile, verbs
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
    def __init__(self, app, history: History):
        self.app = app
        self.history = history

    @property
    def control(self):
        return self.app.control

    def open(self, text: str = "") -> None:
        self.app.queues.learn_names()
        self.app.open_prompt(Prompt(":", text, self._submitted, self.app.cancel_prompt,
                                    completer=self.complete, history=self.history.browser()))

    def vocabulary(self) -> cmdline.Vocabulary:
        workers = tuple(row.hostname for row in self.app.model.worker_rows())
        return cmdline.Vocabulary(workers=workers, queues=tuple(self.app.queues.known_names()),
                                  tasks=tuple(self.app.model.task_names()),
                                  task_ids=self.app.model.task_ids_starting)

    def complete(self, text: str) -> list:
        return cmdline.complete(text, self.vocabulary())

    def _submitted(self, line: str) -> None:
        self.app.close_prompt()
        if not line.strip():
            return
        self.history.add(line)
        if self.history.error:
            self.app.flash(self.history.error)
        self.run(line)

    def run(self, line: str) -> None:
        try:
            invocation = cmdline.parse(line)
        except cmdline.CommandLineError as exc:
            self.app.flash(f"Not run: {exc}", seconds=15)
            return
        if invocation.verb == "queues":
            self.app.show_queues()
            return
        if self.control is None:
            self.app.flash("Not connected to an app: cannot run commands")
            return
        try:
            invocation, resolved = self._resolve_task_ids(invocation)
        except taskids.TaskIdError as exc:
            self.app.flash(f"Not run: {exc}", seconds=15)
            return
        note = taskids.notes(resolved)
        if invocation.verb == "control":  # its confirmation names the ids; its refusal must not be hidden
            if note:
                self.app.flash(note, seconds=15)
            self._run_control(invocation, note)
            return
        getattr(self, f"_run_{invocation.verb}")(invocation)
        if note:  # after the view opened, whose progress message would hide it
            self.app.flash(note, seconds=15)

    def _resolve_task_ids(self, invocation) -> tuple:
        """(the invocation with every task id it names in full, [taskids.Resolved]).

        Ids are typed as the screen shows them (8 characters) or as any unique prefix of at
        least 4; TaskIdError when one is too short, ambiguous or unknown: nothing is sent.
        """
        lookup = self.app.model.task_ids_starting
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
                             invocation.timeout or self.control.timeout, self._online_workers()))

    def _run_status(self, invocation) -> None:
        self.ask(InspectView("status", (), invocation.destination, invocation.timeout or self.control.timeout,
                             self._online_workers()))

    def _online_workers(self) -> tuple:
        return tuple(row.hostname for row in self.app.model.worker_rows() if row.online)

    def ask(self, view) -> None:
        """(Re)send the view's question in the background; the answer fills the view."""
        if view not in self.app.views:
            self.app.push_view(view)
        down = self.app.broker_down()
        if down:
            asked = view.method if view.method == "status" else f"inspect {view.method}"
            view.failed(f"broker down: {asked} not sent ({down}); Ctrl-R asks again")
            return
        view.asking()
        destination = list(view.destination) or None
        if view.method == "status":
            future = self.control.submit(self.control.ping, destination, view.timeout)
        else:
            future = self.control.submit(self.control.inspect, view.method, destination, *view.args,
                                         timeout=view.timeout)
        future.add_done_callback(lambda f: self.app.deliver(self._answered, view, f))

    def _answered(self, view, future) -> None:
        try:
            replies = future.result()
        except Exception as exc:  # noqa: BLE001 - a broker error is shown in the view
            view.failed(f"{view.method} failed: {one_line_error(exc)}")
            return
        self._learn_tasks(view.method, replies)
        view.answered(replies)

    def _learn_tasks(self, method: str, replies: dict) -> None:
        """Tasks an inspect reply names become known to the model (uncounted), so
        Enter on one opens its detail even before its next event."""
        if method not in _TASK_LISTS:
            return
        now = self.app.model.now()
        for host, requests in replies.items():
            for entry in requests if isinstance(requests, list) else ():
                request = entry.get("request", entry) if method == "scheduled" and isinstance(entry, dict) else entry
                if isinstance(request, dict) and not self.app.model.has_task(request.get("id")):
                    for event in seed.task_events(host, request, _TASK_LISTS[method], now):
                        self.app.model.on_event(event, counted=False)

    def _run_reconcile(self, invocation) -> None:
        """Ask in the background; the corrections and what stayed as it was come back to the status line and L."""
        asked = reconcile.candidates(self.app.model)
        if not asked:
            self.app.flash("reconcile: no task is shown STARTED or RECEIVED, nothing to ask about")
            return
        self.app.flash(f"reconcile: asking the workers and the result backend about {len(asked)} task(s)…",
                       seconds=30)

        def work():
            try:
                report = reconcile.reconcile(self.app.model, self.control, asked, invocation.timeout)
            except Exception as exc:  # noqa: BLE001 - a broker error is a message
                report = reconcile.Report(len(asked), (), (), (f"reconcile failed: {one_line_error(exc)}",))
            self.app.deliver(self._reconciled, report)

        threading.Thread(target=work, daemon=True, name="celerytop-reconcile").start()

    def _reconciled(self, report) -> None:
        audit = self.control.audit
        if audit is not None:  # L shows each task: what changed, what stayed and why
            lines = {uuid: {"ok": f"{before} → {after} ({source})"} for uuid, before, after, source in report.changed}
            lines.update({uuid: {"ok" if not why.startswith("unknown") else "error": f"{state}: {why}"}
                          for uuid, state, why in report.unchanged})
            audit.record("reconcile", {"tasks": report.asked}, (),
                         {"replies": lines, "no_reply": [], "sent": report.summary()})
        self.app.flash(report.summary(), seconds=30)
        self.app.refresh()

    def _run_result(self, invocation) -> None:
        self.app.open_task(invocation.task_id, fetch=True)

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
        self.app.actions.request(invocation.action, arguments, invocation.destination,
                                 timeout=invocation.timeout, confirm=confirm)

    def _run_purge(self, invocation) -> None:
        names = list(invocation.queues) or sorted(self.app.queues.app_queue_names())
        names = [name for name in names if name not in invocation.exclude]
        if not names:
            self.app.flash("Not run: no queue left to purge (every one excluded)")
            return
        self.app.queues.purge(names)

    def _run_migrate(self, invocation) -> None:
        self.app.queues.migrate(invocation.url, list(invocation.queues))
