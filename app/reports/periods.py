"""Report periods: a calendar month (``2026-11``) or quarter (``2026-Q4``), in Shanghai time.

A period runs from its first Shanghai midnight to the first midnight after it. Its report is
compared with the same period one year earlier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal

from app.clock import shanghai_midnight, today
from app.exceptions import Invalid

if TYPE_CHECKING:
    from datetime import datetime

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq](\d)$")
FIRST_YEAR = 2000
"""No report is asked for before this year; an earlier one is a typing slip."""
QUARTERS = 4
MONTHS = 12


@dataclass(frozen=True)
class Period:
    """One month or one quarter of the Shanghai calendar."""

    kind: Literal["month", "quarter"]
    year: int
    number: int
    """The month (1-12) or the quarter (1-4)."""

    @property
    def code(self) -> str:
        """As written in a request: ``2026-11`` or ``2026-Q4``."""
        if self.kind == "month":
            return f"{self.year}-{self.number:02d}"
        return f"{self.year}-Q{self.number}"

    @property
    def first(self) -> date:
        """Its first calendar day."""
        month = self.number if self.kind == "month" else 3 * self.number - 2
        return date(self.year, month, 1)

    @property
    def after(self) -> date:
        """The first calendar day after it."""
        months = 1 if self.kind == "month" else 3
        month = self.first.month - 1 + months
        return date(self.year + month // MONTHS, month % MONTHS + 1, 1)

    @property
    def start(self) -> datetime:
        """The moment it begins (Shanghai midnight, in UTC)."""
        return shanghai_midnight(self.first)

    @property
    def end(self) -> datetime:
        """The moment it ends: the midnight after its last day (not part of it)."""
        return shanghai_midnight(self.after)

    def year_before(self) -> Period:
        """The same period one year earlier: what its figures are compared with."""
        return Period(self.kind, self.year - 1, self.number)

    def months(self) -> list[date]:
        """The first day of each of its months."""
        count = 1 if self.kind == "month" else 3
        return [date(self.year, self.first.month + i, 1) for i in range(count)]


def parse(code: str) -> Period:
    """``2026-11`` or ``2026-Q4``; anything else, or a period not yet begun, is refused."""
    text = code.strip()
    period: Period | None = None
    if found := _MONTH.match(text):
        year, month = int(found[1]), int(found[2])
        if 1 <= month <= MONTHS:
            period = Period("month", year, month)
    elif found := _QUARTER.match(text):
        year, quarter = int(found[1]), int(found[2])
        if 1 <= quarter <= QUARTERS:
            period = Period("quarter", year, quarter)
    if period is None or period.year < FIRST_YEAR:
        raise Invalid(
            "report-period-invalid", fields={"period": "report-period-invalid"}, period=text
        )
    if period.first > today():
        raise Invalid(
            "report-period-future", fields={"period": "report-period-future"}, period=text
        )
    return period


def this_month() -> Period:
    """The month in progress (Shanghai): the report page's first period."""
    now = today()
    return Period("month", now.year, now.month)


def recent(months: int = 12, quarters: int = 8) -> list[Period]:
    """The periods a picker offers: the last ``months`` months, then the last ``quarters``."""
    now = today()
    found: list[Period] = []
    year, month = now.year, now.month
    for _ in range(months):
        found.append(Period("month", year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, MONTHS)
    year, quarter = now.year, (now.month - 1) // 3 + 1
    for _ in range(quarters):
        found.append(Period("quarter", year, quarter))
        year, quarter = (year, quarter - 1) if quarter > 1 else (year - 1, QUARTERS)
    return found
