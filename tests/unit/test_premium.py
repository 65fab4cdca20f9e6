"""Premiums by grade: a riskier merchant pays more for the same exposure, rounded up."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.insurance.service import PREMIUM_SCHEDULE, annual_premium
from scoring import GRADES


@given(st.integers(min_value=0, max_value=10**13))
def test_a_worse_grade_never_pays_less(exposure: int) -> None:
    premiums = [annual_premium(exposure, grade) for grade in GRADES]
    assert premiums == sorted(premiums)


def test_rates_strictly_rise_and_round_up() -> None:
    rates = [PREMIUM_SCHEDULE["annual_rate_bp"][g] for g in GRADES]
    assert rates == sorted(set(rates))
    assert annual_premium(1, "A") == 1  # a fraction of a fen is charged as a fen
    assert annual_premium(0, "E") == 0
    assert annual_premium(1_000_000, "E") == 40_000
    assert annual_premium(1_000_000, "NR") == 15_000
