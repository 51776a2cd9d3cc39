"""What one replication gives: its metrics, the series behind the plots, its record files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class ReplicationResult:
    replication: int
    metrics: dict[str, float]
    backlog_times: Sequence[float]  # typed arrays from the observer (list-like)
    backlog_counts: Sequence[int]
    pool_counts: Sequence[int]
    close_days_hist: list[int]
    cases_filed: int  # all cases filed, warm-up included
    wall_seconds: float
    files: dict[str, str] = field(default_factory=dict)  # part files written, by kind
    recovery_days_hist: list[int] = field(default_factory=list)  # recovering cases per day
    queries_by_hour: dict[str, list[int]] = field(default_factory=dict)  # channel -> 24 counts
    # (channel, agency) -> requests sent in each hour of the day; from the event log, so only
    # when records are kept
    agency_queries_by_hour: dict[tuple[str, str], list[int]] = field(default_factory=dict)
