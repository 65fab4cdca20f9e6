"""What the simulation checks after every day, against what it knows it did.

* the ledger verifies (``escrow.verify``: balances, chains, every payable's parts) for the
  merchants touched that day, and for all of them every 30 days and at the end;
* every card used that day has the outstanding its own units say;
* every consumer owed money back (a refund in any path, a compensation, a default) has been
  paid no more than owed, and the whole of it by the payable's deadline plus the insurer's
  time;
* every merchant with a new record, sale or complaint that day was re-rated that day;
* every warning a day's events call for was raised, and the grades hard stops call for hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import func, select, text

import escrow
from app.clock import shanghai_midnight
from app.ledger import escrow_ledger
from app.risk.models import Rating, RatingChange
from app.supervision.models import Warning as WarningRow

if TYPE_CHECKING:
    import uuid
    from datetime import date

    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from app.supervision.models import WarningRule

FULL_VERIFY_EVERY = 30


class Owed(Protocol):
    """A card the simulation owes money back on."""

    card_id: uuid.UUID
    owed_back: int
    whole_by: date | None


class Used(Protocol):
    """A card the simulation used."""

    card_id: uuid.UUID
    paid: int
    units_total: int
    units_used: int


@dataclass(frozen=True)
class Expect:
    """A warning a day's events must raise."""

    merchant_id: uuid.UUID
    rule: WarningRule
    day: int
    why: str


_RETURNED = text("""
    SELECT card_id, sum(amount)::bigint AS returned
      FROM postings
     WHERE card_id = ANY(:cards) AND account = 'consumers' AND amount > 0
     GROUP BY card_id
""")


