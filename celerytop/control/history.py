"""The command prompt's history: newest last, kept across runs in a file
under the state directory, one command per line.

A line is kept with every URL's password masked (``migrate redis://:**@host``):
the file outlives the session, a typed password must not."""

from __future__ import annotations

import os

from celerytop import paths
from celerytop.present.formatting import mask_secrets

#: Lines kept in the file; older ones are dropped when it is rewritten.
LIMIT = 500


def default_path() -> str:
    return os.path.join(paths.state_base(), "prompt_history")


class History:
    """Lines typed at the ``:`` prompt, and a cursor for Up/Down."""

    def __init__(self, path: str | None, limit: int = LIMIT):
        self.path = path
        self.limit = limit
        self.lines: list = self._load()
        self.error = ""

    def _load(self) -> list:
        if not self.path:
            return []
        try:
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                lines = [line.rstrip("\n") for line in fh]
        except OSError:
            return []
        return [line for line in lines if line.strip()][-self.limit:]

    def add(self, line: str) -> None:
        line = mask_secrets(line.strip())
        if not line or "\n" in line:
            return
        if line in self.lines:  # one entry per command: the latest use wins
            self.lines.remove(line)
        self.lines.append(line)
        del self.lines[:-self.limit]
        self._save()

    def _save(self) -> None:
        if not self.path:
            return
        try:
            paths.private_dir(os.path.dirname(os.path.abspath(self.path)))
            temporary = f"{self.path}.{os.getpid()}.tmp"
            with paths.open_private(temporary, "w", encoding="utf-8") as fh:
                fh.writelines(line + "\n" for line in self.lines)
            os.replace(temporary, self.path)  # a second celerytop never reads half a file
        except OSError as exc:
            self.error = f"cannot save the prompt history {self.path}: {exc.strerror or exc}"

    def browser(self) -> "HistoryBrowser":
        return HistoryBrowser(self.lines)


class HistoryBrowser:
    """Up/Down through the lines, as a shell does: what was typed comes back past the newest."""

    def __init__(self, lines: list):
        self.lines = list(lines)
        self.position = len(self.lines)
        self.typed = ""

    def older(self, current: str) -> str | None:
        if self.position == len(self.lines):
            self.typed = current
        if self.position == 0:
            return None
        self.position -= 1
        return self.lines[self.position]

    def newer(self) -> str | None:
        if self.position >= len(self.lines):
            return None
        self.position += 1
        return self.typed if self.position == len(self.lines) else self.lines[self.position]
