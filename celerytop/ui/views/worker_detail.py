"""The worker detail view: a worker's heartbeat fields, their history, plus what ``inspect`` says about it."""

from __future__ import annotations

from celerytop.model import workerhistory
from celerytop.model.ratehistory import per_second
from celerytop.present import formatting
from celerytop.present.sparkline import sparkline
from celerytop.ui.views.detail import DetailView, TaskLink


class WorkerDetailView(DetailView):
    """A worker's heartbeat fields plus what ``inspect`` says, fetched in the background."""

    def __init__(self, model, hostname: str, ascii: bool = False):
        self.model = model
        self.hostname = hostname
        self.ascii = ascii  # sparklines in ASCII
        self.inspected = None  # {'stats': ..., 'active': [...], 'reserved': [...], 'active_queues': [...]}
        self.inspected_at = None
        self.error = ""
        super().__init__(f" Worker {formatting.sanitize(hostname)}")
        self.refresh()

    def refresh(self) -> None:
        self.anchors = {}
        lines: list = []
        row = next((r for r in self.model.worker_rows() if r.hostname == self.hostname), None)
        self.section(lines, "Worker (from heartbeats)")
        if row is None:
            self.block(lines, ["No longer known."])
        else:
            self.field(lines, "status", "online" if row.online else "offline",
                       "worker.online" if row.online else "worker.offline")
            self.field(lines, "active", row.active)
            self.field(lines, "processed", row.processed)
            self.field(lines, "load", formatting.format_loadavg(row.loadavg) if row.loadavg else "-")
            self.field(lines, "heartbeat", formatting.format_age(row.heartbeat_age) + " ago")
            self.field(lines, "software", row.software)
            self._history(lines)
        if self.error:
            self.section(lines, "inspect")
            self.block(lines, [formatting.sanitize(self.error)], "status.warn")
        elif self.inspected is None:
            self.section(lines, "inspect")
            self.block(lines, ["fetching stats, active and reserved tasks, queues…"])
        else:
            self._inspected(lines)
        self.set_lines(lines)

    def _history(self, lines) -> None:
        """Processed/s and the 1-minute load, per 10 s over the last minutes (model/workerhistory.py)."""
        minutes = workerhistory.SHOWN * workerhistory.BUCKET_SECONDS // 60
        self.section(lines, f"History (heartbeats, per {workerhistory.BUCKET_SECONDS} s, last {minutes} min, "
                            "newest right)")
        history = self.model.worker_history(self.hostname)
        if history is None:
            self.block(lines, ["no heartbeat with processed or load yet"])
            return
        processed, load = history
        self.field(lines, "processed/s", f"{sparkline(processed, self.ascii)}  "
                                         f"{per_second(processed, workerhistory.BUCKET_SECONDS):.1f}/s")
        latest = next((value for value in reversed(load) if value is not None), None)
        self.field(lines, "load 1m", f"{sparkline(load, self.ascii)}  "
                                     + ("-" if latest is None else f"{latest:.2f}"))

    def _inspected(self, lines) -> None:
        stats = _mapping(self.inspected.get("stats"))  # a worker's reply: any shape at all
        pool = _mapping(stats.get("pool"))
        broker = _mapping(stats.get("broker"))
        self.section(lines, f"Stats (inspect, fetched {formatting.format_clock(self.inspected_at)})")
        self.field(lines, "pid", stats.get("pid"))
        self.field(lines, "pool", pool.get("implementation"))
        self.field(lines, "concurrency", pool.get("max-concurrency"))
        processes = pool.get("processes")
        self.field(lines, "processes", ", ".join(str(p) for p in processes) if isinstance(processes, list) else "-")
        self.field(lines, "prefetch", stats.get("prefetch_count"))
        self.field(lines, "uptime", formatting.format_duration(stats.get("uptime")))
        self.field(lines, "transport", broker.get("transport"))
        totals = _mapping(stats.get("total"))
        self.section(lines, "Processed by task type")
        if not totals:
            self.block(lines, ["-"])
        for name, count in sorted(totals.items(), key=lambda item: -(formatting.as_seconds(item[1]) or 0)):
            self.field(lines, str(count), name)
        for title, key in (("Active tasks", "active"), ("Reserved tasks", "reserved")):
            self.section(lines, title)
            requests = [r for r in _sequence(self.inspected.get(key)) if isinstance(r, dict)]
            if not requests:
                self.block(lines, ["none"])
            for request in requests:
                uuid = str(request.get("id", ""))
                text = f"  {formatting.short_uuid(uuid)}  {formatting.sanitize(request.get('name'))}  " \
                       f"{formatting.args_summary(request.get('args'), request.get('kwargs'))}"
                lines.append(TaskLink(("row", text), uuid))
        self.section(lines, "Queues consumed")
        queues = [q for q in _sequence(self.inspected.get("active_queues")) if isinstance(q, dict)]
        if not queues:
            self.block(lines, ["-"])
        for queue in queues:
            exchange = _mapping(queue.get("exchange")).get("name", "")
            self.block(lines, [f"{formatting.sanitize(queue.get('name'))}  "
                               f"(exchange {formatting.sanitize(exchange)}, key {formatting.sanitize(queue.get('routing_key'))})"])


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _sequence(value) -> list:
    return value if isinstance(value, list) else []
