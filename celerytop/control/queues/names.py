"""Which queues there are: those the app's configuration names and those workers consume.

Read from configuration and ``inspect active_queues`` replies only: nothing
is imported, called or asked of the broker.  Internal queues (remote-control
mailboxes, event receivers, broadcast queues) are never a task backlog and
are left out of what is shown.
"""

from __future__ import annotations

#: Queues no user task waits in: remote-control mailboxes, event receivers,
#: celery's broadcast queues.  Their depth means nothing on a virtual
#: transport (fanout is pub/sub there) and is noise on RabbitMQ.
INTERNAL_SUFFIXES = (".pidbox",)
INTERNAL_PREFIXES = ("celeryev.", "bcast.")


def is_internal(name: str, exchange_type: str = "") -> bool:
    """True for pidbox, event and broadcast queues (never a task backlog)."""
    return (name.endswith(INTERNAL_SUFFIXES) or name.startswith(INTERNAL_PREFIXES)
            or exchange_type == "fanout")


def _reply_queues(reply) -> list[dict]:
    """A worker's ``active_queues`` reply, with anything malformed dropped."""
    if not isinstance(reply, (list, tuple)):
        return []  # an error reply, or None from a worker that did not answer
    return [q for q in reply if isinstance(q, dict) and isinstance(q.get("name"), str) and q["name"]]


def _exchange_type(queue: dict) -> str:
    exchange = queue.get("exchange")
    return str(exchange.get("type") or "") if isinstance(exchange, dict) else ""


def consumers_by_queue(active_queues_replies: dict) -> dict[str, list[str]]:
    """``{hostname: [queue dicts]}`` (``inspect active_queues``) as ``{queue: sorted hostnames}``.

    Every queue a worker consumes is listed, internal ones too: this only
    turns the replies around; :func:`queue_names` decides what is shown.
    """
    consumers: dict[str, set[str]] = {}
    for host, reply in (active_queues_replies or {}).items():
        for queue in _reply_queues(reply):
            consumers.setdefault(queue["name"], set()).add(str(host))
    return {name: sorted(hosts) for name, hosts in consumers.items()}


def _queue_name(value) -> str:
    """A queue named by a string or a kombu ``Queue``; '' for anything else."""
    if isinstance(value, str):
        return value
    name = getattr(value, "name", None)
    return name if isinstance(name, str) else ""


def _route_maps(routes) -> list[dict]:
    """The plain ``{pattern: route}`` dicts in ``task_routes`` (a dict or a list of routers).

    Strings in a list are router import paths and callables are code: neither
    names a queue without being run, so neither is looked at.
    """
    if isinstance(routes, dict):
        return [routes]
    if isinstance(routes, (list, tuple)):
        return [r for r in routes if isinstance(r, dict)]
    return []


def _queue_type(queue) -> str:
    exchange = getattr(queue, "exchange", None)
    return str(getattr(exchange, "type", "") or "")


def configured_queue_names(app) -> set[str]:
    """Queues the app's configuration names, read without importing or calling anything."""
    conf = app.conf
    names = {_queue_name(conf.get("task_default_queue"))}
    queues = conf.get("task_queues") or ()
    if isinstance(queues, dict):
        queues = list(queues)  # the old {name: options} form
    if isinstance(queues, (list, tuple, set, frozenset)):
        names.update(_queue_name(q) for q in queues if not is_internal(_queue_name(q), _queue_type(q)))
    for routes in _route_maps(conf.get("task_routes")):
        for route in routes.values():
            if isinstance(route, str):
                names.add(route)
            elif isinstance(route, dict):
                names.add(_queue_name(route.get("queue")))
    names.discard("")
    return names


def queue_names(app, active_queues_replies: dict) -> list[str]:
    """Sorted union of the queues workers consume and those the configuration names.

    Workers tell which queues are live; the configuration adds queues nobody
    consumes yet, whose backlog is exactly what needs seeing.
    """
    names = configured_queue_names(app)
    for reply in (active_queues_replies or {}).values():
        names.update(q["name"] for q in _reply_queues(reply) if not is_internal(q["name"], _exchange_type(q)))
    return sorted(name for name in names if not is_internal(name))


def names_to_measure(app, active_queues_replies: dict, known, waiting) -> list[str]:
    """The queues a sampling round measures, sorted: those :func:`queue_names` gives, those measured before
    (``known``: a queue once seen stays, so its depth and alerts follow it down to empty) and those tasks were
    sent to and wait in (``waiting``: model.oldest_waiting_sent(), the task-sent events), though nothing
    consumes them yet."""
    names = set(queue_names(app, active_queues_replies)) | set(known)
    names |= {name for name in waiting if not is_internal(name)}
    return sorted(names)
