"""One queues-view sampling round on Redis with many queues: one pipelined request, against one per queue.

    python benchmarks/queue_rounds.py [--queues N] [--url redis://127.0.0.1:6379/14]

N queues (default 10,000) under a prefix of this run's own, every tenth
holding one message; then ``DepthProbe.measure`` (LLEN and LINDEX of every
queue and priority sub-queue in one pipeline) is timed against kombu's own
``Channel._size`` called per queue (what the probe did before: one request
per queue, as in flower PR #1493), and the requests each sent to Redis are
counted.  Only this run's keys are deleted at the end; nothing is flushed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import redis  # noqa: E402
from celery import Celery  # noqa: E402
from redis.connection import AbstractConnection  # noqa: E402

from celerytop.control.queues.probe import DepthProbe  # noqa: E402

ENVELOPE = ('{"body": "W10=", "content-encoding": "utf-8", "content-type": "application/json", '
            '"headers": {"id": "%s"}, "properties": {"body_encoding": "base64"}}')


class Requests:
    """Counts what redis-py writes to its sockets: one call per request (a pipeline is one)."""

    def __init__(self):
        self.count = 0
        self.real = AbstractConnection.send_packed_command
        counter = self

        def counting(connection, command, check_health=True):
            counter.count += 1
            return counter.real(connection, command, check_health)

        AbstractConnection.send_packed_command = counting

    def close(self):
        AbstractConnection.send_packed_command = self.real


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queues", type=int, default=10_000)
    parser.add_argument("--url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    names = [f"bench-rounds-{uuid.uuid4().hex[:8]}-{index}" for index in range(args.queues)]
    client = redis.Redis.from_url(args.url)
    pipe = client.pipeline(transaction=False)
    for name in names[::10]:
        pipe.lpush(name, ENVELOPE % name)
    pipe.execute()
    app = Celery("bench", broker=args.url, set_as_current=False)
    probe = DepthProbe(app)
    requests = Requests()
    try:
        probe.measure(names[:1])  # connect first: the round alone is timed
        requests.count = 0
        started = time.perf_counter()
        depths = probe.measure(names)
        pipelined = time.perf_counter() - started
        pipelined_requests = requests.count
        assert sum(d.messages for d in depths) == len(names[::10])
        channel = probe._chan()
        requests.count = 0
        started = time.perf_counter()
        total = sum(channel._size(name) for name in names)
        per_queue = time.perf_counter() - started
        assert total == len(names[::10])
        print(f"queues: {len(names)}")
        print(f"pipelined round: {pipelined:.3f} s, {pipelined_requests} request(s)")
        print(f"one request per queue: {per_queue:.3f} s, {requests.count} request(s)")
    finally:
        requests.close()
        probe.close()
        app.close()
        pipe = client.pipeline(transaction=False)
        for name in names[::10]:
            pipe.delete(name)
        pipe.execute()
        client.close()


if __name__ == "__main__":
    main()
