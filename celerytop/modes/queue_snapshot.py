"""``--batch --queues``: each queue's depth and oldest waiting message's age per snapshot, as in the queues view.

Off by default: each snapshot costs the broker a round (one pipelined
request on Redis, one passive declare per queue on RabbitMQ, a folder
listing on the filesystem).  The queues measured are those the app's
configuration names, those the task-sent events seen so far were sent
to and those measured in an earlier snapshot; workers are not asked (a broadcast per snapshot would cost more than
the round itself).  The figures come from the same probe and the same age
rules as the screen (control/queues/).
"""

from __future__ import annotations

import time

from celerytop.control.queues import latency
from celerytop.control.queues.names import names_to_measure
from celerytop.control.queues.probe import DepthProbe
from celerytop.present.formatting import format_duration, sanitize


class QueueSnapshots:
    """Measures the queues for one batch snapshot; owns its probe (and its connection) until :meth:`close`."""

    def __init__(self, app, model, clock=time.time):
        self.app, self.model, self.clock = app, model, clock
        self.probe = DepthProbe(app)
        self.known: set = set()  # the queues measured so far: measured again, as the screen does

    def __call__(self) -> dict:
        """``{"round_seconds": s, "queues": [{name, messages, consumers, error, oldest_age, oldest_source,
        oldest_task_id}, ...]}``; ``oldest_age`` is null where unknown or nothing waits."""
        waiting = self.model.oldest_waiting_sent()
        depths = self.probe.measure(names_to_measure(self.app, {}, self.known, waiting))
        self.known.update(depth.name for depth in depths)
        ages = latency.oldest_ages(depths, self.model, waiting)
        now = self.clock()
        queues = []
        for depth in depths:
            oldest = ages.get(depth.name)
            queues.append({
                "name": depth.name, "messages": depth.messages, "consumers": depth.consumers, "error": depth.error,
                "oldest_age": round(oldest.age(now), 3) if oldest is not None else None,
                "oldest_source": oldest.source if oldest is not None else None,
                "oldest_task_id": oldest.task_id if oldest is not None else None,
                "oldest": latency.describe(oldest, depth.messages, now, format_duration),
            })
        round_seconds = self.probe.last_round
        return {"round_seconds": round(round_seconds, 4) if round_seconds is not None else None, "queues": queues}

    def close(self) -> None:
        self.probe.close()


def text_lines(measured: dict) -> list:
    """The batch text's queues section: one line a queue."""
    queues = measured["queues"]
    width = max([5] + [len(sanitize(q["name"])) for q in queues])
    took = measured["round_seconds"]
    lines = [f" Queues  {len(queues)} measured" + (f", round {took:.2f} s" if took is not None else ""),
             f" {'QUEUE'.ljust(width)}  {'MESSAGES':>8}  OLDEST"]
    for queue in queues:
        messages = "?" if queue["messages"] is None else str(queue["messages"])
        oldest = queue["oldest"] if queue["messages"] is not None else sanitize(queue["error"])
        lines.append(f" {sanitize(queue['name']).ljust(width)}  {messages:>8}  {oldest}")
    return lines
