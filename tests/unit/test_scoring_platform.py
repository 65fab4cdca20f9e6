"""The platform's own figures and the warning tests: formulas with no database, and their
properties (a missing comparison is missing, never zero; ratios are capped; only falls warn)."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from scoring import GRADES
from scoring.alerts import complaint_surge, grade_fell
from scoring.platform import (
    MAX_OUTSTANDING_RATIO,
    complaint_figures,
    discount_pct,
    outstanding_to_revenue,
    surge_pct,
)

FEN = st.integers(min_value=0, max_value=10**12)


def test_surge_compares_the_last_30_days_with_the_monthly_mean_of_the_90_before() -> None:
    assert surge_pct(30_000, 90_000) == 0.0
    assert surge_pct(60_000, 90_000) == 100.0
    assert surge_pct(0, 90_000) == -100.0
    assert surge_pct(50_000, 0) is None  # no usual to compare with: missing, not zero


@given(last=FEN, more=st.integers(min_value=1, max_value=10**9), before=FEN.filter(bool))
def test_more_recent_sales_never_lower_the_surge(last: int, more: int, before: int) -> None:
    lower, higher = surge_pct(last, before), surge_pct(last + more, before)
    assert lower is not None
    assert higher is not None
    assert higher >= lower


def test_outstanding_balances_against_sales() -> None:
    assert outstanding_to_revenue(50_000, 100_000) == 0.5
    assert outstanding_to_revenue(50_000, 0) == MAX_OUTSTANDING_RATIO  # owed, stopped selling
    assert outstanding_to_revenue(0, 100_000) == 0.0
    assert outstanding_to_revenue(0, 0) is None


@given(held=FEN, revenue=FEN)
def test_the_outstanding_ratio_is_capped_and_missing_only_with_nothing_at_all(
    held: int, revenue: int
) -> None:
    ratio = outstanding_to_revenue(held, revenue)
    if held == 0 and revenue == 0:
        assert ratio is None
    else:
        assert ratio is not None
        assert 0 <= ratio <= MAX_OUTSTANDING_RATIO


def test_discounts_and_complaints_as_records() -> None:
    assert discount_pct(12.345678) == 12.35
    assert complaint_figures(3, 9) == {"count_7d": 3.0, "count_30d": 9.0}


def test_which_grade_changes_are_news() -> None:
    assert grade_fell(None, "D")
    assert grade_fell(None, "E")
    assert not grade_fell(None, "C")
    assert grade_fell("C", "D")
    assert grade_fell("A", "C")
    assert not grade_fell("A", "B")
    assert not grade_fell("E", "A")
    assert not grade_fell("NR", "E")
    assert not grade_fell("A", "NR")


def test_no_rise_and_no_unchanged_grade_is_ever_news() -> None:
    for before, after in itertools.product(GRADES, GRADES):
        if GRADES.index(after) <= GRADES.index(before):
            assert not grade_fell(before, after)
        elif after in ("D", "E") or GRADES.index(after) - GRADES.index(before) >= 2:
            assert grade_fell(before, after)


@given(
    last_7=st.integers(min_value=0, max_value=1000),
    baseline=st.floats(min_value=0, max_value=500, allow_nan=False),
    minimum=st.integers(min_value=1, max_value=20),
    factor=st.floats(min_value=1, max_value=10, allow_nan=False),
)
def test_a_surge_needs_the_minimum_and_the_factor_over_at_least_one_a_week(
    last_7: int, baseline: float, minimum: int, factor: float
) -> None:
    surging = complaint_surge(last_7, baseline, minimum=minimum, factor=factor)
    assert surging == (last_7 >= minimum and last_7 >= factor * max(baseline, 1.0))
    if surging:  # one more complaint in the week is still a surge
        assert complaint_surge(last_7 + 1, baseline, minimum=minimum, factor=factor)
