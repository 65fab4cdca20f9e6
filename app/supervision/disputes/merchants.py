"""The merchant's side of a dispute: the complaints about it, and its answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from app.auth.models import Role
from app.clock import utcnow
from app.exceptions import Forbidden, NotFound
from app.ledger import escrow_ledger
from app.supervision import dispute_rules as rules
from app.supervision.dispute_rules import TAKEN_BY, DisputeOwner, Step, Writing
from app.supervision.disputes.timeline import DisputeView, standing_of, timelines, view_of, write
from app.supervision.models import Dispute

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal


def _merchant_of(me: Principal) -> uuid.UUID:
    rules.check_party(me.role.value, TAKEN_BY[Step.ANSWERED])
    if me.merchant_id is None:
        raise Forbidden("dispute-merchants-only")
    return me.merchant_id


async def merchant_disputes(
    session: AsyncSession, me: Principal, status: str | None = None
) -> list[DisputeView]:
    """The complaints about the caller's merchant, those waiting for its answer first."""
    query = select(Dispute).where(Dispute.merchant_id == _merchant_of(me))
    if status:
        query = query.where(Dispute.status == status)
    query = query.order_by(
        (Dispute.owner != DisputeOwner.MERCHANT.value).asc(),
        Dispute.deadline_at.asc().nulls_last(),
        Dispute.filed_at.desc(),
    )
    return await timelines(session, (await session.scalars(query)).all())


async def _merchants(
    session: AsyncSession, me: Principal, dispute_id: uuid.UUID, *, lock: bool = False
) -> Dispute:
    query = select(Dispute).where(Dispute.id == dispute_id, Dispute.merchant_id == _merchant_of(me))
    found = await session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise NotFound("dispute-not-found")
    return found


async def merchant_dispute(
    session: AsyncSession, me: Principal, dispute_id: uuid.UUID
) -> DisputeView:
    """One complaint about the caller's merchant."""
    return await view_of(session, await _merchants(session, me, dispute_id))


async def answer(
    session: AsyncSession,
    me: Principal,
    dispute_id: uuid.UUID,
    text: str,
    offer_fen: int | None = None,
) -> DisputeView:
    """The merchant answers (once): the dispute goes to the regulator for mediation."""
    reply = rules.written(text, Writing.ANSWER)
    dispute = await _merchants(session, me, dispute_id, lock=True)
    paid = 0
    if offer_fen is not None:
        paid = (await escrow_ledger(session).card(dispute.merchant_id, dispute.card_id)).paid
    now = utcnow()
    move = rules.answered(await standing_of(session, dispute), now, reply, offer_fen, paid)
    dispute.merchant_answer = reply
    dispute.answered_at = now
    write(session, dispute, move, role=Role.MERCHANT.value, actor_id=me.user_id, at=now)
    return await view_of(session, dispute)
