"""Integer-fen arithmetic for the 30/70 protection split.

Money is always an ``int`` of fen. Ratios are basis points (1/10,000). Every rounding goes
the consumer's way: custody is rounded *up*, so the bank always holds at least its share,
and the refundable amount is rounded *up*, so a consumer is never short-changed by a fen.
"""

from __future__ import annotations

from dataclasses import dataclass

from escrow.errors import InvalidAmount, InvalidRatio

RATIO_SCALE = 10_000
"""Basis points in a whole: a ratio of 3000 is 30%."""

DEFAULT_CUSTODY_RATIO_BP = 3_000
"""Share of every prepaid payment held in bank custody unless a risk measure raises it."""

MAX_AMOUNT_FEN = 1_000_000_000_000
"""Sanity ceiling (¥10 billion) far above any card limit; keeps every product inside int64."""

MAX_UNITS = 1_000_000_000_000
"""Ceiling for a card's units (fen of face value, or sessions) for the same reason."""


def ceil_div(numerator: int, denominator: int) -> int:
    """Integer ceiling division for non-negative numerators, exact for any size."""
    return -(-numerator // denominator)


def check_ratio(ratio_bp: int) -> int:
    """Return ``ratio_bp`` if it is a whole number of basis points within 0..10000."""
    if isinstance(ratio_bp, bool) or not isinstance(ratio_bp, int):
        raise InvalidRatio(
            f"custody ratio must be a whole number of basis points, got {ratio_bp!r}",
            code="ratio-not-whole",
            ratio_bp=repr(ratio_bp),
        )
    if not 0 <= ratio_bp <= RATIO_SCALE:
        raise InvalidRatio(
            f"custody ratio must be between 0 and {RATIO_SCALE} basis points, got {ratio_bp}",
            code="ratio-out-of-range",
            ratio_bp=ratio_bp,
            max_bp=RATIO_SCALE,
        )
    return ratio_bp


def check_positive(
    value: int, what: str, ceiling: int = MAX_AMOUNT_FEN, *, units: bool = False
) -> int:
    """Return ``value`` if it is a positive whole number no larger than ``ceiling``.

    ``what`` names it in the developer's message; ``units`` says it counts a card's units
    rather than fen, which picks the error's code and the names of its parameters.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmount(
            f"{what} must be a whole number, got {value!r}",
            code="units-not-whole" if units else "amount-not-whole",
            value=repr(value),
        )
    if value <= 0:
        raise InvalidAmount(
            f"{what} must be greater than zero, got {value}",
            code="units-not-positive" if units else "amount-not-positive",
            **_said(value, ceiling, units=units),
        )
    if value > ceiling:
        raise InvalidAmount(
            f"{what} of {value} is above the ceiling of {ceiling}",
            code="units-above-ceiling" if units else "amount-above-ceiling",
            **_said(value, ceiling, units=units),
        )
    return value


def _said(value: int, ceiling: int, *, units: bool) -> dict[str, object]:
    """An amount's parameters: fen are money (``*_fen``), units are counts."""
    if units:
        return {"units": value, "max_units": ceiling}
    return {"amount_fen": value, "max_fen": ceiling}


def custody_part(amount: int, ratio_bp: int) -> int:
    """Custody share of ``amount``: ``ceil(amount * r / 10000)``."""
    return ceil_div(amount * ratio_bp, RATIO_SCALE)


@dataclass(frozen=True, slots=True)
class Split:
    """How one amount divides between bank custody and insurance."""

    custody: int
    insured: int

    @property
    def total(self) -> int:
        """The amount that was split."""
        return self.custody + self.insured


def split(amount: int, ratio_bp: int) -> Split:
    """Split ``amount`` fen so that custody is rounded up and the parts add up exactly."""
    custody = custody_part(amount, ratio_bp)
    return Split(custody=custody, insured=amount - custody)


def refundable(paid: int, units_remaining: int, units_total: int) -> int:
    """Money owed back at the paid price: ``ceil(paid * remaining / total)``.

    It is ``paid`` when the card is unused and 0 when it is used up, whatever the discount.
    """
    return ceil_div(paid * units_remaining, units_total)
