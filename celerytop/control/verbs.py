"""The policy of every command celerytop sends to a cluster: does it change it, does it ask first.

One table, read by Control's read-only guard, by the ``:`` prompt's confirmation
and by the key commands that send a verb (celerytop.ui.keys.commands).  A verb
not in the table changes the cluster and asks first: unknown means unsafe.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verb:
    name: str
    #: Read-only mode refuses it.
    changes_cluster: bool
    #: A confirmation comes before it is sent, from a key or typed in full at the prompt.
    asks_first: bool = False


VERBS = {verb.name: verb for verb in (
    Verb("ping", changes_cluster=False),
    Verb("heartbeat", changes_cluster=False),
    Verb("revoke", changes_cluster=True, asks_first=True),
    Verb("terminate", changes_cluster=True, asks_first=True),  # revoke with terminate=True
    Verb("shutdown", changes_cluster=True, asks_first=True),
    Verb("cancel_consumer", changes_cluster=True, asks_first=True),
    Verb("add_consumer", changes_cluster=True),
    Verb("rate_limit", changes_cluster=True),
    Verb("time_limit", changes_cluster=True),
    Verb("pool_grow", changes_cluster=True),
    Verb("pool_shrink", changes_cluster=True),
    Verb("autoscale", changes_cluster=True),
    Verb("pool_restart", changes_cluster=True, asks_first=True),
    Verb("enable_events", changes_cluster=True, asks_first=True),
    Verb("disable_events", changes_cluster=True, asks_first=True),
    Verb("send_task", changes_cluster=True, asks_first=True),  # a retry
    Verb("purge", changes_cluster=True, asks_first=True),
    Verb("migrate", changes_cluster=True, asks_first=True),
)}

#: The verbs read-only mode lets through.
READ_ONLY_COMMANDS = frozenset(name for name, verb in VERBS.items() if not verb.changes_cluster)


def changes_cluster(name: str) -> bool:
    verb = VERBS.get(name)
    return verb is None or verb.changes_cluster


def asks_first(name: str) -> bool:
    verb = VERBS.get(name)
    return verb is None or verb.asks_first
