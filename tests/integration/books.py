"""Drive the ledger on PostgreSQL, one transaction per call, as the app does."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import text

import escrow
from escrow import EscrowLedger

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

T = TypeVar("T")

DUE = datetime(2030, 1, 1, tzinfo=UTC)
"""A payable's deadline far ahead: tests that are not about deadlines never reach it."""


class Books:
    """Runs each ledger call as its own unit of work, as the app does."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def do(self, op: Callable[[EscrowLedger], Awaitable[T]]) -> T:
        async with self.sessions() as session, session.begin():
            return await op(EscrowLedger(session))

    async def open(self) -> uuid.UUID:
        merchant = uuid.uuid4()
        await self.do(lambda ledger: ledger.open_book(merchant))
        return merchant

    async def buy(
        self,
        merchant: uuid.UUID,
        paid: int,
        units: int | None = None,
        ratio: int = 3000,
        kind: escrow.CardKind = escrow.CardKind.STORED_VALUE,
    ) -> escrow.PurchaseReceipt:
        return await self.do(
            lambda ledger: ledger.purchase(
                merchant,
                kind=kind,
                paid=paid,
                units_total=units or paid,
                custody_ratio_bp=ratio,
                idempotency_key=uuid.uuid4().hex,
            )
        )

    async def verify(self, *merchants: uuid.UUID) -> escrow.VerifyReport:
        async with self.sessions() as session, session.begin():
            return await escrow.verify(session, merchants)

    async def counts(self, merchant: uuid.UUID) -> dict[str, Any]:
        """Row counts and balances of one book: equal before and after means nothing written."""
        async with self.sessions() as session:
            row = (
                await session.execute(
                    text("""
                    SELECT (SELECT count(*) FROM journal_entries WHERE merchant_id = :m) AS entries,
                           (SELECT count(*) FROM postings WHERE merchant_id = :m) AS postings,
                           (SELECT count(*) FROM cards WHERE merchant_id = :m) AS cards,
                           (SELECT count(*) FROM idempotency_records WHERE merchant_id = :m)
                             AS keys,
                           (SELECT array_agg(balance ORDER BY kind) FROM accounts
                             WHERE merchant_id = :m) AS balances,
                           (SELECT array_agg(outstanding || '/' || units_remaining ORDER BY id)
                              FROM cards WHERE merchant_id = :m) AS card_state
                    """),
                    {"m": merchant},
                )
            ).one()
            return dict(row._mapping)
