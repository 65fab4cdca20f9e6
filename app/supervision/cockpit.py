"""What needs a regulator today, in her reach: the head of the dashboard (数字驾驶舱).

Open warnings by age, disputes awaiting her decision, steps past their deadline, merchants
whose custody is short, the week's grade changes, complaints and money owed to consumers month
by month: each a few counts from one query, so the dashboard answers at once for a district of
thousands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, func, select, text, true

import escrow
from app.auth.models import Role
from app.clock import SHANGHAI, last_months, shanghai_midnight
from app.closures.models import Closure, ClosureCard, ClosureStatus
from app.merchants.models import Merchant, SalesBlock, SalesBlockKind
from app.risk.complaints import COMPLAINTS_SQL
from app.risk.models import RatingChange
from app.supervision.dispute_rules import OPEN, DisputeOwner
from app.supervision.models import Dispute, WarningStatus
from app.supervision.models import Warning as WarningRow
from scoring import GRADES

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import date, datetime

    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import InstrumentedAttribute
    from sqlalchemy.sql.elements import ColumnElement

    from app.auth.principal import Principal

MONTHS = 12
"""Complaints are counted for the last twelve calendar months, this one included."""


@dataclass(frozen=True)
class Agenda:
    """The counts at the head of the dashboard; each links to the queue that lists them."""

    warnings_new: int
    """Open warnings raised in the last day."""
    warnings_days: int
    """Open warnings one to three days old."""
    warnings_old: int
    """Open warnings older than three days: the ones to chase."""
    disputes_mine: int
    """Disputes awaiting the regulator's decision (待我裁决)."""
    disputes_overdue: int
    """Open disputes past their step's deadline, whoever's move it is."""
    shortfalls: int
    """Merchants whose custody account held less than the ledger (sales held)."""
    grades_down: int
    """Grade changes to a worse grade in the last seven days."""
    grades_up: int
    closures: int
    """Merchants closing in good order: announced, not yet closed."""
    closure_cards_undecided: int
    """Cards of those merchants whose holders have not chosen yet."""
    complaints_by_month: list[tuple[date, int]]
    """The first day of each of the last twelve months (Shanghai), with complaints filed."""
    outstanding_by_month: list[tuple[date, int]]
    """The same months, with what consumers could ask back at each month's end (this month:
    now)."""

    @property
    def warnings_open(self) -> int:
        """Open warnings, whatever their age."""
        return self.warnings_new + self.warnings_days + self.warnings_old


def _district(me: Principal, column: InstrumentedAttribute[str]) -> ColumnElement[bool]:
    """A district regulator sees her district; a city-level one and an operator, all."""
    if me.role is Role.REGULATOR and me.district is not None:
        return column == me.district
    return true()


