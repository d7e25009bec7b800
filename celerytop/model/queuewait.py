"""What the model knows of messages still waiting in a queue: task-sent times by task id and by queue.

A mixin of :class:`~celerytop.model.cluster.ClusterModel` (like
``queries.py``): it reads ``_tasks`` under ``self.lock`` and keeps nothing
of its own.  The queues view (and ``--batch --queues``) asks it once per
sampling round, from the sampler's thread.
"""

from __future__ import annotations

from celery import states

PENDING = states.PENDING
#: Tasks read per taking of the model's lock.
CHUNK = 5000


class QueueWaitQueries:
    """Task-sent times for the queues view's "oldest" column."""

    def sent_times(self, task_ids) -> dict:
        """``{task id: task-sent timestamp}`` for those of ``task_ids`` whose task-sent event the model holds."""
        found = {}
        with self.lock:
            tasks = self._tasks
            for task_id in task_ids:
                task = tasks.get(task_id)
                sent = task.sent if task is not None else None
                if isinstance(sent, (int, float)):
                    found[task_id] = float(sent)
        return found

    def oldest_waiting_sent(self) -> dict:
        """``{queue: (task-sent timestamp, task id)}``: the earliest task sent to each queue not yet received.

        Only tasks the model saw sent to a named queue (celery's task-sent
        says ``queue``; a routing key alone is not taken for a queue's name:
        on a topic exchange it is not one) and saw no later event for: a
        task a worker received, started or finished no longer waits.

        Read in chunks of :data:`CHUNK` tasks, the lock taken for each (a
        few ms), not for one pass over 100,000 tasks (200 ms of ingest held
        up every round): each task is read whole, and an event applied
        between chunks is as if it came just before or after this read.
        Nothing to scan when no task is PENDING (no task-sent events).
        """
        oldest: dict = {}
        with self.lock:
            if not self.state_counts[PENDING]:
                return oldest
            tasks = list(self._tasks.values())
        for start in range(0, len(tasks), CHUNK):
            with self.lock:
                for task in tasks[start:start + CHUNK]:
                    if task.state != PENDING or task.received is not None or task.started is not None:
                        continue
                    sent = task.sent
                    queue = task.queue
                    if not isinstance(sent, (int, float)) or not isinstance(queue, str) or not queue:
                        continue
                    known = oldest.get(queue)
                    if known is None or sent < known[0]:
                        oldest[queue] = (float(sent), task.uuid)
        return oldest
