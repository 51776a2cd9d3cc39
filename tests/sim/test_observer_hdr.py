"""The observer's time-to-close histogram, fed in bulk (:mod:`sim.results.hdr_tally`), is
the histogram recording each value one by one would have made."""

from __future__ import annotations

from hdrh.histogram import HdrHistogram
from hypothesis import given, settings
from hypothesis import strategies as hs

from sim.results.hdr_tally import HdrTally

HIGHEST = 100 * 366 * 1440  # the observer's: a century in minutes


def _state(hist: HdrHistogram) -> tuple:
    return (
        list(hist.counts),
        hist.get_total_count(),
        hist.get_min_value(),
        hist.get_max_value(),
        [hist.get_value_at_percentile(q) for q in (0, 1, 50, 90, 99, 99.9, 100)],
    )


values = hs.one_of(
    hs.integers(0, 5000),  # the first buckets, one unit wide
    hs.integers(1, HIGHEST),
    hs.integers(HIGHEST, 2 * HIGHEST),  # past the range: dropped, or not, as hdrh decides
    hs.integers(-3, -1),
    hs.sampled_from([2047, 2048, 4095, 4096, 2**20, 2**20 - 1]),  # bucket edges
)


@settings(max_examples=300, deadline=None)
@given(
    batches=hs.lists(hs.lists(values, max_size=60), min_size=1, max_size=4),
    digits=hs.sampled_from([1, 2, 3]),
    lowest=hs.sampled_from([1, 2, 1000]),
)
def test_a_tally_leaves_the_histogram_recording_each_value_would(batches, digits, lowest):
    """Counts, total, least and greatest value and percentiles, read after each batch."""
    one_by_one = HdrHistogram(lowest, HIGHEST, digits)
    tally = HdrTally(HdrHistogram(lowest, HIGHEST, digits))
    for batch in batches:
        for v in batch:
            one_by_one.record_value(v)
            tally.record(v)
        assert _state(tally.histogram()) == _state(one_by_one)


def test_the_observer_reads_its_histogram_with_every_close_recorded():
    from sim.results.observer import Observer

    obs = Observer(0.0, 1000.0)
    plain = HdrHistogram(1, HIGHEST, 3)
    for minutes in (5, 1440 * 3 + 7, 1440 * 40, 1440 * 40 + 1, 1440 * 700):
        obs.close_times.record(minutes)
        plain.record_value(minutes)
    assert _state(obs.close_hist) == _state(plain)
    assert obs._percentile(50) == plain.get_value_at_percentile(50) / 1440
