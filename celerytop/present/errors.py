"""Exceptions as the one line a person reads: on the screen, in batch output, in files."""

from __future__ import annotations

import re

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


#: What brokers and their clients call a refused login (RabbitMQ, Redis with a password or ACL users).
LOGIN_REFUSED = re.compile(r"AccessRefused|ACCESS_REFUSED|AuthenticationError|WRONGPASS|NOAUTH"
                           r"|invalid username-password|Authentication required")


def failure_text(exc: BaseException) -> str:
    """The one line the header (and batch mode's error) says about a failed connection;
    a refused login says first what to check, before the broker's own words."""
    text = one_line_error(exc)
    if LOGIN_REFUSED.search(f"{exc.__class__.__name__} {text}"):
        return sanitize(f"login refused, check the user and password: {text}", limit=200)
    return text
