"""How a controller talks with the person at the screen and gets back onto the UI
thread, as a record of callables, so controllers never reach into the app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from celerytop.ui.keys.commands import COMMANDS


@dataclass(frozen=True)
class Conversation:
    #: say(message, seconds=5.0): the status line
    say: Callable[..., None]
    #: confirm(title, lines, on_yes): a one-key confirmation; only 'y' runs on_yes
    confirm: Callable[..., None]
    #: ask(caption, text, parse, on_value, completions=()) -> the Prompt it opened
    ask: Callable[..., object]
    #: deliver(callback, *args) -> bool: run callback on the UI thread, from any thread
    deliver: Callable[..., bool]
    #: () -> the open Prompt or None
    current_prompt: Callable[[], object]
    #: () -> the broker's error while it is down, else ''
    broker_down: Callable[[], str]
    #: () -> columns the status line has for a message
    message_width: Callable[[], int]


def ask_first(talk: Conversation, key_command: str, title: str, lines, send) -> None:
    """``send()`` after a confirmation (``title``, ``lines``) when the key command is
    declared ``asks_first`` (ui/keys/commands.py), else at once."""
    if COMMANDS[key_command].asks_first:
        talk.confirm(title, lines, send)
    else:
        send()
