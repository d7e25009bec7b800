"""Exceptions as the one line a person reads: on the screen, in batch output, in files."""

from __future__ import annotations

from celerytop.present.formatting import sanitize


def one_line_error(exc: BaseException, *, with_type: bool = True, limit: int | None = 200) -> str:
    """An exception as one readable line: 'ConnectionRefusedError: [Errno 111] ...'.

    ``with_type=False`` gives the message alone ('[Errno 111] ...'), for text
    that already says what failed; a KeyError's key then shows without the
    quotes its ``str()`` adds.  An empty message is the class name either
    way.  ``limit`` cuts the line (None: never); text that is masked after
    this call needs None, as a cut inside a URL's password would hide it
    from the masker.
    """
    name = exc.__class__.__name__
    message = exc.args[0] if not with_type and isinstance(exc, KeyError) and exc.args else exc
    text = " ".join(str(message).split()) or name
    if with_type and not text.startswith(name):
        text = f"{name}: {text}"
    return sanitize(text, limit=limit)
