"""Events per second: the rate over a short window, from samples the refresh path takes.

Sampling is its own step (:meth:`EventRate.sample`, which the screen's and
batch mode's refresh call through :meth:`ClusterModel.sample_event_rate`), so
reading the rate changes nothing and ingest pays nothing for it.
"""

from __future__ import annotations

from collections import deque

#: Window over which events per second are averaged.
RATE_WINDOW = 5.0


class EventRate:
    """(time, events so far) samples over the last ``RATE_WINDOW`` seconds; not thread-safe (the model's lock)."""

    def __init__(self):
        self._samples: deque = deque()

    def sample(self, now: float, total: int) -> None:
        """Note ``total`` events at ``now``, forgetting samples older than the window (keeping two at least)."""
        samples = self._samples
        samples.append((now, total))
        while len(samples) > 2 and now - samples[0][0] > RATE_WINDOW:
            samples.popleft()

    def per_second(self, now: float, total: int) -> float:
        """Events per second from the oldest sample kept to (``now``, ``total``); 0.0 before any sample."""
        if not self._samples:
            return 0.0
        first_t, first_n = self._samples[0]
        return (total - first_n) / (now - first_t) if now > first_t else 0.0

    @property
    def samples(self) -> tuple:
        return tuple(self._samples)
