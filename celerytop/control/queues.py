"""Queue depths read from the broker itself, their history, purge and migrate.

Events say what workers do, never how much waits for them: a queue's depth
is only known to the broker.  :class:`DepthProbe` asks it, per transport:

* RabbitMQ (py-amqp and other real AMQP transports): a passive
  ``queue_declare``, which answers ``message_count`` and ``consumer_count``
  without creating anything; an unknown queue is a 404, which also closes
  the channel, so the next queue gets a fresh one.
* kombu's virtual transports (Redis, filesystem, ...): the channel's
  ``_size(queue)``.  Their passive ``queue_declare`` is no use here: it
  first asks ``_has_queue``, and an empty Redis queue has no key at all (a
  404 for a queue that merely holds 0), and under ``global_keyprefix`` kombu
  5.7 sends that ``EXISTS`` unprefixed (a 404 for a queue holding
  messages).  ``_size`` is what the declare itself would answer: on Redis
  an ``LLEN`` of the queue and of each priority sub-queue
  (``queue + '\\x06\\x16' + step``, for the channel's ``priority_steps``),
  through kombu's prefixing client; on the filesystem, the message files
  waiting in ``data_folder_in`` for that queue.  These brokers cannot say
  how many consumers a queue has: ``consumers`` is ``None``.

The UI calls a probe from one background thread; it keeps its own
connection and never raises from :meth:`DepthProbe.measure`.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

from kombu import Connection
from kombu.exceptions import OperationalError
from kombu.transport import virtual

from celerytop.present.formatting import mask_secrets

#: Queues no user task waits in: remote-control mailboxes, event receivers,
#: celery's broadcast queues.  Their depth means nothing on a virtual
#: transport (fanout is pub/sub there) and is noise on RabbitMQ.
INTERNAL_SUFFIXES = (".pidbox",)
INTERNAL_PREFIXES = ("celeryev.", "bcast.")

#: What a 404 from a passive declare means to the user.
NOT_DECLARED = "not declared on the broker"

#: Seconds ``migrate`` waits for one more message before it is done.
MIGRATE_IDLE_TIMEOUT = 1.0

SPARK_BLOCKS = " ▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class QueueDepth:
    """One queue's depth as the broker reported it, or why it could not."""

    name: str
    messages: int | None  # None when it could not be measured
    consumers: int | None  # None where the broker cannot say (redis, filesystem)
    error: str = ""  # one line


def _one_line(exc: BaseException) -> str:
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc  # no repr quotes
    text = " ".join(str(message).split())
    return text or type(exc).__name__


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


