"""The figures the platform computes about a merchant from its own data, as formulas.

The ``sales`` and ``complaints`` sources of the catalogue are not reported by a bureau: the
platform derives them from card sales, products, balances still owed and complaints filed.
These are the formulas, pure; the application gathers the sums and writes the records.
A figure with nothing to compare against is ``None`` (missing), never zero.
"""

from __future__ import annotations

MAX_OUTSTANDING_RATIO = 100.0
"""Unredeemed balances 100 times the last 90 days' sales, or owed with no sales at all."""
SURGE_BASELINE_MONTHS = 3
"""The 90 days before the last 30 are three months: the surge compares with their mean."""


def surge_pct(last_30: int, before: int) -> float | None:
    """Card sales of the last 30 days against the monthly mean of the 90 days before, in %.

    ``before`` is the sum of those 90 days in fen; with no sales then there is no usual to
    compare with (``None``).
    """
    if before <= 0:
        return None
    return round((last_30 / (before / SURGE_BASELINE_MONTHS) - 1) * 100, 2)


def discount_pct(deepest: float) -> float:
    """The deepest discount of a stored-value card on sale, in % (two decimals)."""
    return round(float(deepest), 2)


def outstanding_to_revenue(held: int, revenue: int) -> float | None:
    """Unredeemed balances against the last 90 days' card sales, capped.

    Balances still owed with no sales at all count as the highest ratio
    (:data:`MAX_OUTSTANDING_RATIO`): the pattern of a merchant that stopped selling. Nothing
    owed and nothing sold is ``None``.
    """
    if held <= 0 and revenue <= 0:
        return None
    return round(min(held / max(revenue, 1), MAX_OUTSTANDING_RATIO), 4)


def complaint_figures(last_7: int, last_30: int) -> dict[str, float]:
    """The ``complaints`` records of a merchant: complaints filed in the last 7 and 30 days."""
    return {"count_7d": float(last_7), "count_30d": float(last_30)}
