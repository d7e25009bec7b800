"""Reading queues' depths and oldest waiting messages without consuming anything, where the broker allows it.

* Redis (kombu's transport LPUSHes and BRPOPs, so a list's oldest message is
  at index -1): one pipelined request per round for every queue and each
  priority sub-queue (``queue + '\\x06\\x16' + step``), an ``LLEN`` and an
  ``LINDEX key -1`` each, through the channel's own client (kombu's prefixing
  one, so ``global_keyprefix`` applies: kombu prefixes ``LLEN`` itself,
  ``LINDEX`` is prefixed here, as kombu's client does not know it).  10,000 queues are one round trip,
  not 10,000 (flower PR #1493 measured 30-60 s with one ``LLEN`` per queue).
* The filesystem transport: a queue's messages are files named
  ``<ms>_<uuid>.<queue>.msg`` in ``data_folder_in``, taken in sorted order;
  the first one sorted is the one a worker takes next.  One ``listdir`` per
  round, and the oldest file of each queue read, never moved.
* AMQP cannot show a message without taking it (``basic_get`` then a reject
  puts it back marked redelivered): nothing is peeked there.
"""

from __future__ import annotations

import os

from celerytop.control.queues.latency import Envelope, decode_envelope


def is_redis(channel) -> bool:
    """kombu's Redis channel (or a subclass: Sentinel), told by what this module uses of it."""
    return all(hasattr(channel, name) for name in ("conn_or_acquire", "_q_for_pri", "priority_steps", "sep"))


def is_filesystem(channel) -> bool:
    return isinstance(getattr(channel, "data_folder_in", None), str)


def sub_queues(channel, name: str) -> list[str]:
    """The Redis lists a queue is kept in: one per priority step, as kombu names them."""
    return list(dict.fromkeys(channel._q_for_pri(name, step) for step in channel.priority_steps))


class RedisRound:
    """Every queue's depth and each sub-queue's oldest message from one pipelined request."""

    def __init__(self, depths: dict, heads: dict, errors: dict):
        self.depths = depths  # name -> int
        self.heads = heads  # name -> tuple of Envelope|None, one per non-empty sub-queue
        self.errors = errors  # name -> one line, for a queue whose key is not a list

    @classmethod
    def read(cls, channel, names) -> "RedisRound":
        names = list(names)
        keys = [sub_queues(channel, name) for name in names]
        with channel.conn_or_acquire() as client:
            unprefixed = _unprefixed_lindex(client)
            pipe = client.pipeline(transaction=False)
            for queue_keys in keys:
                for key in queue_keys:
                    pipe.llen(key)
                    pipe.lindex(unprefixed + key, -1)
            replies = pipe.execute(raise_on_error=False)
        depths, heads, errors = {}, {}, {}
        at = 0
        for name, queue_keys in zip(names, keys):
            count, found = 0, []
            for _ in queue_keys:
                length, tail = replies[at], replies[at + 1]
                at += 2
                if isinstance(length, Exception):
                    errors[name] = str(length).splitlines()[0] if str(length) else type(length).__name__
                    continue
                count += int(length or 0)
                if length and tail is not None and not isinstance(tail, Exception):
                    found.append(decode_envelope(tail))
            depths[name] = count
            heads[name] = tuple(found)
        return cls(depths, heads, errors)


def _unprefixed_lindex(client) -> str:
    """The ``global_keyprefix`` to add by hand to LINDEX's key: kombu's prefixing client (5.x) only
    prefixes the commands it lists itself, and LINDEX (which kombu never sends) is not one of them."""
    prefix = getattr(client, "global_keyprefix", "") or ""
    listed = getattr(client, "PREFIXED_SIMPLE_COMMANDS", ())
    return "" if not prefix or "LINDEX" in listed else prefix


def filesystem_heads(folder: str, names) -> dict:
    """``{queue: (Envelope,)}`` for the oldest message file of each of ``names``; ``()`` when none is readable.

    One ``listdir``; files still being written (empty) are skipped, as the
    transport's reader skips them; a file taken between the listing and the
    read is skipped too (the next one is then the oldest).
    """
    wanted = {f"{name}.msg": name for name in names}
    heads: dict = {name: () for name in names}
    try:
        listing = sorted(os.listdir(folder))
    except OSError:
        return heads
    for filename in listing:
        name = wanted.get(filename.partition(".")[2])
        if name is None or heads[name]:
            continue
        envelope = _read_file(os.path.join(folder, filename))
        if envelope is not None:
            heads[name] = (envelope,)
    return heads


def _read_file(path: str) -> Envelope | None:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None  # taken by a worker meanwhile
    if not data:
        return None  # still being written
    return decode_envelope(data) or Envelope(None)
