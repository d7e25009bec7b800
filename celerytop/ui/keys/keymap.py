"""Key bindings as data: one table binding keys to command names drives key
handling, the help overlay, the status-line hints and the man page's KEYS section.

Keys use urwid's names ('page down', 'shift tab', 'f1').  A binding belongs
to a context; the UI resolves a key against the focused contexts in order,
most specific first, then 'global'.
"""

from __future__ import annotations

from dataclasses import dataclass

from celerytop.ui.keys import commands

#: Contexts in the order the help overlay and the man page list them.
CONTEXTS = {
    "global": "Everywhere",
    "list": "Lists (workers, tasks, help)",
    "workers": "Workers pane",
    "tasks": "Tasks pane",
    "detail": "Detail view",
    "queues": "Queues view",
    "failures": "Failures view",
    "types": "Task types view",
    "stuck": "Stuck and lost view",
    "beat": "Periodic tasks view",
    "alerts": "Alerts view",
    "help": "Help overlay",
}


@dataclass(frozen=True)
class Binding:
    key: str
    context: str
    command: str
    help: str
    #: Short label for the status line; bindings without one are not hinted.
    hint: str = ""


DEFAULT_BINDINGS = (
    Binding("q", "global", "quit", "Quit (the terminal is restored)", "quit"),
    Binding("?", "global", "help.show", "Show this help", "help"),
    Binding("f1", "global", "help.show", "Show this help"),
    Binding(":", "global", "prompt.open", "Command prompt: inspect, control, purge, result, status, migrate, queues",
            "command"),
    Binding("u", "global", "queues.show", "Queues: depth, consumers, oldest message's age, sparkline, trend; purge",
            "queues"),
    Binding("F", "global", "failures.show", "Failures: every failure seen, grouped by task, exception, message; "
                                            "the last hour of each", "failures"),
    Binding("y", "global", "types.show", "Task types: counts, failure %, rate, runtime and wait percentiles, "
                                         "throughput sparkline", "types"),
    Binding("S", "global", "stuck.show", "Stuck and lost tasks: lost with their worker, or past 5×p95 of their type",
            "stuck"),
    Binding("B", "global", "beat.show", "Periodic tasks: the beat schedule, next and last runs, missed runs",
            "beat"),
    Binding("!", "global", "alerts.show", "Alerts: every alert this session, firing (red) or cleared", "alerts"),
    Binding("z", "global", "replay.pause", "Replay (--replay): pause or resume"),
    Binding(".", "global", "replay.step", "Replay: one more event (pauses first)"),
    Binding("]", "global", "replay.faster", "Replay: twice as fast"),
    Binding("[", "global", "replay.slower", "Replay: half as fast"),
    Binding("tab", "global", "focus.next", "Next pane", "pane"),
    Binding("shift tab", "global", "focus.prev", "Previous pane"),
    Binding("j", "list", "cursor.down", "Down one row", "move"),
    Binding("down", "list", "cursor.down", "Down one row"),
    Binding("k", "list", "cursor.up", "Up one row"),
    Binding("up", "list", "cursor.up", "Up one row"),
    Binding("page down", "list", "cursor.page_down", "Down one page"),
    Binding("page up", "list", "cursor.page_up", "Up one page"),
    Binding("g", "list", "cursor.top", "First row; in the tasks pane, follow the newest task", "top"),
    Binding("home", "list", "cursor.top", "First row; in the tasks pane, follow the newest task"),
    Binding("G", "list", "cursor.bottom", "Last row (the oldest task)", "bottom"),
    Binding("end", "list", "cursor.bottom", "Last row (the oldest task)"),
    Binding("enter", "tasks", "view.open", "Task detail: arguments, result, timeline, traceback", "detail"),
    Binding("i", "tasks", "view.open", "Task detail"),
    Binding("t", "tasks", "task.traceback", "Traceback of the task", "traceback"),
    Binding("r", "tasks", "task.fetch_result", "Fetch the result from the result backend"),
    Binding("w", "tasks", "task.workflow", "Workflow tree: every task sharing this one's root", "workflow"),
    Binding("/", "tasks", "filter.open", "Filter: text, state:X name:glob worker:glob queue:glob, !term excludes",
            "filter"),
    Binding("esc", "tasks", "filter.clear", "Clear the filter"),
    Binding("f", "tasks", "filter.cycle_state", "Cycle state filter: all, FAILURE, STARTED, RETRY, RECEIVED, SUCCESS", "state"),
    Binding("n", "tasks", "task.next_failure", "Next FAILURE", "next failure"),
    Binding(">", "tasks", "sort.next", "Sort by the next column", "sort"),
    Binding("<", "tasks", "sort.prev", "Sort by the previous column"),
    Binding("I", "tasks", "sort.invert", "Invert the sort order"),
    Binding(" ", "tasks", "mark.toggle", "Mark or unmark the task (and move down)", "mark"),
    Binding("U", "tasks", "mark.clear", "Clear all marks"),
    Binding("c", "tasks", "task.revoke", "Revoke the marked tasks, or the selected one", "revoke"),
    Binding("C", "tasks", "task.terminate", "Revoke and terminate, choosing the signal"),
    Binding("l", "tasks", "task.rate_limit", "Rate limit of the task's type: 10/s, 100/m, 5/h, 0 removes"),
    Binding("T", "tasks", "task.time_limit", "Soft and hard time limits of the task's type"),
    Binding("R", "tasks", "task.retry", "Send the task again with its exact arguments"),
    Binding(" ", "workers", "mark.toggle", "Mark or unmark the worker: worker commands go to the marked ones", "mark"),
    Binding("*", "workers", "mark.all_workers", "Mark every worker"),
    Binding("U", "workers", "mark.clear", "Clear the worker marks"),
    Binding("X", "workers", "worker.shutdown", "Shut down the marked workers, or the selected one",
            "shutdown"),
    Binding("+", "workers", "worker.pool_grow", "Grow the pool (by 1, or a number given)", "grow"),
    Binding("-", "workers", "worker.pool_shrink", "Shrink the pool (by 1, or a number given)", "shrink"),
    Binding("a", "workers", "worker.autoscale", "Autoscale MAX,MIN"),
    Binding("P", "workers", "worker.pool_restart", "Restart the pool"),
    Binding("Q", "workers", "worker.add_consumer", "Consume from a queue (Tab completes)"),
    Binding("D", "workers", "worker.cancel_consumer", "Stop consuming from a queue"),
    Binding("e", "workers", "worker.enable_events", "Enable task events on the worker"),
    Binding("E", "workers", "worker.disable_events",
            "Disable task events on the worker: monitors stop seeing its tasks"),
    Binding("/", "workers", "worker_filter.open", "Filter: hostname globs, all must hold, !glob excludes",
            "filter"),
    Binding("esc", "workers", "worker_filter.clear", "Clear the workers filter"),
    Binding("o", "workers", "workers.toggle_offline", "List or fold the long-offline workers ('+N offline')"),
    Binding("L", "global", "audit.show", "Commands sent this session, with replies (the audit log)"),
    Binding("enter", "workers", "view.open", "Worker detail: stats, processed/s and load history, active and "
                                             "reserved tasks, queues", "detail"),
    Binding("enter", "detail", "view.open", "Open the task on this line (worker detail)"),
    Binding("r", "detail", "task.fetch_result", "Fetch the result from the result backend", "fetch result"),
    Binding("t", "detail", "task.traceback", "Jump to the traceback"),
    Binding("w", "detail", "task.workflow", "Workflow tree of the task"),
    Binding("ctrl r", "detail", "view.reload", "Ask again (inspect, status) or sample the queues now", "again"),
    Binding("esc", "detail", "view.back", "Back", "back"),
    Binding("q", "detail", "view.back", "Back"),
    Binding(">", "queues", "queues.sort_next", "Sort by the next column (queue, messages, consumers, oldest)",
            "sort"),
    Binding("<", "queues", "queues.sort_prev", "Sort by the previous column"),
    Binding("I", "queues", "queues.sort_invert", "Invert the sort order"),
    Binding("/", "queues", "queues.filter", "Filter the queues by name: a glob, else a substring", "filter"),
    Binding("esc", "queues", "queues.clear_filter", "Clear the filter; with none, back", "back"),
    Binding("enter", "queues", "queues.tasks", "Close the view and filter the tasks pane to queue: this queue",
            "tasks"),
    Binding("p", "queues", "queues.purge", "Purge the queue under the cursor, saying how many messages it holds",
            "purge"),
    Binding("enter", "failures", "failures.members", "Close the view; the tasks pane lists the group's tasks",
            "its tasks"),
    Binding("t", "failures", "failures.example", "Traceback of the group's latest failure (kept if evicted)",
            "traceback"),
    Binding("/", "failures", "failures.filter", "Filter: text in the task name, exception or message", "filter"),
    Binding(">", "failures", "failures.sort_next", "Sort by the next column", "sort"),
    Binding("<", "failures", "failures.sort_prev", "Sort by the previous column"),
    Binding("I", "failures", "failures.sort_invert", "Invert the sort order"),
    Binding("enter", "types", "types.tasks", "Close the view and filter the tasks pane to this type", "tasks"),
    Binding(">", "types", "types.sort_next", "Sort by the next column", "sort"),
    Binding("<", "types", "types.sort_prev", "Sort by the previous column"),
    Binding("I", "types", "types.sort_invert", "Invert the sort order"),
    Binding("/", "types", "types.filter", "Filter the types by name: a glob, else a substring", "filter"),
    Binding("enter", "stuck", "stuck.tasks", "Close the view; the tasks pane lists this kind (is:lost, is:stuck)",
            "tasks"),
    Binding("r", "stuck", "stuck.reconcile", "Reconcile: correct the tasks that finished unseen (as :reconcile)",
            "reconcile"),
    Binding(">", "stuck", "stuck.sort_next", "Sort by the next column", "sort"),
    Binding("<", "stuck", "stuck.sort_prev", "Sort by the previous column"),
    Binding("I", "stuck", "stuck.sort_invert", "Invert the sort order"),
    Binding("/", "stuck", "stuck.filter", "Filter: text in the kind, name, uuid, worker or reason", "filter"),
    Binding("enter", "beat", "beat.tasks", "Close the view and filter the tasks pane to the entry's task", "tasks"),
    Binding(">", "beat", "beat.sort_next", "Sort by the next column", "sort"),
    Binding("<", "beat", "beat.sort_prev", "Sort by the previous column"),
    Binding("I", "beat", "beat.sort_invert", "Invert the sort order"),
    Binding("/", "beat", "beat.filter", "Filter the entries by entry or task name: a glob, else a substring",
            "filter"),
    Binding("enter", "alerts", "alerts.tasks", "Close the view and filter the tasks pane to the alert's type or worker",
            "tasks"),
    Binding(">", "alerts", "alerts.sort_next", "Sort by the next column", "sort"),
    Binding("<", "alerts", "alerts.sort_prev", "Sort by the previous column"),
    Binding("I", "alerts", "alerts.sort_invert", "Invert the sort order"),
    Binding("/", "alerts", "alerts.filter", "Filter: a glob, else a substring of the rule, subject or message",
            "filter"),
    Binding("esc", "help", "help.close", "Close the help", "close"),
    Binding("q", "help", "help.close", "Close the help"),
    Binding("?", "help", "help.close", "Close the help"),
)

