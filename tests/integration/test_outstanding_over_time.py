"""What consumers could ask back, and what a policy stood to pay, at past moments: today's
balance less what moved since."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import escrow
from escrow import EscrowLedger

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

JAN = datetime(2026, 1, 10, tzinfo=UTC)


async def test_outstanding_at_past_moments_follows_every_sale_and_use(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    moments: list[datetime] = []

    def clock() -> datetime:
        return moments[-1]

    async def at(moment: datetime, op):
        moments.append(moment)
        async with sessions() as session, session.begin():
            return await op(EscrowLedger(session, clock=clock))

    shop, other = uuid.uuid4(), uuid.uuid4()
    for book in (shop, other):
        await at(JAN, lambda ledger, book=book: ledger.open_book(book))

    def sale(book: uuid.UUID, fen: int):
        return lambda ledger: ledger.purchase(
            book,
            kind=escrow.CardKind.STORED_VALUE,
            paid=fen,
            units_total=fen,
            custody_ratio_bp=3000,
            idempotency_key=uuid.uuid4().hex,
        )

    first = await at(JAN + timedelta(days=1), sale(shop, 100_000))
    await at(JAN + timedelta(days=20), sale(shop, 50_000))
    await at(JAN + timedelta(days=21), sale(other, 70_000))  # not asked about
    await at(
        JAN + timedelta(days=40),
        lambda ledger: ledger.redeem(
            shop, first.card.card_id, units=30_000, idempotency_key=uuid.uuid4().hex
        ),
    )
    asked = [JAN, JAN + timedelta(days=2), JAN + timedelta(days=30), JAN + timedelta(days=50)]
    async with sessions() as session:
        found = await escrow.outstanding_at(session, [shop], asked)
        today = await escrow.outstanding(session, [shop])
    assert found == [0, 100_000, 150_000, 120_000]
    assert found[-1] == today[shop]
    # the insurer's side: the insured 70% of each card, less what a redemption released
    async with sessions() as session:
        exposure = await escrow.policy_exposure_at(session, [shop], asked)
        policy = (await EscrowLedger(session).balances(shop))[escrow.AccountKind.POLICY]
    assert exposure == [0, 70_000, 105_000, 84_000]
    assert exposure[-1] == -policy
    async with sessions() as session:
        assert await escrow.outstanding_at(session, [shop], []) == []
        both = await escrow.outstanding_at(session, [shop, other], [JAN + timedelta(days=30)])
    assert both == [220_000]