@dataclass
class Checks:
    """The checks of one run, and what they were told during each day."""

    sessions: async_sessionmaker[AsyncSession]
    count: int = 0
    entries: int = 0
    settled: dict[str, int] = field(default_factory=dict)
    _touched: set[uuid.UUID] = field(default_factory=set)
    """Merchants whose books changed today: verified tonight."""
    _news: set[uuid.UUID] = field(default_factory=set)
    """Merchants with a sale, a record or a complaint today: re-rated tonight."""
    _used: list[tuple[Used, uuid.UUID]] = field(default_factory=list)
    _owed: dict[uuid.UUID, Owed] = field(default_factory=dict)
    _warnings: list[Expect] = field(default_factory=list)
    _grades: list[tuple[uuid.UUID, str]] = field(default_factory=list)

    # -- told during the day ---------------------------------------------------------------

    def expect_rated(self, merchant_id: uuid.UUID) -> None:
        """A new merchant: it must be rated by the evening (its registration queued it)."""
        self._news.add(merchant_id)

    def news(self, merchant_id: uuid.UUID) -> None:
        """A record or a complaint: the merchant is re-rated today."""
        self._news.add(merchant_id)

    def sold(self, merchant_id: uuid.UUID) -> None:
        """A sale: the merchant is re-rated today, and its books verified tonight."""
        self._news.add(merchant_id)
        self._touched.add(merchant_id)

    def moved(self, merchant_id: uuid.UUID) -> None:
        """Money moved in the merchant's books (a refund, a payment, a default...)."""
        self._touched.add(merchant_id)

    def used(self, card: Used, merchant_id: uuid.UUID) -> None:
        """A card was used: its outstanding must follow."""
        self._used.append((card, merchant_id))
        self._touched.add(merchant_id)

    def owed(self, card: Owed) -> None:
        """The card's consumer is owed money back."""
        self._owed[card.card_id] = card

    def expect(self, expectation: Expect) -> None:
        """A warning that must have been raised by tonight."""
        self._warnings.append(expectation)

    def expect_grade(self, merchant_id: uuid.UUID, grade: str) -> None:
        """A hard stop that must have floored the merchant's grade by tonight."""
        self._grades.append((merchant_id, grade))

    # -- checked at night -----------------------------------------------------------------

    async def end_of_day(self, day: int, today: date) -> list[str]:
        """Every check of the day; the problems found (none: the day holds)."""
        problems: list[str] = []
        start = shanghai_midnight(today)
        async with self.sessions() as session:
            everyone = day % FULL_VERIFY_EVERY == FULL_VERIFY_EVERY - 1
            problems += await self._verify(session, None if everyone else self._touched)
            problems += await self._outstanding(session)
            problems += await self._refunds(session, today)
            problems += await self._rated(session, start)
            problems += await self._warnings_raised(session)
            problems += await self._grades_held(session)
        self._touched.clear()
        self._news.clear()
        self._used.clear()
        self._warnings.clear()
        self._grades.clear()
        return problems

    async def verify_all(self) -> list[str]:
        """The whole ledger, at the end of the run."""
        async with self.sessions() as session:
            return await self._verify(session, None)

    async def _verify(self, session: AsyncSession, merchants: set[uuid.UUID] | None) -> list[str]:
        if merchants is not None and not merchants:
            return []
        report = await escrow.verify(session, merchants)
        self.count += 1
        if merchants is None:
            self.entries = report.entries
            self.settled = dict(report.settled)
        return [f"ledger: {problem}" for problem in report.problems]

    async def _outstanding(self, session: AsyncSession) -> list[str]:
        problems = []
        ledger = escrow_ledger(session)
        for card, merchant_id in self._used:
            held = await ledger.card(merchant_id, card.card_id)
            expected = escrow.refundable(
                card.paid, card.units_total - card.units_used, card.units_total
            )
            self.count += 1
            if held.status == "open" and held.outstanding != expected:
                problems.append(
                    f"card {card.card_id}: outstanding {held.outstanding}, its units say {expected}"
                )
        return problems

    async def _refunds(self, session: AsyncSession, today: date) -> list[str]:
        if not self._owed:
            return []
        rows = await session.execute(_RETURNED, {"cards": list(self._owed)})
        returned = {row.card_id: int(row.returned) for row in rows}
        problems = []
        for card_id, card in list(self._owed.items()):
            got = returned.get(card_id, 0)
            self.count += 1
            if got > card.owed_back:
                problems.append(f"card {card_id}: consumer got {got}, owed only {card.owed_back}")
            elif got == card.owed_back:
                del self._owed[card_id]
            elif card.whole_by is not None and today > card.whole_by:
                problems.append(
                    f"card {card_id}: consumer got {got} of {card.owed_back} by {today},"
                    f" due in full by {card.whole_by}"
                )
        return problems

    async def _rated(self, session: AsyncSession, start: object) -> list[str]:
        if not self._news:
            return []
        rows = await session.execute(
            select(Rating.merchant_id, Rating.rated_at).where(
                Rating.merchant_id.in_(list(self._news))
            )
        )
        rated = dict(rows.all())
        self.count += len(self._news)
        return [
            f"merchant {m} had news today but was not re-rated (last {rated.get(m)})"
            for m in sorted(self._news, key=str)
            if m not in rated or rated[m] < start  # type: ignore[operator]
        ]

    async def _warnings_raised(self, session: AsyncSession) -> list[str]:
        problems = []
        for e in self._warnings:
            found = await session.scalar(
                select(func.count())
                .select_from(WarningRow)
                .where(WarningRow.merchant_id == e.merchant_id, WarningRow.rule == e.rule.value)
            )
            self.count += 1
            if not found:
                problems.append(f"merchant {e.merchant_id}: no {e.rule.value} warning ({e.why})")
        return problems

    async def _grades_held(self, session: AsyncSession) -> list[str]:
        problems = []
        for merchant_id, grade in self._grades:
            held = await session.scalar(
                select(Rating.grade).where(Rating.merchant_id == merchant_id)
            )
            self.count += 1
            if held != grade:
                problems.append(f"merchant {merchant_id}: grade {held}, a hard stop says {grade}")
        return problems

    async def tallies(self) -> tuple[int, dict[str, int]]:
        """Grade changes, and warnings by rule, over the run."""
        async with self.sessions() as session:
            changes = await session.scalar(select(func.count()).select_from(RatingChange))
            rows = await session.execute(
                select(WarningRow.rule, func.count()).group_by(WarningRow.rule)
            )
            return int(changes or 0), {rule: int(n) for rule, n in rows.all()}
