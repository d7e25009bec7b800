"""What a person types at a control prompt, checked and turned into command
arguments.  Each parser returns the value or raises InputError with a
one-line explanation of the expected format; nothing is sent on an error."""

from __future__ import annotations

import ast
import re
import signal

_RATE = re.compile(r"^\d+(\.\d+)?(/[smh])?$")
#: Reprs this long may have been cut by celery (argsrepr_maxsize is 1024).
REPR_LIMIT = 1000
SIGNALS = ("TERM", "KILL", "INT", "HUP", "QUIT", "USR1", "USR2")


class InputError(ValueError):
    pass


def rate_limit(text: str) -> str:
    """Celery's forms: '10/s', '100/m', '5/h', '2.5' (per second); '0' or '' removes it."""
    text = text.strip().replace(" ", "")
    if text in ("", "0", "none", "None"):
        return "0"
    if not _RATE.match(text):
        raise InputError(f"{text!r} is not a rate limit: use N/s, N/m or N/h (e.g. 10/s, 100/m), or 0 to remove it")
    return text


def time_limits(text: str) -> tuple:
    """'SOFT HARD' in seconds (either may be '-' for none): '30 60'."""
    parts = text.replace(",", " ").split()
    if len(parts) != 2:
        raise InputError("give the soft and the hard limit in seconds, e.g. '30 60' ('-' for none)")
    values = []
    for part in parts:
        if part in ("-", "none", "0"):
            values.append(None)
            continue
        try:
            value = float(part)
        except ValueError:
            raise InputError(f"{part!r} is not a number of seconds (e.g. '30 60', '-' for none)") from None
        if value <= 0:
            raise InputError("time limits must be greater than 0 ('-' for none)")
        values.append(value)
    soft, hard = values
    if soft is not None and hard is not None and soft >= hard:
        raise InputError(f"the soft limit ({soft:g} s) must be below the hard limit ({hard:g} s)")
    return soft, hard


def signal_name(text: str) -> str:
    name = text.strip().upper().removeprefix("SIG") or "TERM"
    if name not in SIGNALS or not hasattr(signal, "SIG" + name):
        raise InputError(f"{text.strip()!r} is not a signal to terminate with: use one of {', '.join(SIGNALS)}")
    return name


def count(text: str) -> int:
    try:
        value = int(text.strip() or "1")
    except ValueError:
        raise InputError(f"{text.strip()!r} is not a whole number of processes") from None
    if value < 1:
        raise InputError("give at least 1 process")
    return value


def autoscale(text: str) -> tuple:
    """'MAX,MIN' as for celery's --autoscale: '10,3'."""
    parts = text.replace(" ", ",").split(",")
    parts = [p for p in parts if p]
    try:
        high, low = (int(p) for p in parts)
    except ValueError:
        raise InputError("give MAX,MIN processes, e.g. 10,3 (as celery worker --autoscale)") from None
    if low < 0 or high < 1 or low > high:
        raise InputError(f"MAX ({high}) must be at least 1 and at least MIN ({low})")
    return high, low


def queue_name(text: str) -> str:
    name = text.strip()
    if not name or any(c.isspace() for c in name):
        raise InputError("give one queue name, without spaces")
    return name


def call_from_reprs(args_repr: str, kwargs_repr: str) -> tuple:
    """A task's exact args and kwargs from the reprs its events carried.

    Events carry ``saferepr`` text, truncated with '...' near celery's
    1024-character limit (a truncated string still parses, wrongly); only a
    repr well under the limit that evaluates as a Python literal gives the
    call back exactly.
    """
    if len(args_repr or "") >= REPR_LIMIT or len(kwargs_repr or "") >= REPR_LIMIT:
        raise InputError("its arguments in the events may be truncated (celery cuts reprs at 1024 characters)")
    try:
        args = ast.literal_eval(args_repr or "()")
        kwargs = ast.literal_eval(kwargs_repr or "{}")
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        raise InputError("its arguments in the events are not Python literals (truncated, or objects)") from None
    if isinstance(args, list):
        args = tuple(args)
    if not isinstance(args, tuple) or not isinstance(kwargs, dict):
        raise InputError("its arguments in the events are not an args tuple and a kwargs dict")
    return args, kwargs
