"""What the model knows of messages still waiting in a queue: task-sent times by task id and by queue.

A mixin of :class:`~celerytop.model.cluster.ClusterModel` (like
``queries.py``): it reads ``_tasks`` under ``self.lock`` and keeps nothing
of its own.  The queues view asks it once per sampling round.
"""

from __future__ import annotations

from celery import states

PENDING = states.PENDING


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

        Only tasks the model saw sent (task-sent names the queue, or the
        routing key when no queue is named) and saw no later event for: a
        task a worker received, started or finished no longer waits.  One
        pass over the tasks in memory.
        """
        oldest: dict = {}
        with self.lock:
            for task in self._tasks.values():
                if task.state != PENDING or task.received is not None or task.started is not None:
                    continue
                sent = task.sent
                queue = task.queue or task.routing_key
                if not isinstance(sent, (int, float)) or not isinstance(queue, str) or not queue:
                    continue
                known = oldest.get(queue)
                if known is None or sent < known[0]:
                    oldest[queue] = (float(sent), task.uuid)
        return oldest
