"""The audit view: this session's commands and every worker's reply, newest first."""

from __future__ import annotations

import urwid

from celerytop.present import formatting
from celerytop.ui.views.detail import LABEL_WIDTH, DetailView
from celerytop.ui.widgets.lazylist import LabelledRow, Row


class AuditView(DetailView):
    """This session's commands and every worker's reply, newest first."""

    def __init__(self, audit):
        self.audit = audit
        where = audit.path or "not written to a file (--no-audit-log)"
        super().__init__(f" Commands sent — audit log: {formatting.sanitize(where)}")
        self.refresh()

    def refresh(self) -> None:
        """Every line wraps: the reply that matters is often the longest one."""
        lines = []
        if not self.audit.entries:
            lines.append(Row(("row", "  No command sent yet in this session.")))
        for entry in reversed(self.audit.entries):
            if lines:
                lines.append(urwid.Text(""))
            title = f"{entry['time']}  {entry['command']}  → {entry['destination']}"
            lines.append(Row(("help.section", formatting.sanitize(title)), wrap="space"))
            replies = sorted(entry.get("replies", {}).items())
            labels = ["arguments", "sent"] + [host for host, _ in replies] + list(entry.get("no_reply", ()))
            # the widest label, unless one so long it goes on a line of its own anyway
            width = max([LABEL_WIDTH] + [n for n in map(len, labels) if n <= 3 * LABEL_WIDTH])

            def field(label, text, style="row"):
                lines.append(LabelledRow(formatting.sanitize(label), formatting.sanitize(text), width,
                                         text_style=style))

            field("arguments", repr(entry["arguments"]))
            for host, reply in replies:
                ok = "ok" in reply
                field(host, ("ok: " if ok else "error: ") + str(next(iter(reply.values()))),
                      "worker.online" if ok else "worker.offline")
            for host in entry.get("no_reply", ()):
                field(host, "no reply within the timeout", "status.warn")
            if entry.get("sent"):
                field("sent", entry["sent"])
        self.set_lines(lines)
