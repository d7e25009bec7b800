"""The audit log: one JSON line per command sent to the cluster.

Who (user@host), when, what (command and arguments), where (destination),
and what came back (each worker's reply, and who did not answer).  A file
under the XDG state directory unless ``--audit-log PATH`` or
``--no-audit-log`` says otherwise; the UI shows the session's entries.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import threading
import time

from celerytop import paths
from celerytop.present.formatting import mask_secrets


def default_path() -> str:
    return os.path.join(paths.state_base(), "audit.log")


def _user() -> str:
    try:
        return f"{getpass.getuser()}@{socket.gethostname()}"
    except Exception:  # noqa: BLE001 - no user name is no reason to refuse a command
        return f"uid{os.getuid()}@{socket.gethostname()}"


class AuditLog:
    """Appends entries to ``path`` (None: keep them in memory only)."""

    def __init__(self, path: str | None):
        self.path = path
        self.entries: list = []  # this session's, newest last
        self.error = ""
        self._lock = threading.Lock()
        self._user = _user()

    def record(self, command: str, arguments: dict, destination, outcome: dict) -> dict:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "user": self._user,
            "command": command,
            "arguments": arguments,
            "destination": list(destination) if destination else "all workers",
            **outcome,
        }
        entry = _masked(entry)  # the view shows these, the file keeps them: neither a password
        with self._lock:
            self.entries.append(entry)
            if self.path:
                try:
                    paths.private_dir(os.path.dirname(os.path.abspath(self.path)))
                    with paths.open_private(self.path, "a", encoding="utf-8") as fh:
                        fh.write(mask_secrets(json.dumps(entry, default=repr)) + "\n")
                except OSError as exc:
                    self.error = f"cannot write the audit log {self.path}: {exc.strerror or exc}"
        return entry


def _masked(value):
    """``value`` with every string in it passed through :func:`mask_secrets`."""
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, dict):
        return {_masked(key): _masked(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_masked(item) for item in value]
        return tuple(items) if isinstance(value, tuple) else items
    return value
