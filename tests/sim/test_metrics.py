"""The metric catalogue is the one place a metric is defined: what the model computes, the
tables, the precision rule's "is a rate" and the README's table all agree with it."""

from __future__ import annotations

import math

from sim.results.metrics import CATALOGUE, HEADLINE_METRICS, METRICS, Kind, format_value, is_rate
from sim.results.observer import Observer
from tests.conftest import ROOT


def test_the_readme_metric_table_is_the_catalogue():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = "\n".join(
        ["| metric | unit | meaning |", "| --- | --- | --- |"]
        + [f"| `{m.name}` | {m.unit} | {m.meaning} |" for m in METRICS]
    )
    assert table in readme


def test_a_replication_reports_every_catalogued_metric_in_order():
    assert list(Observer(0, 365).metrics()) == list(HEADLINE_METRICS)
    assert len(set(HEADLINE_METRICS)) == len(METRICS)


def test_rates_are_the_metrics_shown_in_percent():
    for m in METRICS:
        assert is_rate(m.name) == (m.kind is Kind.rate) == (m.unit == "%"), m.name
    assert is_rate("officer_utilization") and not is_rate("backlog_mean")


def test_values_are_shown_with_the_catalogues_unit_and_decimals():
    assert format_value(0.3204, "recovery_rate") == "32.0"
    assert format_value(2.7966, "officer_wait_days_mean") == "2.80"
    assert format_value(223092351.4, "money_disbursed_yuan_per_year") == "223,092,351"
    assert format_value(-0.0074, "recovery_rate", signed=True) == "-0.7"
    assert format_value(0.0, "restored_per_year", signed=True) == "+0"
    assert format_value(math.nan, "backlog_mean") == "-"
    assert format_value(1.23456, "not_a_metric") == "1.235"  # shown plainly
    assert CATALOGUE["case_to_matter_ratio"].kind is Kind.ratio
