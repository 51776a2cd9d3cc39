"""Latency histograms: HDR histograms at microsecond resolution, 1 µs .. 1 h, 3 digits.

Worker processes record into their own histograms and ship them encoded (HdrHistogram's
compressed base64 form); the ``chakong load`` process decodes and adds them, so a merged
percentile is the true percentile over every request of every worker, not an average of
per-worker percentiles. Plain Python, no gevent: safe to import anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600 * 1_000_000  # one hour
SIGNIFICANT_DIGITS = 3
ALL = "all"  # the histogram of every request, beside one per request name
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p999": 99.9, "max": 100.0}


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def record_seconds(hist: HdrHistogram, seconds: float) -> None:
    """Record a duration in seconds, as whole microseconds clamped to the histogram's range."""
    us = int(seconds * 1_000_000)
    hist.record_value(min(max(us, LOWEST_US), HIGHEST_US))


def encode(hist: HdrHistogram) -> str:
    return hist.encode().decode("ascii")


def merge(encoded: Iterable[str]) -> HdrHistogram:
    """One histogram adding up every encoded histogram given."""
    total = new_histogram()
    for text in encoded:
        total.add(HdrHistogram.decode(text.encode("ascii")))
    return total


def percentiles_ms(hist: HdrHistogram, names: Iterable[str] = PERCENTILES) -> dict[str, float]:
    """The named percentiles (``p50`` .. ``p999``, ``max``) in milliseconds, to the
    microsecond (HDR's equivalent value); ``None`` for each when the histogram is empty."""
    if hist.get_total_count() == 0:
        return dict.fromkeys(names)
    return {
        n: (hist.get_max_value() if n == "max" else hist.get_value_at_percentile(PERCENTILES[n]))
        / 1000.0
        for n in names
    }