async def agenda(session: AsyncSession, me: Principal, now: datetime) -> Agenda:
    """What needs ``me`` today, counted in her reach."""
    age = now - WarningRow.raised_at
    warnings = (
        await session.execute(
            select(
                func.count().filter(age < timedelta(days=1)),
                func.count().filter(and_(age >= timedelta(days=1), age < timedelta(days=3))),
                func.count().filter(age >= timedelta(days=3)),
            ).where(
                WarningRow.status != WarningStatus.CLOSED.value,
                _district(me, WarningRow.district),
            )
        )
    ).one()
    open_disputes = Dispute.status.in_([s.value for s in OPEN])
    disputes = (
        await session.execute(
            select(
                func.count().filter(Dispute.owner == DisputeOwner.REGULATOR.value),
                func.count().filter(Dispute.deadline_at < now),
            ).where(open_disputes, _district(me, Dispute.district))
        )
    ).one()
    shortfalls = await session.scalar(
        select(func.count(func.distinct(SalesBlock.merchant_id)))
        .join(Merchant, Merchant.id == SalesBlock.merchant_id)
        .where(
            SalesBlock.kind == SalesBlockKind.CUSTODY_SHORTFALL.value,
            SalesBlock.lifted_at.is_(None),
            _district(me, Merchant.district),
        )
    )
    order = "".join(GRADES)  # A safest … E riskiest: a later letter is a worse grade
    before = func.strpos(order, RatingChange.from_grade)
    after = func.strpos(order, RatingChange.to_grade)
    grades = (
        await session.execute(
            select(
                func.count().filter(and_(before > 0, after > before)),
                func.count().filter(and_(before > 0, after < before)),
            )
            .join(Merchant, Merchant.id == RatingChange.merchant_id)
            .where(
                RatingChange.changed_at >= now - timedelta(days=7),
                _district(me, Merchant.district),
            )
        )
    ).one()
    closing = (
        await session.execute(
            select(
                func.count(func.distinct(Closure.id)),
                func.count(ClosureCard.card_id).filter(
                    ClosureCard.choice.is_(None), ClosureCard.outcome.is_(None)
                ),
            )
            .select_from(Closure)
            .join(Merchant, Merchant.id == Closure.merchant_id)
            .outerjoin(ClosureCard, ClosureCard.closure_id == Closure.id)
            .where(Closure.status == ClosureStatus.ANNOUNCED, _district(me, Merchant.district))
        )
    ).one()
    reach = me.district if me.role is Role.REGULATOR else None
    months = await trend(session, reach, last_months(now, MONTHS))
    return Agenda(
        warnings_new=int(warnings[0]),
        warnings_days=int(warnings[1]),
        warnings_old=int(warnings[2]),
        disputes_mine=int(disputes[0]),
        disputes_overdue=int(disputes[1]),
        shortfalls=int(shortfalls or 0),
        grades_down=int(grades[0]),
        grades_up=int(grades[1]),
        closures=int(closing[0]),
        closure_cards_undecided=int(closing[1]),
        complaints_by_month=months.complaints_by_month,
        outstanding_by_month=months.outstanding_by_month,
    )


_MONTHLY = text(f"""
    SELECT date_trunc('month', timezone(:tz, c.filed_at)) AS month, count(*)
      FROM {COMPLAINTS_SQL} AS c
      JOIN merchants m ON m.id = c.merchant_id
     WHERE c.filed_at >= :since AND c.filed_at < :until
       AND (CAST(:district AS text) IS NULL OR m.district = :district)
     GROUP BY 1
""")  # noqa: S608 - the interpolated part is a constant
"""Complaints (disputes and matched 12345 tickets, as :mod:`app.risk.complaints` counts them)
filed in each Shanghai month, in a district or the city."""


@dataclass(frozen=True)
class Trend:
    """Complaints filed in each month, and what consumers could ask back at each month's end."""

    complaints_by_month: list[tuple[date, int]]
    outstanding_by_month: list[tuple[date, int]]


async def trend(
    session: AsyncSession, district: str | None, months: Sequence[tuple[date, datetime]]
) -> Trend:
    """Month by month in ``district`` (``None``: the city): the cockpit's and the reports'.

    ``months``: each month's first day and the moment it ended (:func:`app.clock.last_months`).
    """

    def _in(column: InstrumentedAttribute[str]) -> ColumnElement[bool]:
        return true() if district is None else column == district

    filed = await session.execute(
        _MONTHLY,
        {
            "tz": str(SHANGHAI),
            "since": shanghai_midnight(months[0][0]),
            "until": months[-1][1],
            "district": district,
        },
    )
    by_month: dict[date, int] = {key.date(): int(n) for key, n in filed.all()}
    in_reach = (await session.scalars(select(Merchant.id).where(_in(Merchant.district)))).all()
    owed = await escrow.outstanding_at(session, in_reach, [end for _, end in months])
    return Trend(
        complaints_by_month=[(first, by_month.get(first, 0)) for first, _ in months],
        outstanding_by_month=[(first, fen) for (first, _), fen in zip(months, owed, strict=True)],
    )
