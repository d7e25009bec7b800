"""Sparklines: a series of counts as one character each, in Unicode blocks or plain ASCII."""

from __future__ import annotations

import locale
import math

#: Index 0 is a zero; any count above zero is at least index 1, the series' maximum the last.
UNICODE_LEVELS = " ▁▂▃▄▅▆▇█"
ASCII_LEVELS = " .:-=+*#%@"


def sparkline(values, ascii: bool = False) -> str:
    """One character per value, scaled from 0 to the series' own maximum; all zeros draw spaces."""
    levels = ASCII_LEVELS if ascii else UNICODE_LEVELS
    values = [v if isinstance(v, (int, float)) and math.isfinite(v) and v > 0 else 0 for v in values]
    top = max(values, default=0)
    if top <= 0:
        return " " * len(values)
    steps = len(levels) - 1
    return "".join(levels[0] if v <= 0 else levels[min(steps, max(1, math.ceil(v * steps / top)))]
                   for v in values)


def unicode_terminal(encoding: str | None = None) -> bool:
    """Whether the terminal's locale can show Unicode blocks: its preferred encoding is UTF-8."""
    if encoding is None:
        try:
            encoding = locale.getpreferredencoding(False)
        except Exception:  # noqa: BLE001 - an odd locale means plain ASCII, never a crash
            return False
    return (encoding or "").lower().replace("-", "").replace("_", "") in ("utf8", "utf8mb4")
