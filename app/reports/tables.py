"""The shapes a report is made of: figures, tables of typed columns, and how each is said.

A report holds numbers and codes only (money in fen, shares in basis points, industries and
rules by code); :class:`Words` says them in a reader's language, for the page and for the
XLSX and PDF exports alike, while the JSON API and the CSV files give them as they are.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from app.i18n import day, gettext, money, month, number, share

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from app.reports.periods import Period

Cell = str | int | float | None
"""A table's cell: text or a code, a count or fen or basis points, days; ``None``: nothing."""


class Kind(enum.StrEnum):
    """What a column (or a figure) holds, which says how it is written."""

    TEXT = "text"
    """Shown as stored, in no language (a district, a merchant's name, a credit code)."""
    INDUSTRY = "industry"
    """An industry's code, said by its name in the reader's language."""
    CODE = "code"
    """A code said by its message: ``prefix`` + code (a warning's rule, a measure's kind)."""
    GRADE = "grade"
    """A grade's letters, the same in every language."""
    MONTH = "month"
    """A month as ``2026-11``."""
    DAY = "day"
    """A calendar day as ``2026-11-30``."""
    COUNT = "count"
    FEN = "fen"
    BP = "bp"
    """A share in basis points (3000 is 30%)."""
    CHANGE = "change"
    """A change in basis points against an earlier figure (-1840 is 18.4% down)."""
    DAYS = "days"
    """A number of days, to one decimal (a median)."""
    PROBABILITY = "probability"
    """A probability between 0 and 1."""

    @property
    def numeric(self) -> bool:
        """Whether the column holds figures (right-aligned, totalled, a number in a sheet)."""
        return self in _NUMERIC


_NUMERIC = {Kind.COUNT, Kind.FEN, Kind.BP, Kind.CHANGE, Kind.DAYS, Kind.PROBABILITY}


@dataclass(frozen=True)
class Column:
    """One column: its stable key (the CSV and JSON header), what it holds."""

    key: str
    kind: Kind
    prefix: str = ""
    """For :attr:`Kind.CODE`: the message prefix its codes are said by (``r_rule_``)."""


@dataclass(frozen=True)
class Table:
    """A table of the report or the dashboard: rows of cells under typed columns."""

    key: str
    """Stable: the title's message ``rp_table_<key>``, the sheet's and the CSV file's name."""
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    total: tuple[Cell, ...] | None = None
    """The totals line (its first cell ``None``), when the rows add up."""

    def column(self, key: str) -> int:
        """The position of the column ``key``."""
        return next(i for i, c in enumerate(self.columns) if c.key == key)

    def as_dicts(self) -> list[dict[str, Cell]]:
        """The rows keyed by column, as the API gives them."""
        keys = [c.key for c in self.columns]
        return [dict(zip(keys, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class Figure:
    """A key figure of the period, beside the same period a year before."""

    key: str
    """Stable: its message ``rp_fig_<key>`` and its name in the API and the sheets."""
    kind: Kind
    value: int | float | None
    year_before: int | float | None = None
    change_bp: int | None = None
    """``value`` against ``year_before``, in basis points; ``None`` when there was nothing."""


@dataclass(frozen=True)
class Report:
    """A district's (or the city's) monthly or quarterly report: what every export renders."""

    period: Period
    district: str | None
    """``None``: the whole city."""
    as_of: datetime
    """The moment its balances and outcomes stand at: the period's end, or now if sooner."""
    figures: tuple[Figure, ...]
    tables: tuple[Table, ...]
    industries: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Each industry's names (Chinese, English), by code."""

    def figure(self, key: str) -> Figure:
        """The figure ``key``."""
        return next(f for f in self.figures if f.key == key)

    def table(self, key: str) -> Table:
        """The table ``key``."""
        return next(t for t in self.tables if t.key == key)


def change_bp(value: float | None, before: float | None) -> int | None:
    """``value`` against ``before`` in basis points (rounded half away from zero)."""
    if value is None or not before:
        return None
    ratio = (value - before) * 10_000 / before
    return int(ratio + 0.5) if ratio >= 0 else -int(-ratio + 0.5)


def ratio_bp(part: int, whole: int) -> int | None:
    """``part`` of ``whole`` in basis points (rounded half up); ``None`` of nothing."""
    if not whole:
        return None
    return (part * 10_000 * 2 + whole) // (whole * 2)


class Words:
    """How a report's parts are said in one language."""

    def __init__(self, lang: str, industries: Mapping[str, tuple[str, str]]) -> None:
        self.lang = lang
        self.industries = industries

    def __call__(self, msgid: str, /, **params: object) -> str:
        """A message in the reader's language."""
        return gettext(self.lang, msgid, **params)

    def period(self, period: Period) -> str:
        """``2026年11月`` / ``Nov 2026``; ``2026年第4季度`` / ``Q4 2026``."""
        if period.kind == "month":
            return self("rp_period_month", year=period.year, name=month(period.first, self.lang))
        return self("rp_period_quarter", year=period.year, quarter=period.number)

    def reach(self, district: str | None) -> str:
        """The district, or the whole city."""
        return district if district is not None else self("rp_city")

    def industry(self, code: str) -> str:
        """An industry's name (its code if it has none)."""
        names = self.industries.get(code)
        if names is None:
            return code
        return names[1] if self.lang == "en" else names[0]

    def header(self, column: Column) -> str:
        """A column's heading."""
        return self(f"rp_col_{column.key}")

    def title(self, table: Table) -> str:
        """A table's title."""
        return self(f"rp_table_{table.key}")

    def said(self, kind: Kind, value: Cell, prefix: str = "") -> str:  # noqa: C901, PLR0911
        """A value as the reader reads it."""
        if value is None:
            return "—"
        if kind is Kind.INDUSTRY:
            return self.industry(str(value))
        if kind is Kind.CODE:
            return self(f"{prefix}{value}")
        if kind is Kind.MONTH:
            first = date.fromisoformat(f"{value}-01")
            return self("rp_period_month", year=first.year, name=month(first, self.lang))
        if kind is Kind.DAY:
            return day(date.fromisoformat(str(value)), self.lang)
        if kind is Kind.FEN:
            return money(int(value), self.lang)
        if kind is Kind.BP:
            return share(int(value), self.lang)
        if kind is Kind.CHANGE:
            said = share(int(value), self.lang)
            return f"+{said}" if int(value) > 0 else said
        if kind is Kind.DAYS:
            return number(round(float(value), 1), self.lang)
        if kind is Kind.PROBABILITY:
            return f"{float(value) * 100:.1f}%"
        if kind is Kind.COUNT:
            return number(int(value), self.lang)
        return str(value)

    def cell(self, column: Column, value: Cell) -> str:
        """A cell as the reader reads it."""
        return self.said(column.kind, value, column.prefix)
