"""The command registry: every action a key (or, later, the prompt) can run.

A command is a name plus what it does in words; the UI maps names to
handlers.  Keys never call code directly, they name a command here, so the
help overlay, the man page and the tests can reason about them as data.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    name: str
    description: str
    #: Changes the cluster: asks for confirmation, refused in read-only mode.
    destructive: bool = False


_ALL = (
    Command("quit", "Quit celerytop, restoring the terminal"),
    Command("help.show", "Show the help overlay with every key binding"),
    Command("help.close", "Close the help overlay"),
    Command("focus.next", "Move to the next pane"),
    Command("focus.prev", "Move to the previous pane"),
    Command("cursor.up", "Move the cursor up one row"),
    Command("cursor.down", "Move the cursor down one row"),
    Command("cursor.page_up", "Move the cursor up one page"),
    Command("cursor.page_down", "Move the cursor down one page"),
    Command("cursor.top", "Move to the first row (newest task; follows new tasks)"),
    Command("cursor.bottom", "Move to the last row (oldest task)"),
    Command("view.open", "Open the detail view of the task or worker under the cursor"),
    Command("view.back", "Leave the detail view"),
    Command("task.traceback", "Show the traceback of the task under the cursor"),
    Command("task.workflow", "Show the workflow tree (chain, group, chord) the task belongs to"),
    Command("task.fetch_result", "Fetch the task's result or exception from the result backend"),
    Command("filter.open", "Filter tasks (prompt)"),
    Command("filter.clear", "Clear the task filter"),
    Command("worker_filter.open", "Filter workers by hostname (prompt)"),
    Command("worker_filter.clear", "Clear the workers filter"),
    Command("filter.cycle_state", "Cycle the state filter: all, failed, started, retried, received, succeeded"),
    Command("task.next_failure", "Jump to the next failed task"),
    Command("sort.next", "Sort by the next column"),
    Command("sort.prev", "Sort by the previous column"),
    Command("sort.invert", "Invert the sort order"),
    Command("mark.toggle", "Mark or unmark the task or worker under the cursor"),
    Command("mark.clear", "Clear all marks"),
    Command("mark.all_workers", "Mark every worker (worker commands then go to all of them)"),
    Command("task.revoke", "Revoke the marked tasks, or the selected one", destructive=True),
    Command("task.terminate", "Revoke and terminate (with a signal you choose)", destructive=True),
    Command("task.rate_limit", "Set the rate limit of the task's type", destructive=True),
    Command("task.time_limit", "Set the soft and hard time limits of the task's type", destructive=True),
    Command("task.retry", "Send the task again with its original name and arguments", destructive=True),
    Command("worker.shutdown", "Shut down the selected worker", destructive=True),
    Command("worker.pool_grow", "Grow the selected worker's pool", destructive=True),
    Command("worker.pool_shrink", "Shrink the selected worker's pool", destructive=True),
    Command("worker.autoscale", "Set the selected worker's autoscale max,min", destructive=True),
    Command("worker.pool_restart", "Restart the selected worker's pool", destructive=True),
    Command("worker.add_consumer", "Make the selected worker consume from a queue", destructive=True),
    Command("worker.cancel_consumer", "Make the selected worker stop consuming from a queue", destructive=True),
    Command("worker.enable_events", "Turn on task events on the selected worker", destructive=True),
    Command("worker.disable_events", "Turn off task events on the selected worker", destructive=True),
    Command("workers.toggle_offline", "List the workers folded into '+N offline', or fold them again"),
    Command("audit.show", "Show the commands sent in this session and their replies"),
    Command("prompt.open", "Open the command prompt (inspect, control, purge, result, status, migrate, queues)"),
    Command("queues.show", "Show the queues view: depth, consumers, sparkline and trend"),
    Command("queues.purge", "Purge the queue under the cursor", destructive=True),
    Command("replay.pause", "Replay: pause or resume"),
    Command("replay.step", "Replay: deliver one more event (pauses first)"),
    Command("replay.faster", "Replay: twice as fast"),
    Command("replay.slower", "Replay: half as fast"),
    Command("view.reload", "Ask the workers again (inspect and status views), or sample the queues now"),
)

COMMANDS = {command.name: command for command in _ALL}


def get(name: str) -> Command:
    return COMMANDS[name]
