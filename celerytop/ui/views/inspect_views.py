"""``inspect`` and ``status`` replies as readable views, grouped by worker.

Each view says who was asked and who did not answer in time; tasks
(active, scheduled, reserved, revoked, query_task) are rows that open the
task detail view.  Everything a worker sent is sanitised before display.
"""

from __future__ import annotations

import time
from datetime import datetime

from celerytop.control.limits import TASK_LIMITS, limit_text, task_info
from celerytop.present import formatting
from celerytop.ui.views.detail import DetailView, TaskLink


class InspectView(DetailView):
    """The replies to one ``inspect METHOD`` (or ``status``), fetched in the background."""

    def __init__(self, method: str, args=(), destination=(), timeout: float = 1.0, expected=(), ask=None):
        self.method = method
        self._ask = ask  # ask(view): (re)send the question in the background
        self.args = tuple(args)
        self.destination = tuple(destination)
        self.timeout = timeout
        #: workers we expect to answer when no destination is given (those online)
        self.expected = tuple(expected)
        self.replies = None  # {hostname: reply} once answered
        self.error = ""
        self.answered_at = None
        what = " ".join(("inspect" if method != "status" else "", method, *self.args)).strip()
        where = ", ".join(self.destination) if self.destination else "all workers"
        super().__init__(f" {formatting.sanitize(what)} → {formatting.sanitize(where)}  (Ctrl-R asks again)")
        self.refresh()

    def reload(self) -> None:
        """Ctrl-R sends the question again."""
        if self._ask is not None:
            self._ask(self)
        else:
            self.refresh()

    def answered(self, replies: dict) -> None:
        self.replies, self.error, self.answered_at = dict(replies), "", time.time()
        self.refresh()

    def failed(self, error: str) -> None:
        self.replies, self.error = None, error
        self.refresh()

    def asking(self) -> None:
        self.replies, self.error = None, ""
        self.refresh()

    def missing(self) -> list:
        """Workers asked (or known online) that did not answer in time."""
        asked = self.destination or self.expected
        return sorted(host for host in asked if host not in (self.replies or {}))

    def refresh(self) -> None:
        self.anchors = {}
        lines: list = []
        if self.error:
            self.section(lines, "Error")
            self.block(lines, [formatting.sanitize(self.error)], "status.warn")
        elif self.replies is None:
            self.section(lines, "Waiting")
            self.block(lines, [f"asking the workers, up to {self.timeout:g} s…"])
        else:
            self._summary(lines)
            render = getattr(self, f"_render_{self.method}", self._render_generic)
            for host in sorted(self.replies):
                render(lines, host, self.replies[host])
        self.set_lines(lines)

    def _summary(self, lines) -> None:
        count = len(self.replies)
        self.section(lines, f"{count} worker(s) answered at {formatting.format_clock(self.answered_at)}")
        missing = self.missing()
        if missing:
            self.block(lines, [f"no reply within {self.timeout:g} s: " + ", ".join(map(formatting.sanitize, missing))],
                       "status.warn")
        elif not count:
            self.block(lines, [f"no worker replied within {self.timeout:g} s"], "status.warn")

    def _worker(self, lines, host: str, detail: str = "") -> None:
        self.section(lines, formatting.sanitize(host) + (f"  ({detail})" if detail else ""))

    # -- one renderer per method --------------------------------------------------------
    def _render_requests(self, lines, host, requests, scheduled=False) -> None:
        requests = requests if isinstance(requests, list) else []
        self._worker(lines, host, f"{len(requests)} task(s)")
        if not requests:
            self.block(lines, ["none"])
        now = time.time()
        for entry in requests:
            if not isinstance(entry, dict):
                continue
            request = entry.get("request", entry) if scheduled else entry
            if not isinstance(request, dict):
                continue
            uuid = str(request.get("id", ""))
            parts = [formatting.short_uuid(uuid), formatting.sanitize(request.get("name")) or "?"]
            if scheduled:
                parts.append(_eta(entry.get("eta"), now))
                if entry.get("priority") is not None:
                    parts.append(f"priority {formatting.sanitize(entry.get('priority'))}")
            elif isinstance(request.get("time_start"), (int, float)):
                parts.append("running " + formatting.format_duration(max(0.0, now - request["time_start"])))
            parts.append(_call(request))
            lines.append(TaskLink(("row", "  " + "  ".join(parts)), uuid))

    def _render_active(self, lines, host, reply) -> None:
        self._render_requests(lines, host, reply)

    def _render_reserved(self, lines, host, reply) -> None:
        self._render_requests(lines, host, reply)

    def _render_scheduled(self, lines, host, reply) -> None:
        self._render_requests(lines, host, reply, scheduled=True)

    def _render_revoked(self, lines, host, reply) -> None:
        ids = reply if isinstance(reply, list) else []
        self._worker(lines, host, f"{len(ids)} revoked")
        if not ids:
            self.block(lines, ["none"])
        for uuid in sorted(str(i) for i in ids):
            lines.append(TaskLink(("row", "  " + formatting.sanitize(uuid)), uuid))

    def _render_registered(self, lines, host, reply) -> None:
        names = reply if isinstance(reply, list) else []
        self._worker(lines, host, f"{len(names)} task types")
        rows = []
        for entry in names:
            name, fields = task_info(entry)
            limits = [limit_text(fields.pop(limit, None)) for limit in TASK_LIMITS]
            rows.append((name, *limits, " ".join(f"{k}={v}" for k, v in fields.items())))
        width = max((len(row[0]) for row in rows), default=4)
        if rows:
            self.block(lines, [f"{'NAME'.ljust(width)}  {'RATE LIMIT':<10}  {'TIME LIMIT':<10}  "
                               f"{'SOFT LIMIT':<10}  OTHER"], "column.head")
        for name, rate, hard, soft, other in sorted(rows):
            self.block(lines, [formatting.sanitize(f"{name.ljust(width)}  {rate:<10}  {hard:<10}  {soft:<10}  "
                                                   f"{other}".rstrip())])

    def _render_stats(self, lines, host, reply) -> None:
        stats = reply if isinstance(reply, dict) else {}
        self._worker(lines, host)
        general = {k: v for k, v in stats.items() if not isinstance(v, dict)}
        self._key_values(lines, "general", general)
        for key in sorted(k for k, v in stats.items() if isinstance(v, dict)):
            self._key_values(lines, key, stats[key])

    def _key_values(self, lines, title: str, mapping: dict) -> None:
        self.block(lines, [formatting.sanitize(title)], "help.key")
        if not mapping:
            self.block(lines, ["  -"])
        width = min(32, max((len(str(key)) for key in mapping), default=0))
        for key in sorted(mapping, key=str):
            value = mapping[key]
            if isinstance(value, dict):
                value = ", ".join(f"{k}={v}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0])))
            elif isinstance(value, (list, tuple)):
                value = ", ".join(str(v) for v in value)
            self.block(lines, [formatting.sanitize(f"  {str(key).ljust(width)}  {value}", limit=2000)])

    def _render_conf(self, lines, host, reply) -> None:
        conf = reply if isinstance(reply, dict) else {}
        self._worker(lines, host, f"{len(conf)} settings")
        width = min(40, max((len(str(k)) for k in conf), default=4))
        for key in sorted(conf, key=str):
            self.block(lines, [formatting.sanitize(f"{str(key).ljust(width)}  {conf[key]!r}", limit=2000)])

    def _render_active_queues(self, lines, host, reply) -> None:
        queues = reply if isinstance(reply, list) else []
        self._worker(lines, host, f"{len(queues)} queue(s)")
        self.block(lines, [f"{'QUEUE':<24} {'EXCHANGE':<20} {'TYPE':<8} {'ROUTING KEY':<20} FLAGS"],
                   "column.head")
        for queue in queues:
            if not isinstance(queue, dict):
                continue
            exchange = queue.get("exchange") if isinstance(queue.get("exchange"), dict) else {}
            flags = [flag for flag in ("durable", "exclusive", "auto_delete") if queue.get(flag)]
            text = (f"{str(queue.get('name')):<24} {str(exchange.get('name', '')):<20} "
                    f"{str(exchange.get('type', '')):<8} {str(queue.get('routing_key')):<20} {' '.join(flags)}")
            self.block(lines, [formatting.sanitize(text)])

    def _render_query_task(self, lines, host, reply) -> None:
        found = reply if isinstance(reply, dict) else {}
        self._worker(lines, host, f"{len(found)} found")
        for uuid, value in sorted(found.items()):
            state, request = (value + [None, None])[:2] if isinstance(value, list) else ("?", None)
            request = request if isinstance(request, dict) else {}
            text = f"  {formatting.sanitize(uuid)}  {formatting.sanitize(state):<9} " \
                   f"{formatting.sanitize(request.get('name'))}  " \
                   f"{_call(request)}"
            lines.append(TaskLink(("row", text), str(uuid)))

    def _render_report(self, lines, host, reply) -> None:
        text = reply.get("ok", reply) if isinstance(reply, dict) else reply
        self._worker(lines, host)
        self.block(lines, formatting.sanitize(str(text), keep_newlines=True, limit=50000).splitlines())

    def _render_status(self, lines, host, reply) -> None:
        text = reply.get("ok", reply) if isinstance(reply, dict) else reply
        self.block(lines, [f"{formatting.sanitize(host)}: OK {formatting.sanitize(text)}"], "worker.online")

    def _render_generic(self, lines, host, reply) -> None:
        self._worker(lines, host)
        self.block(lines, formatting.sanitize(repr(reply), limit=20000).splitlines())


def _call(request: dict) -> str:
    """Args and kwargs as the tasks pane shows them: JSON brings args as a list, a call has a tuple."""
    args = request.get("args")
    return formatting.args_summary(tuple(args) if isinstance(args, list) else args, request.get("kwargs"))


def _eta(eta, now: float) -> str:
    """'eta 12:30:05 (in 4m 10s)' from the ISO string a worker sends."""
    try:
        when = datetime.fromisoformat(str(eta)).timestamp()
    except (TypeError, ValueError):
        return f"eta {formatting.sanitize(eta)}"
    delta = when - now
    relative = f"in {formatting.format_duration(delta)}" if delta >= 0 else \
        f"{formatting.format_duration(-delta)} overdue"
    return f"eta {formatting.format_clock(when)} ({relative})"
