"""Pure arithmetic of the split and the refund formula: no database."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from escrow import InvalidAmount, InvalidRatio, refundable, split
from escrow.money import MAX_AMOUNT_FEN, ceil_div, check_positive, check_ratio, custody_part

amounts = st.integers(min_value=1, max_value=MAX_AMOUNT_FEN)
ratios = st.integers(min_value=0, max_value=10_000)


@given(amounts, ratios)
def test_split_adds_up_and_custody_is_rounded_up(amount: int, ratio: int) -> None:
    parts = split(amount, ratio)
    assert parts.custody + parts.insured == amount == parts.total
    assert parts.custody >= 0
    assert parts.insured >= 0
    # custody is the smallest whole fen that is at least r/10000 of the amount
    assert parts.custody * 10_000 >= amount * ratio
    assert (parts.custody - 1) * 10_000 < amount * ratio


def test_split_examples() -> None:
    assert split(80_000, 3_000) == split(80_000, 3_000)
    assert (split(80_000, 3_000).custody, split(80_000, 3_000).insured) == (24_000, 56_000)
    assert (split(1, 3_000).custody, split(1, 3_000).insured) == (1, 0)
    assert (split(99_999, 3_333).custody, split(99_999, 3_333).insured) == (33_330, 66_669)
    assert (split(500, 0).custody, split(500, 10_000).insured) == (0, 0)


@given(
    st.integers(min_value=1, max_value=MAX_AMOUNT_FEN),
    st.integers(min_value=1, max_value=10**6),
    st.data(),
)
def test_refundable_is_paid_when_unused_and_zero_when_used_up(
    paid: int, total: int, data: st.DataObject
) -> None:
    remaining = data.draw(st.integers(min_value=0, max_value=total))
    assert refundable(paid, total, total) == paid
    assert refundable(paid, 0, total) == 0
    owed = refundable(paid, remaining, total)
    assert 0 <= owed <= paid
    assert owed * total >= paid * remaining  # never short of the exact share
    assert (owed - 1) * total < paid * remaining
    if remaining < total:
        assert refundable(paid, remaining, total) <= refundable(paid, remaining + 1, total)


def test_discounted_card_refunds_at_the_paid_price() -> None:
    # a ¥1,000 card sold for ¥800, ¥100 of face used: ¥720 is owed back
    assert refundable(80_000, 90_000, 100_000) == 72_000
    # a 10-session card for ¥999.99 with 3 sessions left
    assert refundable(99_999, 3, 10) == 30_000


@given(st.integers(min_value=0, max_value=10**30), st.integers(min_value=1, max_value=10**9))
def test_ceil_div_is_exact_for_big_numbers(numerator: int, denominator: int) -> None:
    q = ceil_div(numerator, denominator)
    assert q * denominator >= numerator > (q - 1) * denominator


@pytest.mark.parametrize("ratio", [-1, 10_001, 3_000.0, "3000", True, None])
def test_ratio_outside_range_is_refused(ratio: object) -> None:
    with pytest.raises(InvalidRatio, match="custody ratio"):
        check_ratio(ratio)  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", [0, -1, MAX_AMOUNT_FEN + 1, 1.5, "100", False])
def test_bad_amounts_are_refused(amount: object) -> None:
    with pytest.raises(InvalidAmount):
        check_positive(amount, "the price")  # type: ignore[arg-type]


def test_custody_part_matches_split() -> None:
    assert custody_part(12_345, 3_000) == split(12_345, 3_000).custody == 3_704
