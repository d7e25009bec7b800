"""A bounded, mergeable quantile sketch (DDSketch-style log buckets) for runtimes and queue waits.

Method: DDSketch (Masson, Rim and Lee, VLDB 2019).  A value ``x > 0`` goes in
bucket ``i = ceil(log(x) / log(gamma))`` with ``gamma = (1 + a) / (1 - a)``;
bucket ``i`` covers ``(gamma**(i-1), gamma**i]`` and is read back as
``2 * gamma**i / (gamma + 1)``, which is within a relative error ``a`` of every
value in the bucket.  So a quantile read from the sketch is within ``a``
(1 %) of the exact quantile's value (the value of rank ``q * (n - 1)``, lower
rank), whatever the data.  Values at or below ``MIN_VALUE`` (a microsecond)
count in a zero bucket, read back as 0.

Memory is fixed: the buckets are one dense array of counts (4 bytes each)
spanning at most ``max_bins`` indexes (2048 by default: with a = 1 % that
is 1 µs to beyond 10**11 s, so in practice nothing collapses).  Past that the
lowest buckets collapse into the lowest kept one: the low quantiles lose the
bound, the high ones (p50 and up, unless more than half the values are in the
collapsed range) keep it.  Two sketches with the same ``a`` merge exactly:
the merge of two sketches has the buckets of the sketch of the union.
Min, max and count are kept exactly.
"""

from __future__ import annotations

import math
from array import array

#: Relative accuracy of every quantile read back.
ALPHA = 0.01
#: Buckets kept at most; past this the lowest collapse.
MAX_BINS = 2048
#: Values at or below this count as zero.
MIN_VALUE = 1e-6
_INF = math.inf
_ceil, _log = math.ceil, math.log


class Sketch:
    """Quantiles of positive numbers within a relative error ``alpha``, in at most ``max_bins`` counters."""

    __slots__ = ("alpha", "gamma", "_log_gamma", "max_bins", "count", "zeros", "min", "max", "_offset", "_bins",
                 "collapsed")

    def __init__(self, alpha: float = ALPHA, max_bins: int = MAX_BINS):
        self.alpha = alpha
        self.gamma = (1 + alpha) / (1 - alpha)
        self._log_gamma = math.log(self.gamma)
        self.max_bins = max(2, int(max_bins))
        self.count = 0
        self.zeros = 0
        self.min = math.inf
        self.max = -math.inf
        self._offset = 0  # the index of _bins[0]
        self._bins = array("I")
        self.collapsed = False  # whether low buckets were ever collapsed

    def index(self, value: float) -> int:
        return math.ceil(math.log(value) / self._log_gamma)

    def add(self, value: float) -> None:
        """Count one value; NaN, infinities and negatives are ignored.  (The ingest counts in batches:
        :meth:`add_all`, whose loop comes here for what its own does not take.)"""
        if not (0 <= value < _INF):  # NaN fails
            return
        self.count += 1
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        if value <= MIN_VALUE:
            self.zeros += 1
            return
        i = _ceil(_log(value) / self._log_gamma)
        position = i - self._offset
        bins = self._bins
        if 0 <= position < len(bins):
            bins[position] += 1
        else:
            self._add_index(i, 1)

    def add_all(self, values) -> None:
        """Count every one of ``values``, as :meth:`add` one by one would, in a loop cheaper per value."""
        log_gamma, offset, bins = self._log_gamma, self._offset, self._bins
        size = len(bins)
        counted, low, high = 0, _INF, -_INF
        for value in values:
            if value > MIN_VALUE and value < _INF:
                position = _ceil(_log(value) / log_gamma) - offset
                if 0 <= position < size:  # the usual case: a bucket already held
                    bins[position] += 1
                    counted += 1
                    if value < low:
                        low = value
                    if value > high:
                        high = value
                    continue
            self.add(value)  # anything else, the slow way (it may move the buckets)
            offset, size = self._offset, len(bins)
        if counted:
            self.count += counted
            if low < self.min:
                self.min = low
            if high > self.max:
                self.max = high

    def _add_index(self, i: int, n: int) -> None:
        bins = self._bins
        if not bins:
            self._offset = i
            bins.append(n)
            return
        offset = self._offset
        if i < offset:
            if offset + len(bins) - i > self.max_bins:  # would grow past the cap: collapse
                self.collapsed = True
                bins[0] += n
                return
            bins[0:0] = array("I", bytes(4 * (offset - i)))
            self._offset = offset = i
        elif i >= offset + len(bins):
            bins.extend(array("I", bytes(4 * (i - offset - len(bins) + 1))))
            if len(bins) > self.max_bins:
                self._collapse_low()
                offset = self._offset
                if i < offset:
                    i = offset
        bins[i - self._offset] += n

    def _collapse_low(self) -> None:
        """Fold the lowest buckets into the lowest kept one, leaving ``max_bins``."""
        bins = self._bins
        extra = len(bins) - self.max_bins
        folded = sum(bins[:extra + 1])
        del bins[:extra]
        bins[0] = folded
        self._offset += extra
        self.collapsed = True

    def merge(self, other: "Sketch") -> None:
        """Add ``other``'s values (same alpha): the result is the sketch of the union."""
        if other.gamma != self.gamma:
            raise ValueError("sketches of different accuracy do not merge")
        if not other.count:
            return
        self.count += other.count
        self.zeros += other.zeros
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        self.collapsed = self.collapsed or other.collapsed
        for position, n in enumerate(other._bins):
            if n:
                self._add_index(other._offset + position, n)

    def quantile(self, q: float) -> float | None:
        """The value of rank ``q * (count - 1)`` within ``alpha``; None when empty."""
        if not self.count:
            return None
        if q <= 0:
            return self.min
        if q >= 1:
            return self.max
        rank = q * (self.count - 1)
        seen = self.zeros
        if rank < seen:
            return 0.0
        gamma = self.gamma
        for position, n in enumerate(self._bins):
            seen += n
            if seen > rank:
                value = 2 * gamma ** (self._offset + position) / (gamma + 1)
                return min(max(value, self.min), self.max)
        return self.max

    @property
    def bins(self) -> int:
        """Counters held (memory is 4 bytes each)."""
        return len(self._bins)
