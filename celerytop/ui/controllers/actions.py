"""Control by keystroke: prompts and confirmations in front of the one
command path (``Control.execute``), replies delivered back to the UI thread.

Every command that changes the cluster is refused up front in read-only mode (and again by
``Control`` whatever the route); those ui/keys/commands.py declares ``asks_first`` ask first,
with Cancel the default; the destination is always named.
"""

from __future__ import annotations

from celerytop.control import inputs
from celerytop.control.backend import BackendTimeout, has_result_backend
from celerytop.control.limits import TASK_LIMITS, limits_on_workers
from celerytop.control.replies import Outcome
from celerytop.model.cluster import FINISHED_STATES
from celerytop.present import formatting
from celerytop.present.errors import one_line_error
from celerytop.ui.controllers.conversation import ask_first


class ControlActions:
    """The control keys: each asks what it needs, confirms when destructive, then sends."""

    def __init__(self, control, model, selection, talk, follow):
        self.control = control  # None: not connected to an app
        self.model = model
        self.selection = selection  # the marks and the selected task and worker
        self.talk = talk  # a Conversation
        self.follow = follow  # follow(uuid): the cursor goes to that task once it shows up
        self.rate_limits: dict = {}  # task name -> the limit last set here

    # -- plumbing ---------------------------------------------------------------
    def allowed(self, what: str) -> bool:
        if self.control is None:
            self.talk.say("Not connected to an app: cannot send commands")
            return False
        if self.control.read_only:
            self.talk.say(f"Read-only mode: {what} changes the cluster and is disabled")
            return False
        return self.broker_up(what)

    def broker_up(self, what: str) -> bool:
        """True, or says at once that ``what`` was not sent because the broker is down:
        a command would only wait on kombu's retries and fail, or go out whenever the
        broker returns."""
        down = self.talk.broker_down()
        if down:
            self.talk.say(f"broker down: {what} not sent ({down})", seconds=15)
        return not down

    def request(self, command: str, arguments: dict, destination=(), timeout=None, confirm=None) -> None:
        """The shared path of keys and the ``:`` prompt: the read-only guard, then
        ``confirm`` = (title, lines) asks first when given, then the broadcast."""
        if not self.allowed(command):
            return
        if confirm is None:
            self.send(command, arguments, destination, timeout)
        else:
            title, lines = confirm
            self.talk.confirm(title, lines, lambda: self.send(command, arguments, destination, timeout))

    def send(self, command: str, arguments: dict, destination=(), timeout=None, marks: str = "") -> None:
        """Broadcast on the control thread; ``marks`` ('tasks' or 'workers') names
        the marks that chose the targets: used once, they are cleared."""
        if not self.broker_up(command):  # it may have gone down while a prompt or confirmation was open
            return
        where = ", ".join(destination) if destination else "all workers"
        wait = timeout or self.control.timeout
        note = self.selection.use_marks(marks)
        self.talk.say(f"{note}{command} → {where}: waiting up to {wait:g} s for replies…", seconds=30)
        future = self.control.submit(self.control.execute, command, arguments, destination, timeout)
        future.add_done_callback(lambda f: self.talk.deliver(self._finished, command, f, note))

    def _finished(self, command: str, future, note: str = "") -> None:
        try:
            outcome = future.result()
        except Exception as exc:  # noqa: BLE001 - a broker error is a message, not a crash
            outcome = Outcome(command, (), {}, refused=f"{command} failed: {one_line_error(exc)}")
        self.talk.say(note + outcome.summary(self.talk.message_width() - len(note)), seconds=15)

    def _tasks(self):
        """The marked tasks, else the one under the cursor: [(uuid, TaskRow)]."""
        marks = self.selection.marks
        uuids = sorted(marks) if marks else [self.selection.selected_task()]
        rows = [(uuid, self.model.task_row(uuid)) for uuid in uuids if uuid]
        return [(uuid, row) for uuid, row in rows if row is not None]

    def _describe(self, tasks, limit=8):
        lines = [f"  {formatting.short_uuid(uuid)}  {row.name or '?'}  {row.state}" for uuid, row in tasks[:limit]]
        if len(tasks) > limit:
            lines.append(f"  … and {len(tasks) - limit} more")
        return lines

    # -- tasks --------------------------------------------------------------------
    def revoke(self, terminate: bool = False) -> None:
        what = "terminate" if terminate else "revoke"
        if not self.allowed(what):
            return
        tasks = self._tasks()
        if not tasks:
            self.talk.say("No task selected")
            return
        # A finished task cannot be stopped or undone: revoking it would only
        # grow every worker's revoked list, terminating it signals nothing.
        finished = [(uuid, row) for uuid, row in tasks if row.state in FINISHED_STATES]
        tasks = [(uuid, row) for uuid, row in tasks if row.state not in FINISHED_STATES]
        if not tasks:
            self.talk.say(f"Nothing to {what}: {self._finished_words(finished)}; nothing was sent", seconds=10)
            return
        ids = [uuid for uuid, _row in tasks]
        marks = "tasks" if self.selection.marks else ""
        skipped = [f"Skipped, {self._finished_words(finished)}: {what} cannot stop or undo them."] if finished else []

        def confirm(signal_name="TERM"):
            verb = f"Revoke and terminate (SIG{signal_name})" if terminate else "Revoke"
            ask_first(
                self.talk, f"task.{what}", f"{verb} {len(ids)} task(s)?",
                self._describe(tasks) + skipped + ["Sent to: all workers (any of them may hold the task)."],
                lambda: self.send("revoke", {"task_id": ids, "terminate": terminate, "signal": signal_name},
                                  marks=marks),
            )

        if terminate:
            self.talk.ask("signal (TERM, KILL, INT, HUP, QUIT, USR1, USR2): ", "TERM", inputs.signal_name, confirm)
        else:
            confirm()

    @staticmethod
    def _finished_words(finished) -> str:
        """'2 already finished (1 SUCCESS, 1 FAILURE)'."""
        counts: dict = {}
        for _uuid, row in finished:
            counts[row.state] = counts.get(row.state, 0) + 1
        states = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        return f"{len(finished)} already finished ({states})"

    def rate_limit(self) -> None:
        target = self._limit_target("rate_limit")
        if target is None:
            return
        name, marks = target

        def apply(limit):
            self.rate_limits[name] = limit
            ask_first(self.talk, "task.rate_limit", f"Set the rate limit of {name} to {limit}?",
                      ["Sent to: all workers."],
                      lambda: self.send("rate_limit", {"task_name": name, "rate_limit": limit}, marks=marks))

        prompt = self.talk.ask(f"rate limit for {name} (10/s, 100/m, 5/h; 0 removes): ",
                               self.rate_limits.get(name, ""), inputs.rate_limit, apply)
        self._prefill_limits(prompt, name, lambda limits: limits["rate_limit"])

    def time_limit(self) -> None:
        target = self._limit_target("time_limit")
        if target is None:
            return
        name, marks = target

        def apply(limits):
            arguments = {"task_name": name, "soft": limits[0], "hard": limits[1]}
            ask_first(self.talk, "task.time_limit", f"Set the time limits (soft, hard) of {name} to {limits}?",
                      ["Sent to: all workers."], lambda: self.send("time_limit", arguments, marks=marks))

        prompt = self.talk.ask(f"time limits for {name}, SOFT HARD seconds ('-' for none): ", "",
                               inputs.time_limits, apply)
        self._prefill_limits(prompt, name, lambda limits: f"{limits['soft_time_limit']} {limits['time_limit']}")

    def _limit_target(self, command: str):
        """(task type, the marks that chose it) for a per-type limit; None when refused (read-only,
        broker down) or there is no one type, said in the status line."""
        if not self.allowed(command):
            return None
        name = self._task_type(command)
        if name is None:
            return None
        return name, "tasks" if self.selection.marks else ""

    def _task_type(self, command: str):
        """The task type a per-type limit is for: the marked tasks' when they are all of one
        type, else the selected task's; None, said in the status line, when there is none."""
        tasks = self._tasks()
        if not tasks:
            self.talk.say("No task selected")
            return None
        names = sorted({row.name for _uuid, row in tasks if row.name})
        if not names:
            self.talk.say("This task's name is not known yet")
            return None
        if len(names) > 1:
            shown = ", ".join(formatting.sanitize(name, limit=60) for name in names[:3])
            more = f" and {len(names) - 3} more" if len(names) > 3 else ""
            self.talk.say(f"{command} is set per task type, and the marked tasks are of {len(names)}: "
                          f"{shown}{more}; mark tasks of one type (U clears the marks)", seconds=10)
            return None
        return names[0]

    def _prefill_limits(self, prompt, name: str, as_text) -> None:
        """Ask the workers (in the background) for task type ``name``'s current limits; put them in
        ``prompt`` when they arrive, unless something was typed meanwhile."""
        typed = prompt.text
        future = self.control.submit(self.control.inspect, "registered", None, *TASK_LIMITS)
        future.add_done_callback(lambda f: self.talk.deliver(self._limits_known, prompt, typed, name, as_text, f))

    def _limits_known(self, prompt, typed, name, as_text, future) -> None:
        if self.talk.current_prompt() is not prompt:
            return  # answered or cancelled meanwhile
        try:
            on_workers = limits_on_workers(future.result(), name)
        except Exception:  # noqa: BLE001 - without an answer the prompt simply stays as it was
            return
        values = {host: as_text(limits) for host, limits in on_workers.items()}
        if not values:
            return
        if len(set(values.values())) == 1:
            current = next(iter(values.values()))
            prompt.set_caption_note(f"now {current} on {len(values)} worker{'s' if len(values) > 1 else ''}")
            if prompt.text == typed:
                prompt.offer("" if current == "-" else current)
        else:
            prompt.set_caption_note("workers differ: " + ", ".join(
                f"{formatting.sanitize(host)} {formatting.sanitize(value)}" for host, value in sorted(values.items())))

    def retry(self) -> None:
        if not self.allowed("retry"):
            return
        tasks = self._tasks()
        if len(tasks) != 1:
            self.talk.say("Retry works on one task: put the cursor on it (and clear the marks)")
            return
        uuid, row = tasks[0]
        future = self.control.submit_backend(self._recover_call, uuid, row)
        future.add_done_callback(lambda f: self.talk.deliver(self._confirm_retry, row, f))

    def _recover_call(self, uuid, row):
        """(name, args, kwargs, source) or raises InputError: the backend first (exact
        with result_extended, bounded like ``r``), then the event reprs when they parse exactly."""
        why_not = ""
        try:
            meta = self.control.ask_backend(lambda backend: backend.get_task_meta(uuid))
        except Exception as exc:  # noqa: BLE001 - no backend, or it failed: fall back to the events
            meta = {}
            if has_result_backend(self.control.app):
                why_not = f" ({exc})" if isinstance(exc, BackendTimeout) else \
                    f" (the result backend failed: {one_line_error(exc)})"
        if isinstance(meta, dict) and meta.get("name") and meta.get("args") is not None:
            return meta["name"], tuple(meta["args"]), dict(meta.get("kwargs") or {}), "the result backend"
        if not row.name:
            raise inputs.InputError("its name is not known" + why_not)
        args, kwargs = inputs.call_from_reprs(row.args, row.kwargs)
        return row.name, args, kwargs, "its events" + why_not

    def _confirm_retry(self, row, future) -> None:
        try:
            name, args, kwargs, source = future.result()
        except inputs.InputError as exc:
            self.talk.say(f"Cannot retry {formatting.short_uuid(row.uuid)} exactly: {exc}", seconds=10)
            return
        call = formatting.sanitize(f"{name}(*{args!r}, **{kwargs!r})", limit=300)
        ask_first(self.talk, "task.retry", f"Send {name} again?",
                  [f"  {call}", f"Arguments recovered from {source}."], lambda: self._send_retry(name, args, kwargs))

    def _send_retry(self, name, args, kwargs) -> None:
        if not self.broker_up(f"retry of {name}"):
            return
        future = self.control.submit(self.control.send_task, name, args, kwargs)

        def sent(f):
            outcome = f.result()
            self.talk.say(outcome.summary(), seconds=15)
            new_id = outcome.sent.rsplit(" ", 1)[-1] if outcome.sent else None
            if new_id:
                self.follow(new_id)

        future.add_done_callback(lambda f: self.talk.deliver(sent, f))