_KEY_LABELS = {
    "shift tab": "Shift-Tab",
    "page down": "PgDn",
    "page up": "PgUp",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "home": "Home",
    "end": "End",
    "esc": "Esc",
    "enter": "Enter",
    "tab": "Tab",
    " ": "Space",
    "backspace": "Backspace",
}


def key_label(key: str) -> str:
    """How a person writes an urwid key name: 'page down' -> 'PgDn'."""
    if key in _KEY_LABELS:
        return _KEY_LABELS[key]
    if key.startswith("ctrl "):
        return "Ctrl-" + key[5:].upper()
    if len(key) > 1 and key[0] == "f" and key[1:].isdigit():
        return key.upper()
    return key


def help_text(binding: Binding) -> str:
    """The binding's help, saying '(asks first)' when its command does."""
    return binding.help + (" (asks first)" if commands.COMMANDS[binding.command].asks_first else "")


class Keymap:
    def __init__(self, bindings=DEFAULT_BINDINGS):
        self.bindings = tuple(bindings)
        self._table = {}
        for binding in self.bindings:
            if binding.context not in CONTEXTS:
                raise ValueError(f"unknown context {binding.context!r} for key {binding.key!r}")
            if binding.command not in commands.COMMANDS:
                raise ValueError(f"key {binding.key!r} names unknown command {binding.command!r}")
            self._table[(binding.context, binding.key)] = binding

    def resolve(self, contexts, key: str) -> str | None:
        """The command ``key`` runs in the first of ``contexts`` that binds it."""
        for context in contexts:
            binding = self._table.get((context, key))
            if binding is not None:
                return binding.command
        return None

    def contexts_binding(self, key: str) -> list:
        """The contexts in which ``key`` does something, in CONTEXTS order."""
        return [context for context in CONTEXTS if (context, key) in self._table]

    def grouped(self):
        """[(context title, [(keys label, help)])], keys of one command merged."""
        sections = []
        for context, title in CONTEXTS.items():
            rows: dict = {}
            for binding in self.bindings:
                if binding.context != context:
                    continue
                keys, text = rows.get(binding.command, ([], help_text(binding)))
                keys.append(key_label(binding.key))
                rows[binding.command] = (keys, text)
            if rows:
                sections.append((title, [(", ".join(keys), text) for keys, text in rows.values()]))
        return sections

    def hints(self, contexts):
        """[(keys label, hint)] for the status line: 'global' ones first, as a
        narrow terminal clips the end, then the most specific context's."""
        commands_seen, keys_seen, out = set(), set(), []
        resolution = list(contexts)
        for context in contexts:
            for binding in self.bindings:
                if binding.context != context:
                    continue
                # a key bound in a more specific context shadows this one
                shadowed = binding.key in keys_seen
                keys_seen.add(binding.key)
                if binding.hint and not shadowed and binding.command not in commands_seen:
                    commands_seen.add(binding.command)
                    out.append((resolution.index(context), key_label(binding.key), binding.hint))
        out.sort(key=lambda hint: (hint[0] != len(resolution) - 1, hint[0]))
        return [(key, hint) for _rank, key, hint in out]
