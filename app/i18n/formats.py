"""Money, dates and numbers as each language writes them, by Babel's locale rules."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from babel.dates import format_date, format_datetime
from babel.numbers import (
    format_compact_currency,
    format_currency,
    format_decimal,
    format_percent,
)

from app.clock import SHANGHAI
from app.i18n.catalogues import DEFAULT_LANG, locale_of

if TYPE_CHECKING:
    from datetime import date, datetime

NOTHING = "—"


def money(fen: int | None, lang: str = DEFAULT_LANG) -> str:
    """Fen as yuan in ``lang``'s currency format (exact: fen are scaled, never divided)."""
    if fen is None:
        return NOTHING
    return format_currency(Decimal(int(fen)).scaleb(-2), "CNY", locale=locale_of(lang))


def money_short(fen: int | None, lang: str = DEFAULT_LANG) -> str:
    """Fen as a short amount for a chart's label (¥325.6万, CN¥3.3M).

    The exact sum is shown elsewhere (a tooltip, a table).
    """
    if fen is None:
        return NOTHING
    amount = Decimal(int(fen)).scaleb(-2)
    return format_compact_currency(amount, "CNY", locale=locale_of(lang), fraction_digits=1)


def number(value: float | Decimal | None, lang: str = DEFAULT_LANG) -> str:
    """A count or a measure with ``lang``'s grouping and decimal signs."""
    if value is None:
        return NOTHING
    return format_decimal(value, locale=locale_of(lang))


def when(moment: datetime | None, lang: str = DEFAULT_LANG) -> str:
    """A stored UTC time as Shanghai wall time (every business day is Shanghai's)."""
    if moment is None:
        return NOTHING
    return format_datetime(moment, "short", tzinfo=SHANGHAI, locale=locale_of(lang))


def day(value: date | None, lang: str = DEFAULT_LANG) -> str:
    """A calendar date."""
    if value is None:
        return NOTHING
    return format_date(value, "medium", locale=locale_of(lang))


def month(first: date, lang: str = DEFAULT_LANG) -> str:
    """A calendar month, short, as a chart labels it (12月, Dec)."""
    return format_date(first, "MMM", locale=locale_of(lang))


def share(bp: int | None, lang: str = DEFAULT_LANG) -> str:
    """A share in basis points as a percentage (3000 -> 30%, 4550 -> 45.5%)."""
    if bp is None:
        return NOTHING
    return format_percent(Decimal(int(bp)).scaleb(-4), "#,##0.##%", locale=locale_of(lang))


def probability(value: float | None, lang: str = DEFAULT_LANG) -> str:
    """A probability as a percentage with one decimal (0.0523 -> 5.2%)."""
    if value is None:
        return NOTHING
    return format_percent(value, "#,##0.0%", locale=locale_of(lang))
