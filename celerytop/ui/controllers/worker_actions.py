"""Control by keystroke on workers: shutdown, pool size, autoscale, pool restart,
consumers and task events, sent to the marked workers, else the selected one.

Each goes through :class:`ControlActions`' guard and send (read-only, broker down,
marks cleared once used); those declared ``asks_first`` (ui/keys/commands.py) ask first, and every one names its workers.
"""

from __future__ import annotations

from celerytop.control import inputs
from celerytop.control.queues.names import configured_queue_names
from celerytop.model import filtering
from celerytop.ui.controllers.conversation import ask_first


class WorkerActions:
    """The worker keys; ``actions`` is the one command path they share with the task keys."""

    def __init__(self, control, actions, model, selection, talk):
        self.control = control  # None: not connected to an app (actions.allowed says so first)
        self.actions = actions  # ControlActions: allowed(what), send(...)
        self.model = model
        self.selection = selection  # the marked workers, else the selected one
        self.talk = talk  # a Conversation

    def _worker_marks_used(self) -> str:
        return "workers" if self.selection.worker_marks else ""

    def _workers(self) -> tuple:
        """The marked workers, else the selected one: always named, never implied."""
        if self.selection.worker_marks:
            return tuple(sorted(self.selection.worker_marks))
        hostname = self.selection.selected_worker()
        if hostname is None:
            self.talk.say("No worker selected")
            return ()
        return (hostname,)

    def shutdown(self) -> None:
        if not self.actions.allowed("shutdown"):
            return
        hosts = self._workers()
        if hosts:
            marks = self._worker_marks_used()
            ask_first(self.talk, "worker.shutdown", f"Shut down {len(hosts)} worker(s)?",
                      [f"  {host}: {self._running_words(host)}" for host in hosts]
                      + ["They stop taking tasks and exit once their running tasks end (warm shutdown).",
                         f"Sent to: {', '.join(hosts)} only."],
                      lambda: self.actions.send("shutdown", {}, hosts, marks=marks))

    def _running_words(self, host: str) -> str:
        """How many tasks ``host`` is running: its own heartbeat's count, or the
        tasks STARTED on it in memory, whichever is more (the warning errs high)."""
        started = filtering.TaskFilter(f"state:STARTED worker:{host}", (filtering.Term("state", "STARTED", False),
                                            filtering.Term("worker", host, False)))
        running = len(self.model.query(started, "received", None))
        row = next((r for r in self.model.worker_rows() if r.hostname == host), None)
        if row is not None and isinstance(row.active, int):
            running = max(running, row.active)
        return "no task running" if running == 0 else f"{running} task{'s' if running != 1 else ''} running"

    def pool(self, command: str) -> None:
        if not self.actions.allowed(command):
            return
        hosts, marks = self._workers(), self._worker_marks_used()
        if hosts:
            where = ", ".join(hosts)
            self.talk.ask(f"{command} {where} by how many processes: ", "1", inputs.count, lambda n: ask_first(
                self.talk, f"worker.{command}", f"{command} {where} by {n}?", [f"Sent to: {where} only."],
                lambda: self.actions.send(command, {"n": n}, hosts, marks=marks)))

    def autoscale(self) -> None:
        if not self.actions.allowed("autoscale"):
            return
        hosts, marks = self._workers(), self._worker_marks_used()
        if hosts:
            where = ", ".join(hosts)
            self.talk.ask(f"autoscale {where} MAX,MIN: ", "", inputs.autoscale, lambda bounds: ask_first(
                self.talk, "worker.autoscale", f"Autoscale {where} to (max, min) {bounds}?",
                [f"Sent to: {where} only."],
                lambda: self.actions.send("autoscale", {"max": bounds[0], "min": bounds[1]}, hosts, marks=marks)))

    def pool_restart(self) -> None:
        if not self.actions.allowed("pool_restart"):
            return
        hosts, marks = self._workers(), self._worker_marks_used()
        if hosts:
            ask_first(self.talk, "worker.pool_restart", f"Restart the pool of {', '.join(hosts)}?",
                      ["Its pool processes are replaced (running tasks finish first).",
                       "Workers refuse unless started with worker_pool_restarts enabled.",
                       f"Sent to: {', '.join(hosts)} only."],
                      lambda: self.actions.send("pool_restart", {"reload": False}, hosts, marks=marks))

    def consumer(self, command: str) -> None:
        if not self.actions.allowed(command):
            return
        hosts = self._workers()
        if hosts:
            future = self.control.submit(self.control.inspect, "active_queues", list(hosts))
            marks = self._worker_marks_used()
            future.add_done_callback(lambda f: self.talk.deliver(self._ask_queue, command, hosts, f, marks))

    def _ask_queue(self, command, hosts, future, marks="") -> None:
        try:
            replies = future.result()
        except Exception:  # noqa: BLE001 - completion is a convenience
            replies = {}
        consumed = sorted({q.get("name") for host in hosts for q in replies.get(host) or () if q.get("name")})
        known = consumed if command == "cancel_consumer" else sorted(
            set(consumed) | configured_queue_names(self.control.app))
        hint = f" (consumes {', '.join(consumed)})" if consumed else ""
        where = ", ".join(hosts)

        def send(queue):
            title = (f"Stop {where} consuming from {queue}?" if command == "cancel_consumer"
                     else f"Make {where} consume from {queue}?")
            ask_first(self.talk, f"worker.{command}", title, [f"Sent to: {where} only."],
                      lambda: self.actions.send(command, {"queue": queue}, hosts, marks=marks))

        self.talk.ask(f"{command} on {where}{hint}, queue (Tab completes): ", "", inputs.queue_name, send,
                      completions=known)

    def events(self, enable: bool) -> None:
        command = "enable_events" if enable else "disable_events"
        if not self.actions.allowed(command):
            return
        hosts = self._workers()
        if not hosts:
            return
        where = ", ".join(hosts)
        marks = self._worker_marks_used()
        if enable:
            lines = [f"{where} will send task events (more messages on the broker)."]
        else:
            lines = [f"{where} will stop sending task events:",
                     "this monitor and every other (celery events, flower)",
                     "will stop seeing that worker's tasks."]
        title = f"{'Enable' if enable else 'Disable'} task events on {len(hosts)} worker(s)?"
        ask_first(self.talk, f"worker.{command}", title, lines + [f"Sent to: {where} only."],
                  lambda: self.actions.send(command, {}, hosts, marks=marks))
