"""Where celerytop keeps its files: ``$XDG_STATE_HOME/celerytop`` (by default
``~/.local/state/celerytop``): the log, crash reports, the audit log and the
command-prompt history.

They can hold what others should not read (commands typed, hostnames, task
arguments in a traceback), so the folder is made 0700 and every file 0600,
also when an older celerytop left them readable by others.
"""

from __future__ import annotations

import os
import stat

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def state_base() -> str:
    """$XDG_STATE_HOME/celerytop, not created."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "celerytop")


def state_dir() -> str:
    """$XDG_STATE_HOME/celerytop, created on demand, private to this user."""
    folder = state_base()
    private_dir(folder)
    return folder


def private_dir(folder: str) -> None:
    """Create ``folder`` (and its parents) if needed; the folder itself only its owner may open.

    An existing folder is narrowed only when it is ours: ``--audit-log /srv/shared/audit.log``
    must not lock others out of a folder they share.
    """
    os.makedirs(folder, mode=PRIVATE_DIR, exist_ok=True)
    if os.path.abspath(folder) == os.path.abspath(state_base()):
        _narrow(folder)


def open_private(path: str, mode: str = "a", **kwargs):
    """``open(path, mode)`` for a file only its owner may read: created 0600, narrowed if it was wider."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), PRIVATE_FILE)
    try:
        _narrow(fd)
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def _narrow(target) -> None:
    """Take from ``target`` (a path or an fd) whatever it allows group and others."""
    try:
        current = stat.S_IMODE(os.stat(target).st_mode)
        if current & 0o077:
            os.chmod(target, current & ~0o077)
    except OSError:  # not ours, or a file system without modes: nothing more we can do
        pass
