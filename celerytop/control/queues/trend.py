"""Depth over time: each queue's recent samples, drawn as a sparkline and read as a trend."""

from __future__ import annotations

import bisect
from collections import deque

from celerytop.model.alertrules import slope
from celerytop.present.formatting import format_duration, format_rate
from celerytop.present.sparkline import sparkline


class DepthHistory:
    """Depth samples per queue over a window, for a sparkline and a trend line.

    ``when`` is seconds on one clock (``time.monotonic()``), not decreasing
    per queue; samples older than ``window`` before a queue's newest go.
    """

    def __init__(self, window: float = 600.0):
        self.window = window
        self._samples: dict[str, deque[tuple[float, int]]] = {}

    def add(self, name: str, when: float, messages: int) -> None:
        samples = self._samples.setdefault(name, deque())
        if samples and when < samples[-1][0]:
            # out of order (should not happen): keep the deque sorted anyway
            ordered = list(samples)
            bisect.insort(ordered, (when, messages))
            samples.clear()
            samples.extend(ordered)
        else:
            samples.append((when, messages))
        newest = samples[-1][0]
        while samples and samples[0][0] < newest - self.window:
            samples.popleft()

    def samples(self, name: str) -> list[tuple[float, int]]:
        """``[(when, messages), ...]`` oldest first."""
        return list(self._samples.get(name, ()))

    def forget(self, name: str) -> None:
        self._samples.pop(name, None)

    def sparkline(self, name: str, width: int, ascii: bool = False) -> str:
        """The last ``width`` samples, one block each, scaled from 0 to their maximum.

        0 is a space (so an empty queue draws nothing, and an all-zero history
        is all spaces); any other depth is at least '▁', the maximum '█'.  At
        most ``width`` characters (fewer while samples are few): the caller
        pads.
        """
        if width <= 0:
            return ""
        return sparkline([messages for _, messages in self.samples(name)[-width:]], ascii)

    def _recent(self, name: str, span: float) -> list[tuple[float, int]]:
        samples = self.samples(name)
        if not samples:
            return []
        since = samples[-1][0] - span
        return [s for s in samples if s[0] >= since]

    def rate(self, name: str, span: float = 60.0) -> float | None:
        """Messages per second over the last ``span`` seconds, by least squares.

        A fitted slope, not newest minus oldest: one odd sample (a burst that
        a worker took at once) moves it little.  None with fewer than 2
        samples (or all at one instant).
        """
        return slope(self._recent(name, span))

    def trend(self, name: str, span: float = 60.0) -> str:
        """``"draining 40/s, empty in ~2 min"``, ``"growing 12/s"``, ``"steady"``, or "".

        "" with too few samples to say.  Steady when the fitted change over the
        samples used is under one message (noise, or an idle queue).  A queue
        draining that already reads 0 says ``"draining 40/s, empty now"``.
        """
        recent = self._recent(name, span)
        rate = slope(recent)
        if rate is None:
            return ""
        if abs(rate) * (recent[-1][0] - recent[0][0]) < 1:
            return "steady"
        if rate > 0:
            return f"growing {format_rate(rate, estimate=True)}"
        latest = recent[-1][1]
        eta = "empty now" if latest <= 0 else f"empty in {format_duration(latest / -rate, estimate=True)}"
        return f"draining {format_rate(-rate, estimate=True)}, {eta}"
