"""The re-rate queue: a merchant is queued in the same transaction as whatever changed its risk.

One row per merchant (a burst of events is one re-rate); the worker takes rows with
``FOR UPDATE SKIP LOCKED``, so any number of workers share the queue and none rates a merchant
another is rating. A cause arriving while its merchant is being rated waits for that
transaction and queues the merchant again, so no event is missed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import literal, null, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.clock import utcnow
from app.merchants.models import Merchant
from app.risk.models import RerateRequest

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.ext.asyncio import AsyncSession


async def request_rerate(
    session: AsyncSession, merchant_id: uuid.UUID, cause: str, cause_ref: str | None = None
) -> None:
    """Queue ``merchant_id`` for re-rating because of ``cause`` (the latest cause is kept)."""
    stmt = pg_insert(RerateRequest).values(
        merchant_id=merchant_id, cause=cause, cause_ref=cause_ref, requested_at=utcnow()
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[RerateRequest.merchant_id],
            set_={"cause": stmt.excluded.cause, "cause_ref": stmt.excluded.cause_ref},
        )
    )


async def request_all(session: AsyncSession, cause: str) -> int:
    """Queue every merchant (a new model was activated); return how many."""
    stmt = pg_insert(RerateRequest).from_select(
        ["merchant_id", "cause", "cause_ref", "requested_at"],
        select(Merchant.id, literal(cause), null(), literal(utcnow())),
    )
    result = await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[RerateRequest.merchant_id], set_={"cause": stmt.excluded.cause}
        ).returning(RerateRequest.merchant_id)
    )
    return len(result.all())
