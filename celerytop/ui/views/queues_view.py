"""The queues view and the sampler behind it: depth, consumers and the oldest
waiting message's age of every queue, a sparkline and a trend; purge and
migrate after a confirmation; rows sort (``<`` ``>`` ``I``), filter by name
(``/``, a glob, else a substring) and Enter filters the tasks pane to
``queue:`` the queue.

Sampling starts the first time the view opens and goes on in the
background (one thread, its own broker connection), so the sparkline has
history when the view is opened again.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from celerytop.control.queues import latency
from celerytop.control.queues import migrate as migration
from celerytop.control.queues.names import consumers_by_queue, names_to_measure, queue_names
from celerytop.control.queues.probe import DepthProbe, QueueDepth
from celerytop.control.queues.trend import DepthHistory
from celerytop.present import formatting, table
from celerytop.present.errors import one_line_error
from celerytop.ui.views.table_view import TableView
from celerytop.ui.views.types_view import name_filter
from celerytop.ui.widgets.lazylist import Row
from celerytop.ui.widgets.panes import ItemRow

#: Seconds between depth samples.
SAMPLE_EVERY = 3.0
#: Ask workers which queues they consume every this many samples.
ASK_QUEUES_EVERY = 5
SPARK_WIDTH = 24


class QueueSample(NamedTuple):
    """What one sampling round on the sampler thread hands back to the UI thread."""

    replies: dict | None  # the workers' active_queues replies; None when they were not asked this round
    depths: list[QueueDepth]
    sampled_at: float  # time.time()
    oldest: dict  # name -> latency.Oldest or None (unknown, or nothing waits)
    round_seconds: float | None  # how long the broker took to answer the round


class QueueMonitor:
    """Samples every queue's depth on a thread of its own and keeps, on the UI thread, what the view shows.

    Only :meth:`_sample`, :meth:`_depths` and the purge/migrate actions run on
    the sampler thread; they read nothing the UI thread rewrites (the names
    to sample are handed over as a tuple).
    """

    def __init__(self, control, talk, allowed, on_change, call_later, interval: float = SAMPLE_EVERY, model=None):
        self.control = control  # None: not connected to an app
        self.model = model  # the ClusterModel: task-sent times for the oldest message's age (None: none known)
        self.talk = talk  # a Conversation
        self.allowed = allowed  # allowed(what) -> bool: says why not (read-only, broker down)
        self.on_change = on_change  # () -> None: a sample or an answer arrived
        self.call_later = call_later  # call_later(seconds, fn): on the UI thread, while the loop runs
        self.interval = interval
        self.history = DepthHistory()
        self.depths: dict = {}  # name -> QueueDepth
        self.consumers: dict = {}  # name -> [hostname]
        self.names: list = []
        self.error = ""
        self.sampled_at = None
        self.oldest: dict = {}  # name -> latency.Oldest or None
        self.round_seconds = None
        self.running = False
        self._samples = 0
        self._learning = False
        self._workers_asked = False  # a sampling round has had the workers' active_queues replies
        self._probe = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="celerytop-queues")

    def app_queue_names(self) -> list:
        return queue_names(self.control.app, {}) if self.control is not None else []

    def known_names(self) -> list:
        return sorted(set(self.names) | set(self.app_queue_names()))

    def learn_names(self) -> None:
        """Ask the workers which queues they consume (for completion), unless sampling has asked them."""
        if (self.running and self._workers_asked) or self.control is None or self._learning:
            return
        self._learning = True
        future = self.control.submit(self.control.inspect, "active_queues")
        future.add_done_callback(lambda f: self.talk.deliver(self._learned, f))

    def _learned(self, future) -> None:
        self._learning = False
        try:
            replies = future.result()
        except Exception:  # noqa: BLE001 - completion is a convenience
            return
        self.consumers = consumers_by_queue(replies)
        self.names = sorted(set(self.names) | set(queue_names(self.control.app, replies)))

    # -- sampling ----------------------------------------------------------------------
    def start(self, ask_workers_first: bool = True) -> None:
        """Sample now and every SAMPLE_EVERY s.  ``ask_workers_first=False`` (sampling for the alert rules, from
        launch): the first rounds measure the app's queues only, so an ``active_queues`` broadcast, which holds
        the control thread up to --timeout, does not go before the first picture's ping."""
        if self.running or self.control is None:
            return
        self.running = True
        if not ask_workers_first:
            self._samples = 1  # the workers are asked at round ASK_QUEUES_EVERY (learn_names asks before, if needed)
        self.sample_now()

    def sample_now(self) -> None:
        # the sampler thread gets the names as they are now, in a tuple of its own: the UI thread
        # rebinds self.names whenever a sample or a worker's reply arrives
        future = self._executor.submit(self._sample, tuple(self.names), self._samples % ASK_QUEUES_EVERY == 0)
        self._samples += 1
        future.add_done_callback(lambda f: self.talk.deliver(self._measured, f))

    def _probe_for(self) -> DepthProbe:
        """The probe, created on first use; called on the sampler thread only (the probe is confined to it)."""
        if self._probe is None:
            self._probe = DepthProbe(self.control.app)
        return self._probe

    def _depths(self, names) -> list[QueueDepth]:
        """On the sampler thread: the depth of each of ``names``, in order."""
        return self._probe_for().measure(names)

    def _sample(self, known: tuple, ask_workers: bool) -> QueueSample:
        """On the sampler thread: the queues in ``known``, those the app and the workers name and those tasks were
        sent to (task-sent events), measured, with the age of each one's oldest message."""
        replies = None
        if ask_workers:
            # through the control executor: two broadcasts in flight at once lose replies
            replies = self.control.submit(self.control.inspect, "active_queues").result()
        waiting = self.model.oldest_waiting_sent() if self.model is not None else {}
        depths = self._depths(names_to_measure(self.control.app, replies if replies is not None else {}, known,
                                               waiting))
        oldest = latency.oldest_ages(depths, self.model, waiting) if self.model is not None else {}
        return QueueSample(replies, depths, time.time(), oldest, getattr(self._probe_for(), "last_round", None))

    def _measured(self, future) -> None:
        try:
            sample = future.result()
        except Exception as exc:  # noqa: BLE001 - shown in the view, sampling goes on
            self.error = one_line_error(exc)
        else:
            self.error = ""
            if sample.replies is not None:
                self._workers_asked = True
                self.consumers = consumers_by_queue(sample.replies)
            for depth in sample.depths:
                self.depths[depth.name] = depth
                if depth.messages is not None:
                    self.history.add(depth.name, sample.sampled_at, depth.messages)
            self.names = sorted(self.depths)
            self.sampled_at = sample.sampled_at
            self.oldest.update(sample.oldest)
            self.round_seconds = sample.round_seconds
        self.on_change()
        if self.running:
            self.call_later(self.interval, self.sample_now)

    def consumer_count(self, name: str):
        """The broker's count where it has one (AMQP), else the workers consuming it."""
        depth = self.depths.get(name)
        if depth is not None and depth.consumers is not None:
            return depth.consumers
        return len(self.consumers.get(name, []))

    def consumer_names(self, name: str) -> str:
        return ", ".join(self.consumers.get(name, []))

    # -- purge and migrate ---------------------------------------------------------------
    def purge(self, names: list) -> None:
        """Count the messages, ask, then purge exactly ``names``."""
        if not self.allowed("purge"):
            return
        future = self._executor.submit(self._depths, tuple(names))
        future.add_done_callback(lambda f: self.talk.deliver(self._confirm_purge, names, f))

    def _confirm_purge(self, names, future) -> None:
        try:
            depths = future.result()
        except Exception as exc:  # noqa: BLE001
            self.talk.say(f"purge: cannot count the messages: {one_line_error(exc)}", seconds=10)
            return
        total = sum(d.messages or 0 for d in depths)
        lines = [f"  {formatting.sanitize(d.name)}: "
                 + (f"{d.messages} message(s)" if d.messages is not None else formatting.sanitize(d.error))
                 for d in depths]
        lines.append("Every other queue is left alone. Deleted messages cannot be recovered.")
        title = f"Purge {total} message(s) from {', '.join(names)}?"
        self.talk.confirm(title, lines, lambda: self._purge(names))

    def _purge(self, names) -> None:
        def action():
            removed = [(name, self._probe_for().purge(name)) for name in names]
            return "removed " + ", ".join(f"{count} from {name}" for name, count in removed)

        future = self._executor.submit(self.control.run_on_broker, "purge", {"queues": names}, action)
        future.add_done_callback(lambda f: self.talk.deliver(self._done, f))

    def migrate(self, url: str, names: list) -> None:
        if not self.allowed("migrate"):
            return
        names = names or self.app_queue_names()
        future = self._executor.submit(self._depths, tuple(names))
        future.add_done_callback(lambda f: self.talk.deliver(self._confirm_migrate, url, names, f))

    def _confirm_migrate(self, url, names, future) -> None:
        try:
            depths = future.result()
        except Exception as exc:  # noqa: BLE001
            self.talk.say(f"migrate: cannot count the messages: {one_line_error(exc)}", seconds=10)
            return
        shown = formatting.mask_url(url)
        lines = [f"  {formatting.sanitize(d.name)}: {d.messages if d.messages is not None else '?'} message(s)"
                 for d in depths]
        lines.append(f"They are moved to {shown} and removed from this broker.")
        self.talk.confirm(f"Migrate {', '.join(names)} to {shown}?", lines, lambda: self._migrate(url, names))

    def _migrate(self, url, names) -> None:
        shown = formatting.mask_url(url)

        def progress(count):
            self.talk.deliver(self.talk.say, f"migrate: {count} message(s) moved to {shown}…", 30)

        def action():
            moved = migration.migrate(self.control.app, url, names, progress=progress)
            return f"moved {moved} message(s) from {', '.join(names)} to {shown}"

        arguments = {"url": shown, "queues": names}
        future = self._executor.submit(self.control.run_on_broker, "migrate", arguments, action)
        future.add_done_callback(lambda f: self.talk.deliver(self._done, f))

    def _done(self, future) -> None:
        try:
            outcome = future.result()
        except Exception as exc:  # noqa: BLE001
            self.talk.say(one_line_error(exc), seconds=15)
            return
        self.talk.say(outcome.summary(), seconds=15)
        if self.running:
            self.sample_now()

    def close(self) -> None:
        self.running = False
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._probe is not None:
            try:
                self._probe.close()
            except Exception:  # noqa: BLE001 - closing at exit
                pass



