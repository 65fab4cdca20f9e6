"""Use cases over the escrow ledger that are not tied to a web request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.pool import NullPool

import escrow
from app.clock import utcnow
from app.db import create_engine, session_factory

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


def escrow_ledger(session: AsyncSession) -> escrow.EscrowLedger:
    """The escrow ledger of this unit of work, reading the app's clock (never the system's)."""
    return escrow.EscrowLedger(session, clock=utcnow)


async def verify_ledger(url: str | None = None) -> escrow.VerifyReport:
    """Run ``escrow.verify`` in one read-only REPEATABLE READ snapshot."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with session_factory(engine)() as session:
            await session.connection(
                execution_options={
                    "isolation_level": "REPEATABLE READ",
                    "postgresql_readonly": True,
                }
            )
            return await escrow.verify(session)
    finally:
        await engine.dispose()
