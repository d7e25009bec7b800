"""The command registry: every action a key can run, declared once as data.

A command is a name, its help text, the app method that runs it (a dotted path
resolved against the MonitorApp once, at startup) and its policy: the control
verb it sends, if any (which says whether it changes the cluster), and whether
it asks first.  Keys name a command, never code, so the keymap, the help
overlay, the man page, the confirmations and the tests all read this table.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from celerytop.control import verbs


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    #: Dotted path of the method on the app: "cycle_focus", "actions.revoke".
    handler: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    #: The control verb it sends (celerytop.control.verbs); "" when it sends none.
    verb: str = ""
    #: A confirmation dialog comes before anything is sent.
    asks_first: bool = False

    @property
    def changes_cluster(self) -> bool:
        """Refused in read-only mode: what its verb says."""
        return bool(self.verb) and verbs.changes_cluster(self.verb)



def _sort_and_filter(view: str, handler: str, rows: str, filter_help: str) -> tuple:
    """The keys every sortable, filterable table view shares (ui/controllers/table_keys.py): ``<`` ``>`` ``I`` ``/``."""
    return (
        Command(f"{view}.sort_next", f"Sort the {rows} by the next column", handler=f"{handler}.change_sort",
                args=(1,)),
        Command(f"{view}.sort_prev", f"Sort the {rows} by the previous column", handler=f"{handler}.change_sort",
                args=(-1,)),
        Command(f"{view}.sort_invert", f"Invert the {rows}' sort order", handler=f"{handler}.invert_sort"),
        Command(f"{view}.filter", filter_help, handler=f"{handler}.open_filter"),
    )

_ALL = (
    Command("quit", "Quit celerytop, restoring the terminal", handler="quit"),
    Command("help.show", "Show the help overlay with every key binding", handler="show_help"),
    Command("help.close", "Close the help overlay", handler="stack.close_overlay"),
    Command("focus.next", "Move to the next pane", handler="cycle_focus", args=(1,)),
    Command("focus.prev", "Move to the previous pane", handler="cycle_focus", args=(-1,)),
    Command("cursor.up", "Move the cursor up one row", handler="move_cursor", args=("up",)),
    Command("cursor.down", "Move the cursor down one row", handler="move_cursor", args=("down",)),
    Command("cursor.page_up", "Move the cursor up one page", handler="move_cursor", args=("page up",)),
    Command("cursor.page_down", "Move the cursor down one page", handler="move_cursor", args=("page down",)),
    Command("cursor.top", "Move to the first row (newest task; follows new tasks)", handler="move_cursor",
            args=("top",)),
    Command("cursor.bottom", "Move to the last row (oldest task)", handler="move_cursor", args=("bottom",)),
    Command("view.open", "Open the detail view of the task or worker under the cursor", handler="open_view"),
    Command("view.back", "Leave the detail view", handler="close_view"),
    Command("task.traceback", "Show the traceback of the task under the cursor", handler="drilldown.show_traceback"),
    Command("task.workflow", "Show the workflow tree (chain, group, chord) the task belongs to",
            handler="drilldown.show_workflow"),
    Command("task.fetch_result", "Fetch the task's result or exception from the result backend",
            handler="drilldown.fetch_result"),
    Command("filter.open", "Filter tasks (prompt)", handler="listing.open_filter_prompt"),
    Command("filter.clear", "Clear the task filter", handler="listing.apply_filter", args=("",)),
    Command("worker_filter.open", "Filter workers by hostname (prompt)", handler="listing.open_worker_filter_prompt"),
    Command("worker_filter.clear", "Clear the workers filter", handler="listing.apply_worker_filter", args=("",)),
    Command("filter.cycle_state", "Cycle the state filter: all, failed, started, retried, received, succeeded",
            handler="listing.cycle_state_filter"),
    Command("task.next_failure", "Jump to the next failed task", handler="listing.next_failure"),
    Command("sort.next", "Sort by the next column", handler="listing.change_sort", args=(1,)),
    Command("sort.prev", "Sort by the previous column", handler="listing.change_sort", args=(-1,)),
    Command("sort.invert", "Invert the sort order", handler="listing.invert_sort"),
    Command("mark.toggle", "Mark or unmark the task or worker under the cursor", handler="selection.toggle_mark"),
    Command("mark.clear", "Clear all marks", handler="selection.clear_marks"),
    Command("mark.all_workers", "Mark every worker (worker commands then go to all of them)",
            handler="selection.mark_all_workers"),
    Command("task.revoke", "Revoke the marked tasks, or the selected one", handler="actions.revoke",
            kwargs={"terminate": False}, verb="revoke", asks_first=True),
    Command("task.terminate", "Revoke and terminate (with a signal you choose)", handler="actions.revoke",
            kwargs={"terminate": True}, verb="terminate", asks_first=True),
    Command("task.rate_limit", "Set the rate limit of the task's type", handler="actions.rate_limit",
            verb="rate_limit"),
    Command("task.time_limit", "Set the soft and hard time limits of the task's type", handler="actions.time_limit",
            verb="time_limit"),
    Command("task.retry", "Send the task again with its original name and arguments", handler="actions.retry",
            verb="send_task", asks_first=True),
    Command("worker.shutdown", "Shut down the selected worker", handler="worker_actions.shutdown", verb="shutdown",
            asks_first=True),
    Command("worker.pool_grow", "Grow the selected worker's pool", handler="worker_actions.pool", args=("pool_grow",),
            verb="pool_grow"),
    Command("worker.pool_shrink", "Shrink the selected worker's pool", handler="worker_actions.pool",
            args=("pool_shrink",), verb="pool_shrink"),
    Command("worker.autoscale", "Set the selected worker's autoscale max,min", handler="worker_actions.autoscale",
            verb="autoscale"),
    Command("worker.pool_restart", "Restart the selected worker's pool", handler="worker_actions.pool_restart",
            verb="pool_restart", asks_first=True),
    Command("worker.add_consumer", "Make the selected worker consume from a queue", handler="worker_actions.consumer",
            args=("add_consumer",), verb="add_consumer"),
    Command("worker.cancel_consumer", "Make the selected worker stop consuming from a queue",
            handler="worker_actions.consumer", args=("cancel_consumer",), verb="cancel_consumer", asks_first=True),
    Command("worker.enable_events", "Turn on task events on the selected worker", handler="worker_actions.events",
            args=(True,), verb="enable_events", asks_first=True),
    Command("worker.disable_events", "Turn off task events on the selected worker", handler="worker_actions.events",
            args=(False,), verb="disable_events", asks_first=True),
    Command("workers.toggle_offline", "List the workers folded into '+N offline', or fold them again",
            handler="listing.toggle_offline_workers"),
    Command("audit.show", "Show the commands sent in this session and their replies", handler="drilldown.show_audit"),
    Command("prompt.open", "Open the command prompt (inspect, control, purge, result, status, migrate, queues)",
            handler="console.open"),
    Command("queues.show", "Show the queues view: depth, consumers, oldest message's age, sparkline, trend",
            handler="drilldown.show_queues"),
    *_sort_and_filter("queues", "queue_table", "queues", "Filter the queues by name (glob or substring)"),
    Command("queues.clear_filter", "Clear the queues filter, or leave the view when none is set",
            handler="queue_table.clear_filter"),
    Command("queues.tasks", "Close the view and filter the tasks pane to the tasks sent to the queue under the "
                            "cursor (queue:NAME)",
            handler="queue_table.filter_tasks"),
    Command("queues.purge", "Purge the queue under the cursor", handler="drilldown.purge_selected_queue", verb="purge",
            asks_first=True),
    Command("failures.show", "Show the failure groups: every failure seen, by task, exception and message, "
                             "each with its last hour as a sparkline",
            handler="failures.show"),
    *_sort_and_filter("failures", "failures", "failure groups",
                     "Filter the failure groups by task name, exception or message (prompt)"),
    Command("failures.members", "Close the view and filter the tasks pane to the group's failed tasks",
            handler="failures.list_members"),
    Command("failures.example", "Show the traceback of the group's latest failure", handler="failures.show_example"),
    Command("types.show", "Show the task types view: counts, failure %, rate, runtime and wait percentiles, "
                          "a throughput sparkline",
            handler="types.show"),
    *_sort_and_filter("types", "types", "task types", "Filter the task types by name (glob or substring)"),
    Command("alerts.show", "Show the alerts view: every alert this session, firing or cleared",
            handler="alerts.show"),
    *_sort_and_filter("alerts", "alerts", "alerts",
                     "Filter the alerts by rule, subject or message (glob or substring)"),
    Command("alerts.tasks", "Close the view and filter the tasks pane to the alert's task type or worker",
            handler="alerts.filter_tasks"),
    Command("types.tasks", "Close the view and filter the tasks pane to the type under the cursor",
            handler="types.filter_tasks"),
    Command("stuck.show", "Show the stuck and lost tasks: lost with their worker, or running past their threshold",
            handler="stuck.show"),
    *_sort_and_filter("stuck", "stuck", "stuck and lost tasks",
                     "Filter the stuck and lost tasks by kind, name, uuid, worker or reason (prompt)"),
    Command("stuck.tasks", "Close the view; the tasks pane lists the row's kind (is:lost, is:stuck) at its task",
            handler="stuck.filter_tasks"),
    Command("stuck.reconcile", "Reconcile: ask the workers and the result backend about tasks shown STARTED or "
            "RECEIVED and correct those that finished (as :reconcile; read-only mode may)",
            handler="stuck.reconcile"),
    Command("beat.show", "Show the periodic tasks view: the beat schedule, next and last runs, missed runs",
            handler="beat.show"),
    *_sort_and_filter("beat", "beat", "periodic tasks",
                     "Filter the periodic tasks by entry or task name (glob or substring)"),
    Command("beat.tasks", "Close the view and filter the tasks pane to the entry's task under the cursor",
            handler="beat.filter_tasks"),
    Command("replay.pause", "Replay: pause or resume", handler="_replay_control", args=("toggle_pause",)),
    Command("replay.step", "Replay: deliver one more event (pauses first)", handler="_replay_control",
            args=("step",)),
    Command("replay.faster", "Replay: twice as fast", handler="_replay_control", args=("faster",)),
    Command("replay.slower", "Replay: half as fast", handler="_replay_control", args=("slower",)),
    Command("view.reload", "Ask the workers again (inspect and status views), or sample the queues now",
            handler="reload_view"),
)

COMMANDS = {command.name: command for command in _ALL}


def bind(app) -> dict:
    """{command name: a callable running it on ``app``}, every handler path resolved now:
    a path that does not resolve to something callable is a ValueError at startup."""
    bound = {}
    for command in COMMANDS.values():
        target = app
        for part in command.handler.split("."):
            target = getattr(target, part, None)
        if not callable(target):
            raise ValueError(f"command {command.name!r}: handler {command.handler!r} is not a method of "
                             f"{type(app).__name__}")
        bound[command.name] = functools.partial(target, *command.args, **command.kwargs)
    return bound
