"""Text shown to a person: sanitising, fitting to a width, times and durations.

Everything a worker sends (task names, args, results, tracebacks, hostnames)
passes through :func:`sanitize` before it reaches any output, so escape
sequences and control characters are shown as harmless ``\\xNN`` text instead
of being interpreted by the terminal.  Pure functions, no urwid: the TUI,
batch output and dumps share them.
"""

from __future__ import annotations

import math
import re
import time
import unicodedata

#: Longest string kept for one cell or summary before fitting; a 1 MB args
#: repr must not cost a megabyte of work per frame.
MAX_FIELD = 2000

# Categories shown as escapes: controls, format characters (bidi overrides,
# zero-width joiners move or hide text), surrogates, private use, unassigned,
# line and paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def sanitize(value: object, keep_newlines: bool = False, limit: int | None = MAX_FIELD) -> str:
    """Return ``value`` as text that is safe to write to a terminal.

    Control and invisible characters become visible escapes; with
    ``keep_newlines`` line breaks survive (tracebacks), otherwise a newline
    becomes ``\\n`` and a tab a space so a table row stays one row.
    ``limit`` truncates very long values (with an ellipsis) before any work.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    if text.isprintable() and not (keep_newlines and "\r" in text):
        return text
    out = []
    for char in text:
        if char == "\n" and keep_newlines:
            out.append(char)
        elif char == "\t":
            out.append("    " if keep_newlines else " ")
        elif char == " " or char.isprintable():
            out.append(char)
        elif unicodedata.category(char) in _UNSAFE_CATEGORIES or not char.isprintable():
            out.append(_escape(char))
        else:
            out.append(char)
    return "".join(out)


def char_width(char: str) -> int:
    """Columns a character takes in a terminal (0, 1 or 2)."""
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def display_width(text: str) -> int:
    if text.isascii():
        return len(text)
    return sum(char_width(c) for c in text)


def fit(text: str, width: int, align: str = "left") -> str:
    """Clip or pad ``text`` to exactly ``width`` columns (an ellipsis marks a cut)."""
    if width <= 0:
        return ""
    if text.isascii():
        if len(text) > width:
            text = text[: width - 1] + "…"
        pad = width - len(text)
    else:
        used, out = 0, []
        total = display_width(text)
        budget = width if total <= width else width - 1
        for char in text:
            w = char_width(char)
            if used + w > budget:
                break
            out.append(char)
            used += w
        if total > width:
            out.append("…")
            used += 1
        text, pad = "".join(out), width - used
    return " " * pad + text if align == "right" else text + " " * pad


def fit_dotted(text: str, width: int, align: str = "left") -> str:
    """Like :func:`fit`, but a dotted name too long for ``width`` loses its start:
    ``proj.services.billing.charge`` in 16 columns is ``…billing.charge``, the end
    being what tells one task from its neighbours.  Cut at a dot when that keeps
    at least half the width; text without dots is cut at the end as usual."""
    if width <= 1 or "." not in text or display_width(text) <= width:
        return fit(text, width, align)
    kept, used = [], 0
    for char in reversed(text):
        w = char_width(char)
        if used + w > width - 1:
            break
        kept.append(char)
        used += w
    tail = "".join(reversed(kept))
    dot = tail.find(".")
    if dot != -1 and text[-len(tail) - 1] != "." and display_width(tail[dot + 1:]) >= width // 2:
        tail = tail[dot + 1:]
    elif tail.startswith("."):
        tail = tail[1:]
    return fit("…" + tail, width, align)


def short_uuid(uuid: str | None, length: int = 8) -> str:
    return sanitize(uuid or "")[:length]


#: Longest duration shown (about 2,700 years); beyond it a time is not one.
MAX_DURATION = 1e11


def as_seconds(value) -> float | None:
    """``value`` as a finite float, or None for anything else (a string, NaN, infinity, a list, True).

    What a worker sends in a time field is not trusted to be a time: every
    formatter goes through this.
    """
    if type(value) is bool:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return seconds if -math.inf < seconds < math.inf else None


def format_clock(timestamp: float | None) -> str:
    """Local wall-clock time of an event, HH:MM:SS."""
    if timestamp is None or timestamp == 0:
        return "-"
    seconds = as_seconds(timestamp)
    if seconds is None:
        return "?"
    try:
        return time.strftime("%H:%M:%S", time.localtime(seconds))
    except (ValueError, OverflowError, OSError):
        return "?"


def format_clock_ms(timestamp) -> str:
    """HH:MM:SS.mmm, or '?' for what is not a time."""
    seconds = as_seconds(timestamp)
    clock = format_clock(seconds)
    if seconds is None or len(clock) != 8:  # '-' or '?'
        return "?"
    return f"{clock}.{int(seconds * 1000) % 1000:03d}"


def format_duration(seconds: float | None, *, estimate: bool = False) -> str:
    """A compact duration: 850µs, 12ms, 1.25s, 2m03s, 1h02m, 3d04h.

    ``estimate=True`` is for a forecast (how long until a queue is empty):
    ``~45 s``, ``~2 min``, ``~3 h``, ``~2 d``, whole units marked '~', as
    more digits would claim a precision a forecast does not have.
    """
    if estimate:
        return _estimated_duration(seconds)
    if seconds is None:
        return "-"
    s = as_seconds(seconds)
    if s is None or s < 0 or s > MAX_DURATION:  # not a number, clock skew, or not a duration
        return "?"
    if s < 0.001:
        return f"{s * 1e6:.0f}µs"
    if s < 1:
        return f"{s * 1000:.0f}ms"
    if s < 10:
        return f"{s:.2f}s"
    if s < 60:
        return f"{s:.1f}s"
    minutes, sec = divmod(int(s), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def _estimated_duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if round(seconds) < 60:
        return f"~{max(1, round(seconds))} s"
    if round(seconds / 60) < 60:
        return f"~{round(seconds / 60)} min"
    if round(seconds / 3600) < 48:
        return f"~{round(seconds / 3600)} h"
    return f"~{round(seconds / 86400)} d"


def format_age(seconds: float | None) -> str:
    """How long ago: ``3s``, ``2m05s``; '-' when unknown."""
    if seconds is None:
        return "-"
    seconds = as_seconds(seconds)
    if seconds is None:
        return "?"
    if seconds < 1:
        return "now"
    if seconds < 60:
        return f"{int(seconds)}s"
    return format_duration(seconds)


def format_loadavg(loadavg) -> str:
    try:
        return " ".join(f"{float(x):.2f}" for x in loadavg[:3])
    except (TypeError, ValueError, IndexError, KeyError):
        return "-"


def format_rate(per_second: float, *, estimate: bool = False) -> str:
    """A measured rate, always one decimal so a live counter keeps its width: ``12.3/s``, ``1.2k/s``.

    ``estimate=True`` is for a fitted rate (a queue's trend): at most two
    significant figures, trailing zeros dropped, without a sign (the words
    around it say which way): ``0.05/s``, ``2.5/s``, ``12/s``, ``1.2k/s``,
    ``3M/s``, and ``<0.01/s`` below that.
    """
    if estimate:
        return _estimated_rate(per_second)
    if per_second >= 1000:
        return f"{per_second / 1000:.1f}k/s"
    return f"{per_second:.1f}/s"


def _estimated_rate(per_second: float) -> str:
    rate = abs(per_second)
    if rate < 0.01:
        return "<0.01/s"
    if rate < 1:
        return f"{_trim(rate, 2 if rate < 0.1 else 1)}/s"
    if round(rate, 1) < 10:
        return f"{_trim(rate, 1)}/s"
    if round(rate) < 1000:
        return f"{round(rate)}/s"
    scaled, unit = rate / 1e3, "k"
    if round(scaled) >= 1000:
        scaled, unit = rate / 1e6, "M"
    return f"{_trim(scaled, 1) if round(scaled, 1) < 10 else round(scaled)}{unit}/s"


def _trim(number: float, decimals: int) -> str:
    """``number`` to ``decimals`` places, without trailing zeros: 2.50 is '2.5', 3.0 is '3'."""
    text = f"{number:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


#: Where a URL begins: its scheme and ``://`` (RFC 3986 scheme characters).
_URL_START = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
#: What stands for a password once masked (kombu's own choice, so both read the same).
MASKED = "**"


def mask_secrets(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``**``.

    The one masker for everything celerytop shows or writes (header, errors,
    prompt history, audit log, crash and log files).  It does not parse the
    URLs, so it also masks what kombu cannot parse: a URL runs from its
    ``scheme://`` to the next URL or whitespace, and its credentials end at
    its *last* ``@`` (``redis://u:p@ss@host`` masks ``p@ss``), so
    ``sentinel://:a@h1;sentinel://:b@h2`` masks both.  A user name is kept.
    """
    if "://" not in text:
        return text
    starts = [match.start() for match in _URL_START.finditer(text)] + [len(text)]
    pieces = [text[:starts[0]]]
    for start, end in zip(starts, starts[1:]):
        pieces.append(_mask_one(text[start:end]))
    return "".join(pieces)


def _mask_one(segment: str) -> str:
    """One URL (``scheme://...``, and whatever follows it up to the next URL)."""
    head, rest = segment.split("://", 1)
    blank = next((i for i, char in enumerate(rest) if char.isspace()), len(rest))
    url, tail = rest[:blank], rest[blank:]
    at = url.rfind("@")
    if at < 0 or ":" not in url[:at]:
        return segment
    user = url[:at].split(":", 1)[0]
    return f"{head}://{user}:{MASKED}{url[at:]}{tail}"


def mask_url(url: str | None) -> str:
    """A broker URL with its password replaced, safe to show on screen."""
    if not url:
        return ""
    return sanitize(mask_secrets(str(url)))


def args_summary(args: object, kwargs: object) -> str:
    """One line for the tasks pane: ``(1, 2) {'x': 3}``; empty kwargs left out."""
    args_text = sanitize(args)
    kwargs_text = sanitize(kwargs)
    if kwargs_text in ("", "{}"):
        return args_text
    if args_text in ("", "()", "[]"):
        return kwargs_text
    return f"{args_text} {kwargs_text}"
