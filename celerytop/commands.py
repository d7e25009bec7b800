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
)

COMMANDS = {command.name: command for command in _ALL}


def get(name: str) -> Command:
    return COMMANDS[name]