class DepthProbe:
    """Measures and purges queues over a connection of its own.

    Thread-confined: created anywhere, then used from one thread only (the
    connection is opened lazily, on first use, in that thread).  A
    connection passed in is used until it breaks, then replaced by a clone.
    """

    def __init__(self, app, connection=None):
        self.app = app
        self._connection = connection
        self._owned = connection is None
        self._channel = None

    # -- connection handling -------------------------------------------------

    def _conn(self) -> Connection:
        if self._connection is None:
            self._connection = self.app.connection_for_read()
            self._owned = True
        return self._connection

    def _chan(self):
        if self._channel is None:
            conn = self._conn()
            conn.ensure_connection(max_retries=0)  # one attempt, no sleep: the caller retries once
            self._channel = conn.channel()
        return self._channel

    def _drop_channel(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            try:
                channel.close()
            except Exception:
                pass  # already closed by the broker (a 404), or the connection is gone

    def _reset(self) -> None:
        """Forget channel and connection: the next call connects afresh."""
        self._drop_channel()
        old = self._connection
        if old is None:
            return
        try:
            self._connection = old.clone()  # same settings, not yet connected
        except Exception:
            self._connection = None  # _conn() builds one from the app
        if self._owned:
            try:
                old.collect()  # no goodbye over a socket that may be dead
            except Exception:
                pass
        self._owned = True

    def _connection_errors(self) -> tuple:
        """What means the connection, not one queue, failed (kombu wraps a failed connect)."""
        return tuple(self._conn().connection_errors) + (OSError, OperationalError)

    # -- measuring -------------------------------------------------------------

    def _depth(self, name: str) -> QueueDepth:
        channel = self._chan()
        if isinstance(channel, virtual.Channel):
            return QueueDepth(name, int(channel._size(name)), None)
        ok = channel.queue_declare(queue=name, passive=True)
        return QueueDepth(name, int(ok.message_count), int(ok.consumer_count))

    def _measure_one(self, name: str) -> QueueDepth:
        """One queue; only a connection-level error escapes (the caller reconnects)."""
        try:
            return self._depth(name)
        except self._connection_errors():
            raise
        except Exception as exc:
            self._drop_channel()  # AMQP closes the channel on any channel error
            error = NOT_DECLARED if getattr(exc, "code", None) == 404 else _one_line(exc)
            return QueueDepth(name, None, None, error)

    def measure(self, names) -> list[QueueDepth]:
        """One :class:`QueueDepth` per name, in order; never raises.

        A broken connection (the broker restarted, a socket timed out) is
        re-opened once; if that fails too, the queues left get its error.
        """
        names = list(names)
        try:
            return [self._measure_one(name) for name in names]
        except Exception:
            self._reset()
        depths: list[QueueDepth] = []
        for index, name in enumerate(names):
            try:
                depths.append(self._measure_one(name))
            except Exception as exc:
                self._reset()  # the next measure() tries afresh
                error = _one_line(exc)
                depths += [QueueDepth(n, None, None, error) for n in names[index:]]
                break
        return depths

    def purge(self, name: str) -> int:
        """Remove the messages waiting in exactly ``name``; how many were removed.

        Only ready messages go: those a worker holds unacknowledged stay.  On
        Redis that includes the queue's priority sub-queues.  Raises on any
        error (a queue RabbitMQ does not know is a 404); a connection found
        broken is re-opened once first, as purging twice is harmless.
        """
        try:
            return self._purge(name)
        except self._connection_errors():
            self._reset()
        return self._purge(name)

    def _purge(self, name: str) -> int:
        try:
            return int(self._chan().queue_purge(queue=name) or 0)
        except self._connection_errors():
            raise
        except Exception:
            self._drop_channel()
            raise

    def close(self) -> None:
        """Close the channel, and the connection if this probe opened it."""
        self._drop_channel()
        connection, self._connection = self._connection, None
        if connection is not None and self._owned:
            try:
                connection.release()
            except Exception:
                pass


class DepthHistory:
    """Depth samples per queue over a window, for a sparkline and a trend line.

    ``when`` is seconds on one clock (``time.monotonic()``), not decreasing
    per queue; samples older than ``window`` before a queue's newest go.
    """

    def __init__(self, window: float = 600.0):
        self.window = window
        self._samples: dict[str, deque[tuple[float, int]]] = {}

    def add(self, name: str, when: float, messages: int) -> None:
        samples = self._samples.setdefault(name, deque())
        if samples and when < samples[-1][0]:
            # out of order (should not happen): keep the deque sorted anyway
            ordered = list(samples)
            bisect.insort(ordered, (when, messages))
            samples.clear()
            samples.extend(ordered)
        else:
            samples.append((when, messages))
        newest = samples[-1][0]
        while samples and samples[0][0] < newest - self.window:
            samples.popleft()

    def samples(self, name: str) -> list[tuple[float, int]]:
        """``[(when, messages), ...]`` oldest first."""
        return list(self._samples.get(name, ()))

    def forget(self, name: str) -> None:
        self._samples.pop(name, None)

    def sparkline(self, name: str, width: int) -> str:
        """The last ``width`` samples, one block each, scaled from 0 to their maximum.

        0 is a space (so an empty queue draws nothing, and an all-zero history
        is all spaces); any other depth is at least '▁', the maximum '█'.  At
        most ``width`` characters (fewer while samples are few): the caller
        pads.
        """
        if width <= 0:
            return ""
        values = [messages for _, messages in self.samples(name)[-width:]]
        top = max(values, default=0)
        if top <= 0:
            return " " * len(values)
        steps = len(SPARK_BLOCKS) - 1
        return "".join(
            SPARK_BLOCKS[0] if v <= 0 else SPARK_BLOCKS[min(steps, max(1, math.ceil(v * steps / top)))]
            for v in values)

    def _recent(self, name: str, span: float) -> list[tuple[float, int]]:
        samples = self.samples(name)
        if not samples:
            return []
        since = samples[-1][0] - span
        return [s for s in samples if s[0] >= since]

    def rate(self, name: str, span: float = 60.0) -> float | None:
        """Messages per second over the last ``span`` seconds, by least squares.

        A fitted slope, not newest minus oldest: one odd sample (a burst that
        a worker took at once) moves it little.  None with fewer than 2
        samples (or all at one instant).
        """
        return _slope(self._recent(name, span))

    def trend(self, name: str, span: float = 60.0) -> str:
        """``"draining 40/s, empty in ~2 min"``, ``"growing 12/s"``, ``"steady"``, or "".

        "" with too few samples to say.  Steady when the fitted change over the
        samples used is under one message (noise, or an idle queue).  A queue
        draining that already reads 0 says ``"draining 40/s, empty now"``.
        """
        recent = self._recent(name, span)
        rate = _slope(recent)
        if rate is None:
            return ""
        if abs(rate) * (recent[-1][0] - recent[0][0]) < 1:
            return "steady"
        if rate > 0:
            return f"growing {format_rate(rate)}"
        latest = recent[-1][1]
        eta = "empty now" if latest <= 0 else f"empty in {format_duration(latest / -rate)}"
        return f"draining {format_rate(-rate)}, {eta}"


def _slope(samples: list[tuple[float, int]]) -> float | None:
    if len(samples) < 2:
        return None
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    if spread <= 0:
        return None
    return sum((t - mean_t) * (m - mean_m) for t, m in samples) / spread


def _trim(number: float, decimals: int) -> str:
    text = f"{number:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_rate(rate: float) -> str:
    """Compactly: ``0.5/s``, ``12/s``, ``1.2k/s``, ``3M/s``."""
    rate = abs(rate)
    if rate < 0.01:
        return "<0.01/s"
    if rate < 1:
        return f"{_trim(rate, 2 if rate < 0.1 else 1)}/s"
    if round(rate, 1) < 10:
        return f"{_trim(rate, 1)}/s"
    if round(rate) < 1000:
        return f"{round(rate)}/s"
    scaled, unit = rate / 1e3, "k"
    if round(scaled) >= 1000:
        scaled, unit = rate / 1e6, "M"
    return f"{_trim(scaled, 1) if round(scaled, 1) < 10 else round(scaled)}{unit}/s"


def format_duration(seconds: float) -> str:
    """Roughly: ``~45 s``, ``~2 min``, ``~3 h``, ``~2 d``."""
    seconds = max(0.0, seconds)
    if round(seconds) < 60:
        return f"~{max(1, round(seconds))} s"
    if round(seconds / 60) < 60:
        return f"~{round(seconds / 60)} min"
    if round(seconds / 3600) < 48:
        return f"~{round(seconds / 3600)} h"
    return f"~{round(seconds / 86400)} d"


# -- migrate ---------------------------------------------------------------------


def destination_connection(app, destination_url: str) -> Connection:
    """A connection to ``destination_url``; ValueError (one line) if it is no broker URL.

    The transport is the URL's own (never the app's ``broker_transport``,
    which names the source's); the app's transport options come along, as
    the app's workers will read the destination with them.
    """
    url = (destination_url or "").strip()
    scheme = urlsplit(url).scheme if "://" in url else ""
    if not scheme:
        raise ValueError(mask_secrets(f"not a broker URL: {destination_url!r} (expected e.g. redis://host:6379/0)"))
    transport = None
    if scheme == "filesystem":
        from celerytop.events.fstransport import Transport as transport  # its writer: no half-written files
    try:
        connection = Connection(
            url, transport=transport,
            transport_options=dict(app.conf.broker_transport_options or {}),
            connect_timeout=app.conf.broker_connection_timeout)
        connection.transport  # loads the transport: an unknown scheme fails here, not mid-move
    except Exception as exc:
        raise ValueError(mask_secrets(f"bad broker URL {destination_url!r}: {_one_line(exc)}")) from None
    return connection


def _same_broker(one: Connection, other: Connection) -> bool:
    """Same kind of broker, same address, same options (a filesystem broker's folders are options)."""
    def identity(conn):
        transport = conn.transport
        return (transport.driver_type, conn.hostname or "", conn.port or transport.default_port,
                conn.virtual_host or "", conn.transport_options)
    return identity(one) == identity(other)


def migrate(app, destination_url: str, queues=None, progress=None) -> int:
    """Move the messages waiting in ``queues`` to the broker at ``destination_url``.

    ``queues`` defaults to those the app's configuration names (:func:`queue_names`).  Each message
    is republished to the same exchange and routing key there (the queues are
    declared there first), then acknowledged at the source, by celery's
    ``migrate_tasks``; ``progress(count_so_far)`` is called after each.  Done
    when no message came for :data:`MIGRATE_IDLE_TIMEOUT`.  Returns how many
    moved.  ValueError for a bad URL or for the source broker itself (which
    would move the messages in circles); a broker that cannot be reached
    raises before anything is taken.
    """
    from celery.contrib.migrate import migrate_tasks

    from celerytop.events.fstransport import connection_for_read

    names = sorted(set(queues)) if queues is not None else queue_names(app, {})
    if not names:
        return 0
    destination = destination_connection(app, destination_url)
    source = connection_for_read(app)  # celerytop's reader for a filesystem source
    try:
        if _same_broker(source, destination):
            raise ValueError(mask_secrets(f"{destination_url} is the source broker: nothing to move"))
        destination.ensure_connection(max_retries=0)
        source.ensure_connection(max_retries=0)

        def on_message(state, body, message):
            if progress is not None:
                progress(state.count)

        # {name: name}, not a list: migrate_tasks reads 'a:b' in a list as a rename
        state = migrate_tasks(
            source, destination, app=app, queues={name: name for name in names},
            ack_messages=True, timeout=MIGRATE_IDLE_TIMEOUT, callback=on_message)
        return state.count
    finally:
        destination.release()
        source.release()
