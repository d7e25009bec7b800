"""Exceptions as the one line a person reads: on the screen, in batch output, in files."""

from __future__ import annotations

from celerytop.present.formatting import sanitize


def one_line_error(exc: BaseException) -> str:
    """An exception as one readable line: 'ConnectionRefusedError: [Errno 111] ...'."""
    text = " ".join(str(exc).split()) or exc.__class__.__name__
    name = exc.__class__.__name__
    if not text.startswith(name):
        text = f"{name}: {text}"
    return sanitize(text, limit=200)
