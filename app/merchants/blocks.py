"""Sales blocks: why an active merchant may not sell new cards, until a regulator lifts it.

A block is placed by the platform (a custody shortfall found by reconciliation, an ended
policy, a grade whose action is "review", a revoked licence or a filed deregistration), at
most one of each kind at a time, and kept after it is lifted, with who lifted it and why.
Cards already sold are honoured whatever blocks new sales.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.clock import utcnow
from app.i18n.errors import say
from app.merchants.models import SalesBlock, SalesBlockKind

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

WHY = {
    SalesBlockKind.CUSTODY_SHORTFALL: "sales-blocked-custody-shortfall",
    SalesBlockKind.POLICY_ENDED: "sales-blocked-policy-ended",
    SalesBlockKind.GRADE_REVIEW: "sales-held-grade-review",
    SalesBlockKind.HARD_STOP: "sales-stopped-hard-stop",
    SalesBlockKind.CLOSING: "merchant-closing",
}
"""What a consumer is told, per kind of block: an error code (words in the catalogues)."""


async def place(
    session: AsyncSession, merchant_id: uuid.UUID, kind: SalesBlockKind, evidence: dict[str, Any]
) -> bool:
    """Block the merchant's new sales for ``kind``; False if such a block already holds."""
    placed = await session.execute(
        pg_insert(SalesBlock)
        .values(
            id=uuid.uuid4(),
            merchant_id=merchant_id,
            kind=kind.value,
            evidence=evidence,
            placed_at=utcnow(),
        )
        .on_conflict_do_nothing(
            index_elements=["merchant_id", "kind"], index_where=text("lifted_at IS NULL")
        )
        .returning(SalesBlock.id)
    )
    return placed.first() is not None


async def active(
    session: AsyncSession, merchant_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[SalesBlock]]:
    """The blocks holding now, per merchant (merchants without any are absent)."""
    if not merchant_ids:
        return {}
    found: dict[uuid.UUID, list[SalesBlock]] = {}
    for block in await session.scalars(
        select(SalesBlock)
        .where(SalesBlock.merchant_id.in_(list(merchant_ids)), SalesBlock.lifted_at.is_(None))
        .order_by(SalesBlock.placed_at)
    ):
        found.setdefault(block.merchant_id, []).append(block)
    return found


async def of(session: AsyncSession, merchant_id: uuid.UUID) -> list[SalesBlock]:
    """The blocks holding now on one merchant's sales, oldest first."""
    return (await active(session, [merchant_id])).get(merchant_id, [])


async def lift(
    session: AsyncSession, merchant_id: uuid.UUID, *, by: uuid.UUID | None, reason: str
) -> Sequence[SalesBlock]:
    """Lift every block on the merchant's sales; return those lifted (none: nothing held).

    A closing merchant's block stays: its holders were told it sells nothing more.
    """
    lifted = [b for b in await of(session, merchant_id) if b.kind != SalesBlockKind.CLOSING]
    now = utcnow()
    for block in lifted:
        block.lifted_at = now
        block.lifted_by = by
        block.lift_reason = reason
    await session.flush()
    return lifted


def blocked_code(blocks: Sequence[SalesBlock]) -> str | None:
    """The error code saying why new sales are blocked (the first block placed), or None."""
    return WHY[SalesBlockKind(blocks[0].kind)] if blocks else None


def why_blocked(blocks: Sequence[SalesBlock]) -> str | None:
    """What the consumer is told when blocks hold, in English, or None.

    Transitional, for callers that still raise with words: new code raises
    :func:`blocked_code` and lets the catalogues say it.
    """
    code = blocked_code(blocks)
    return None if code is None else say("en", code)