#: The columns ``<`` ``>`` sort by, in order, and whether each sorts largest first.
SORTS = (("queue", False), ("messages", True), ("consumers", True), ("oldest", True))


class QueuesView(TableView):
    context = "queues"
    columns = SORTS

    def __init__(self, monitor: QueueMonitor, clock=time.time, ascii: bool = False):
        self.monitor = monitor
        self.clock = clock
        self.ascii = ascii  # the sort arrow and the sparklines in ASCII
        super().__init__("")

    def natural_descending(self, index: int) -> bool:
        return SORTS[index][1]

    def _set_title(self, shown: int) -> None:
        title = " Queues"
        if self.filter_text:  # first: the title is cut on the right
            title += f"  / {formatting.sanitize(self.filter_text)}: {shown} of {len(self.monitor.names)} shown"
        title += (f"  (depth and oldest message every {self.monitor.interval:g} s; < > sort, / filters, "
                  "Enter lists the queue's tasks, p purges the queue under the cursor)")
        self._title.set_text(("pane.title.focus", title))

    def selected_queue(self):
        """The queue under the cursor (None on a heading or note line)."""
        return self.selected_item()

    def reload(self) -> None:
        """Ctrl-R samples now."""
        self.monitor.sample_now()

    def _sorted(self, now: float) -> list:
        monitor, column = self.monitor, SORTS[self.sort][0]
        keys = {
            "queue": lambda name: name.lower(),
            # unmeasured (None) sorts as the smallest
            "messages": lambda name: (monitor.depths[name].messages is not None, monitor.depths[name].messages or 0),
            "consumers": monitor.consumer_count,
            "oldest": lambda name: latency.sort_key(monitor.oldest.get(name), monitor.depths[name].messages, now),
        }
        wanted = name_filter(self.filter_text)
        return sorted((name for name in monitor.names if wanted(name)), key=keys[column], reverse=self.descending)

    def refresh(self) -> None:
        monitor = self.monitor
        lines: list = []
        self._set_title(0)
        if monitor.error:
            self.block(lines, [f"cannot measure: {formatting.sanitize(monitor.error)}"], "status.warn")
        if monitor.sampled_at is None:
            self.block(lines, ["measuring…"])
            self.set_lines(lines)
            return
        now = self.clock()
        width = max([5] + [len(name) for name in monitor.names])
        arrow = table.sort_arrow(self.descending, self.ascii)
        titles = {column: column.upper() + (arrow if index == self.sort else "")
                  for index, (column, _) in enumerate(SORTS)}
        # what matters most comes first: a narrow terminal clips the consumers' names
        head = (f"  {titles['queue'].ljust(width)}  {titles['messages']:>10}  {titles['consumers']:>11}  "
                f"{titles['oldest']:<14}  {'DEPTH':<{SPARK_WIDTH}}  {'TREND':<30}  CONSUMED BY")
        lines.append(Row(("column.head", head)))
        shown = self._sorted(now)
        self._set_title(len(shown))
        if not shown and self.filter_text:
            lines.append(Row(("row", "  No queue matches the filter (/ then Enter on nothing clears it).")))
        for name in shown:
            depth = monitor.depths[name]
            messages = f"{depth.messages:>10}" if depth.messages is not None else f"{'?':>10}"
            trend = monitor.history.trend(name) if depth.messages is not None else depth.error
            spark = monitor.history.sparkline(name, SPARK_WIDTH, self.ascii)
            oldest = latency.describe(monitor.oldest.get(name), depth.messages, now, formatting.format_duration)
            markup = [
                ("row", f"  {formatting.sanitize(name).ljust(width)}  {messages}  "
                        f"{monitor.consumer_count(name):>11}  "),
                ("status.warn" if oldest == latency.UNKNOWN else "row", f"{oldest:<14}"),
                ("help.key", f"  {spark:>{SPARK_WIDTH}}"),
                ("status.warn" if depth.error else "row", f"  {formatting.sanitize(trend):<30}  "),
                ("row", formatting.sanitize(monitor.consumer_names(name))),
            ]
            lines.append(ItemRow(markup, name))
        lines.append(Row(("row", "")))
        took = "" if monitor.round_seconds is None else f"; round {monitor.round_seconds:.2f} s"
        lines.append(Row(("row", f"  sampled {formatting.format_clock(monitor.sampled_at)}{took}; "
                                 ":purge -Q NAME and :migrate URL work from the prompt too")))
        self.set_lines(lines)
        self._focus_a_queue()

    def _focus_a_queue(self) -> None:
        """Keep the cursor on a queue's row (not the heading, nor past the rows a filter left), so Enter and p
        always act on one."""
        rows = [index for index, widget in enumerate(self.walker) if isinstance(widget, ItemRow)]
        focus = self.walker.focus
        if rows and focus not in rows:
            self.walker.set_focus(rows[0] if focus < rows[0] else rows[-1])
