"""The alert log: one JSON line per alert fired and per alert cleared, beside the audit log (``alerts.log``).

A wrapper script tails it to page someone.  It lives in the audit log's
folder (``--audit-log PATH`` moves both; ``--no-audit-log`` keeps both in
memory only).  A line that cannot be written sets :attr:`AlertLog.error`,
which the screen shows in red for the rest of the session: a lost line is always said.
"""

from __future__ import annotations

import json
import os
import time

from celerytop import paths
from celerytop.present.formatting import mask_secrets

FILE_NAME = "alerts.log"


def beside(audit_path: str) -> str:
    """The alert log's path in the folder of the audit log at ``audit_path``."""
    return os.path.join(os.path.dirname(os.path.abspath(audit_path)), FILE_NAME)


def _iso(when) -> str | None:
    return None if when is None else time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(when))


class AlertLog:
    """Appends fired and cleared alerts to ``path`` (None: write nothing)."""

    def __init__(self, path: str | None):
        self.path = path
        self.error = ""
        self.written = 0
        self.lost = 0  # lines that could not be written: said for the rest of the session

    def write(self, event: str, alert) -> None:
        """``event`` is 'fired' or 'cleared'; ``alert`` a model.alerts.Alert."""
        if not self.path:
            return
        record = {"time": _iso(alert.cleared_at if event == "cleared" else alert.fired_at), "event": event,
                  **alert.record()}
        try:
            paths.private_dir(os.path.dirname(os.path.abspath(self.path)))
            with paths.open_private(self.path, "a", encoding="utf-8") as fh:
                fh.write(mask_secrets(json.dumps(record, ensure_ascii=True)) + "\n")
        except OSError as exc:
            self.lost += 1
            self.error = (f"cannot write the alert log {self.path}: {exc.strerror or exc} "
                          f"({self.lost} line(s) lost this session)")
        else:
            self.written += 1
