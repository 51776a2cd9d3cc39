"""A day bucket of the 终本 pool keeps its members as packed records: what goes in one by
one or as a record array comes out the same, in the order it went in."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as hs

from sim.model.terminated_pool import RECORD, Bucket

members = hs.tuples(
    hs.integers(0, 2**16 - 1),  # region
    hs.integers(-(2**63), 2**63 - 1),  # debtor
    hs.one_of(hs.just(math.nan), hs.floats(0, 1e12)),  # still owed (NaN: drawn later)
    hs.integers(0, 2**16 - 1),  # pushes left
    hs.floats(0, 1e5),  # next push
)


def _same(a: list[tuple], b: list[tuple]) -> bool:
    return repr(a) == repr(b)  # NaN equals NaN in its repr


@given(hs.lists(members, max_size=40), hs.lists(members, max_size=40))
def test_members_come_out_as_they_went_in(one_by_one, as_records) -> None:
    bucket = Bucket()
    for m in one_by_one:
        bucket.append(*m)
    bucket.extend(np.array(as_records, dtype=RECORD))
    assert len(bucket) == len(one_by_one) + len(as_records)
    assert _same(bucket.records().tolist(), one_by_one + as_records)
    assert RECORD.itemsize == 28 and len(bucket.rows) == 28 * len(bucket)
