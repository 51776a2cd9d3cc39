"""An HDR histogram fed in bulk: each value counted in the histogram's own bucket by
compiled code, and handed to the histogram as one record a bucket when it is read.

``hdrh`` records a value in Python: a handful of Python calls, some 4,000 machine
instructions, about 5% of what a case costs the model. The tally computes the bucket the
histogram would (its ``_counts_index_for``, from the histogram's own parameters) and keeps
a count a bucket (some 17,000 buckets at most for the observer's histogram, whatever the
number of values). When the histogram is read, every bucket's count is recorded with one
``record_value(value, count)`` at a value inside that bucket: at the exact least value seen
for the lowest bucket and the exact greatest for the highest, so that the histogram's
counts, total, least and greatest values are those that recording each value would have
left (``tests/sim/test_observer_hdr.py`` holds the two to each other).
"""

from __future__ import annotations

import sys

from hdrh.histogram import HdrHistogram


class HdrTally:
    """Values to record in ``hist``, counted by its buckets until it is read."""

    def __init__(self, hist: HdrHistogram) -> None:
        self._hist = hist
        self._unit: int = hist.unit_magnitude
        self._half_magnitude: int = hist.sub_bucket_half_count_magnitude
        self._half: int = hist.sub_bucket_half_count
        self._length: int = hist.counts_len
        # the bit length of the histogram's sub-bucket mask: values below it share bucket 0
        self._mask_bits: int = self._half_magnitude + 1 + self._unit
        self._counts: dict[int, int] = {}  # the bucket's least value -> values counted
        self._least = sys.maxsize
        self._greatest = 0

    def record(self, value: int) -> None:
        """Count ``value`` (a non-negative int); one out of the histogram's range is dropped,
        as the histogram drops it."""
        if value < 0:
            return
        # the bit length of (value | mask), as the histogram takes it (64 - its clz)
        shift = self._mask_bits
        rest = value >> shift
        while rest:
            rest >>= 1
            shift += 1
        shift -= self._half_magnitude + 1  # the bucket's index plus the unit magnitude
        sub = value >> shift
        index = ((shift - self._unit + 1) << self._half_magnitude) + sub - self._half
        if index < 0 or index >= self._length:
            return
        least = sub << shift
        self._counts[least] = self._counts.get(least, 0) + 1
        if value < self._least:
            self._least = value
        if value > self._greatest:
            self._greatest = value

    def histogram(self) -> HdrHistogram:
        """The histogram, with every value counted so far recorded in it."""
        counts = self._counts
        if counts:
            record = self._hist.record_value
            buckets = sorted(counts)
            lowest, highest = buckets[0], buckets[-1]
            for least in buckets:
                n = counts[least]
                if least == lowest == highest:
                    if n > 1:
                        record(self._least, n - 1)
                    record(self._greatest, 1)
                elif least == lowest:
                    record(self._least, n)
                elif least == highest:
                    record(self._greatest, n)
                else:
                    record(least, n)
            counts.clear()
            self._least = sys.maxsize
            self._greatest = 0
        return self._hist

    def counted(self) -> tuple[dict[int, int], int, int]:
        """What is counted and not yet recorded: (count by bucket, least, greatest)."""
        return dict(self._counts), self._least, self._greatest

    def absorb(self, counted: tuple[dict[int, int], int, int]) -> None:
        """Count what another tally counted (its :meth:`counted`), as if counted here."""
        counts, least, greatest = counted
        mine = self._counts
        for bucket, n in counts.items():
            mine[bucket] = mine.get(bucket, 0) + n
        if least < self._least:
            self._least = least
        if greatest > self._greatest:
            self._greatest = greatest
