"""Queue depths read from the broker itself, and purging a queue.

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

Where the broker lets a message be read without taking it (Redis, the
filesystem: peek.py), a round also reads each queue's oldest waiting
message (``heads``); on Redis the whole round is one pipelined request.
:attr:`DepthProbe.last_round` is how long the last round took.

The UI calls a probe from one background thread; it keeps its own
connection and never raises from :meth:`DepthProbe.measure`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from kombu import Connection
from kombu.exceptions import OperationalError
from kombu.transport import virtual

from celerytop.control.queues import peek
from celerytop.present.errors import one_line_error

#: What a 404 from a passive declare means to the user.
NOT_DECLARED = "not declared on the broker"


@dataclass(frozen=True)
class QueueDepth:
    """One queue's depth as the broker reported it, or why it could not."""

    name: str
    messages: int | None  # None when it could not be measured
    consumers: int | None  # None where the broker cannot say (redis, filesystem)
    error: str = ""  # one line
    #: the oldest waiting message of each non-empty (sub-)queue, decoded; None where the broker cannot be peeked
    heads: tuple | None = field(default=None, compare=False)


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
        self.last_round: float | None = None  # seconds the last measure() took

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
            not_declared = getattr(exc, "code", None) == 404
            error = NOT_DECLARED if not_declared else one_line_error(exc, with_type=False, limit=None)
            return QueueDepth(name, None, None, error)

    def measure(self, names) -> list[QueueDepth]:
        """One :class:`QueueDepth` per name, in order; never raises.

        A broken connection (the broker restarted, a socket timed out) is
        re-opened once; if that fails too, every queue gets its error.
        """
        names = list(names)
        started = time.perf_counter()
        try:
            try:
                return self._measure_all(names)
            except Exception:
                self._reset()
            try:
                return self._measure_all(names)
            except Exception as exc:
                self._reset()  # the next measure() tries afresh
                error = one_line_error(exc, with_type=False, limit=None)
                return [QueueDepth(name, None, None, error) for name in names]
        finally:
            self.last_round = time.perf_counter() - started

    def _measure_all(self, names: list) -> list[QueueDepth]:
        """Every queue in one request on Redis, one by one elsewhere; a connection error escapes."""
        channel = self._chan()
        if peek.is_redis(channel):
            try:
                found = peek.RedisRound.read(channel, names)
            except self._connection_errors():
                raise
            except Exception as exc:  # noqa: BLE001 - e.g. a cluster that refuses pipelines: say so per queue
                error = one_line_error(exc, with_type=False, limit=None)
                return [QueueDepth(name, None, None, error) for name in names]
            return [QueueDepth(name, None, None, found.errors[name]) if name in found.errors
                    else QueueDepth(name, found.depths[name], None, heads=found.heads[name]) for name in names]
        depths = [self._measure_one(name) for name in names]
        if peek.is_filesystem(channel):
            heads = peek.filesystem_heads(channel.data_folder_in, names)
            depths = [QueueDepth(d.name, d.messages, d.consumers, d.error, heads[d.name]) if not d.error else d
                      for d in depths]
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
