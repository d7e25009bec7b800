"""The screen's alerts: the engine evaluated at each refresh, each fire and clear logged, the bell rung once.

What the header says (the headline in red, and the alert log's error while
lines are lost) comes from :meth:`ScreenAlerts.headline` and
:meth:`ScreenAlerts.log_error`, two of the header notices' alarms.  The queue
rules read the queues view's sampler (ui/views/queues_view.py): with either
queue rule on and a broker to ask, sampling starts with the screen instead
of with the view's first opening.
"""

from __future__ import annotations

from celerytop.model.alerts import gather

#: The queue rules: with one on, the screen samples queue depths from the start.
QUEUE_RULES = frozenset(("queue-depth", "queue-growing"))


class ScreenAlerts:
    """The engine, the alert log and the bell, for the UI thread."""

    def __init__(self, engine, log, bell: bool = True, growing_span: float = 0.0, schedule=None):
        self.engine = engine  # a model.alerts.AlertEngine
        self.log = log  # a control.alertlog.AlertLog
        self.bell = bell
        self.growing_span = growing_span  # seconds of depth history the queue-growing rule needs
        self.monitor = None  # the queues view's QueueMonitor, once the screen hands it over
        self.schedule = schedule  # model/beat.py's BeatPlan, for the missed-runs rule

    @property
    def samples_queues(self) -> bool:
        return any(rule.name in QUEUE_RULES for rule in self.engine.rules)

    def watch_queues(self, monitor) -> None:
        """Start sampling queue depths now (the queue rules need them); keep enough history for 'growing'."""
        if not self.samples_queues or monitor.control is None:
            return
        self.monitor = monitor
        monitor.history.window = max(monitor.history.window, self.growing_span + 2 * monitor.interval)
        monitor.start(ask_workers_first=False)  # the seeding round's ping goes first

    def _queue_facts(self):
        monitor = self.monitor
        if monitor is None or monitor.sampled_at is None:
            return None
        return {name: monitor.history.samples(name) for name in monitor.depths}

    def check(self, model, ring) -> None:
        """Evaluate the rules now (the model's clock); log what started and cleared; ``ring()`` once if any started."""
        started, cleared = self.engine.evaluate(gather(model, model.now(), self._queue_facts(), self.schedule))
        for alert in started:
            self.log.write("fired", alert)
        for alert in cleared:
            self.log.write("cleared", alert)
        if started and self.bell:
            ring()

    def headline(self) -> str:
        return self.engine.headline()

    def log_error(self) -> str:
        return self.log.error
