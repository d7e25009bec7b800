"""Task limits (rate and time limits) as workers report them in ``inspect registered``."""

from __future__ import annotations

import re

#: What ``inspect registered`` is asked to say of each task type: its current limits.
TASK_LIMITS = ("rate_limit", "time_limit", "soft_time_limit")
_TASK_INFO = re.compile(r"^(?P<name>\S+)(?: \[(?P<info>.*)\])?$")


def task_info(entry) -> tuple:
    """One ``inspect registered`` entry, 'name [rate_limit=10/m time_limit=None]', as (name, {field: text})."""
    match = _TASK_INFO.match(str(entry))
    if not match:
        return str(entry), {}
    return match["name"], dict(item.partition("=")[::2] for item in (match["info"] or "").split())


def limit_text(value) -> str:
    """A limit as the screen shows it: '-' for none (celery says None; a rate limit of 0 is none too)."""
    text = str(value).strip() if value is not None else ""
    return "-" if text in ("", "None", "0", "0.0") else text


def limits_on_workers(replies: dict, name: str) -> dict:
    """{hostname: {limit: text}} for task type ``name`` from ``inspect registered`` replies."""
    found = {}
    for host, entries in replies.items():
        for entry in entries if isinstance(entries, list) else ():
            entry_name, fields = task_info(entry)
            if entry_name == name:
                found[host] = {limit: limit_text(fields.get(limit)) for limit in TASK_LIMITS}
    return found
