"""Where celerytop keeps its files: ``$XDG_STATE_HOME/celerytop`` (by default
``~/.local/state/celerytop``): the log, crash reports, the audit log and the
command-prompt history."""

from __future__ import annotations

import os


def state_base() -> str:
    """$XDG_STATE_HOME/celerytop, not created."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "celerytop")


def state_dir() -> str:
    """$XDG_STATE_HOME/celerytop, created on demand."""
    folder = state_base()
    os.makedirs(folder, exist_ok=True)
    return folder
