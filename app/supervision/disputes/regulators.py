"""The regulator's side of a dispute: the queue, and the decision with the money it moves.

Regulators reach their own district's disputes (a city-level regulator and operators reach
every district); a dispute out of reach is "not found".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from sqlalchemy import select

import escrow
from app.auth.models import Role
from app.clock import utcnow
from app.exceptions import Conflict, NotFound
from app.ledger import escrow_ledger
from app.payables.deadlines import payable_due_at
from app.supervision import dispute_rules as rules
from app.supervision.dispute_rules import (
    OPEN,
    TAKEN_BY,
    Decision,
    DisputeOwner,
    DisputeStatus,
    Ruling,
    Step,
)
from app.supervision.disputes.timeline import (
    SYSTEM_ROLE,
    DisputeView,
    standing_of,
    timelines,
    view_of,
    write,
)
from app.supervision.models import Dispute

if TYPE_CHECKING:
    import uuid
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.sql.elements import ColumnElement

    from app.auth.principal import Principal


def _supervisor(me: Principal) -> None:
    rules.check_party(me.role.value, TAKEN_BY[Step.DECIDED])


def _in_reach(me: Principal) -> ColumnElement[bool] | None:
    """A regulator's district filter; ``None`` for a city-level regulator or an operator."""
    if me.role is Role.REGULATOR and me.district is not None:
        return Dispute.district == me.district
    return None


@dataclass(frozen=True)
class QueueFilter:
    """What the regulator's queue shows; no status means every open dispute."""

    status: DisputeStatus | None = None
    overdue: bool = False
    merchant_id: uuid.UUID | None = None
    owner: DisputeOwner | None = None
    """Whose move it is: the regulator's own queue is ``REGULATOR`` (待我裁决)."""
    limit: int = 200
    offset: int = 0


async def queue(
    session: AsyncSession, me: Principal, wanted: QueueFilter, now: datetime | None = None
) -> list[DisputeView]:
    """Disputes in the caller's reach, the most urgent (earliest deadline) first."""
    _supervisor(me)
    now = now or utcnow()
    query = select(Dispute)
    if (reach := _in_reach(me)) is not None:
        query = query.where(reach)
    if wanted.status is not None:
        query = query.where(Dispute.status == wanted.status.value)
    else:
        query = query.where(Dispute.status.in_(OPEN))
    if wanted.overdue:
        query = query.where(Dispute.status.in_(OPEN), Dispute.deadline_at < now)
    if wanted.merchant_id is not None:
        query = query.where(Dispute.merchant_id == wanted.merchant_id)
    if wanted.owner is not None:
        query = query.where(Dispute.owner == wanted.owner.value)
    query = query.order_by(
        Dispute.deadline_at.asc().nulls_last(), Dispute.filed_at.asc(), Dispute.id
    )
    found = await session.scalars(query.limit(wanted.limit).offset(wanted.offset))
    return [await with_decisions(session, v) for v in await timelines(session, found.all())]


async def with_decisions(session: AsyncSession, view: DisputeView) -> DisputeView:
    """The view with the decisions open to the regulator now (none unless it is their move).

    A form never offers what the ledger would refuse.
    """
    dispute = view.dispute
    if dispute.owner != DisputeOwner.REGULATOR:
        return view
    card = await escrow_ledger(session).card(dispute.merchant_id, dispute.card_id)
    return replace(view, decisions=rules.decisions_for(str(card.status)))


async def hand_over_from(session: AsyncSession, merchant_id: uuid.UUID, now: datetime) -> int:
    """A merchant declared in default: the disputes waiting on its answer pass on; how many.

    See :func:`app.supervision.dispute_rules.merchant_defaulted`.
    """
    waiting = await session.scalars(
        select(Dispute)
        .where(
            Dispute.merchant_id == merchant_id,
            Dispute.status.in_(OPEN),
            Dispute.owner == DisputeOwner.MERCHANT.value,
        )
        .order_by(Dispute.id)
        .with_for_update()
    )
    moved = 0
    for dispute in waiting.all():
        move = rules.merchant_defaulted(await standing_of(session, dispute), now)
        if move is not None:
            write(session, dispute, move, role=SYSTEM_ROLE, actor_id=None, at=now)
            moved += 1
    await session.flush()
    return moved


async def _supervised(
    session: AsyncSession, me: Principal, dispute_id: uuid.UUID, *, lock: bool = False
) -> Dispute:
    _supervisor(me)
    query = select(Dispute).where(Dispute.id == dispute_id)
    found = await session.scalar(query.with_for_update() if lock else query)
    if found is None or not me.sees_district(found.district):
        raise NotFound("dispute-not-found")
    return found


async def supervised_dispute(
    session: AsyncSession, me: Principal, dispute_id: uuid.UUID
) -> DisputeView:
    """A dispute in the caller's reach, with its timeline."""
    return await view_of(session, await _supervised(session, me, dispute_id))


async def _pay(
    session: AsyncSession, dispute: Dispute, ruling: Ruling, key: str
) -> tuple[int, int]:
    """Move the decided money; return (amount, ledger entry)."""
    ledger = escrow_ledger(session)
    card = await ledger.card(dispute.merchant_id, dispute.card_id)
    rules.check_payable(ruling, str(card.status), card.paid)
    try:
        if ruling.decision is Decision.REFUND:
            refunded = await ledger.refund(
                dispute.merchant_id,
                dispute.card_id,
                idempotency_key=key,
                payable_due_at=payable_due_at(),
            )
            return refunded.refunded, refunded.seq
        paid = await ledger.compensate(
            dispute.merchant_id,
            dispute.card_id,
            amount=ruling.amount_fen or 0,
            idempotency_key=key,
            payable_due_at=payable_due_at(),
        )
    except escrow.CardNotOpen as exc:  # closed between the look above and the ledger's lock
        card = await ledger.card(dispute.merchant_id, dispute.card_id)
        raise rules.no_money(str(card.status)) from exc
    except escrow.BookFrozen as exc:
        raise Conflict("dispute-merchant-defaulted") from exc
    return paid.amount, paid.seq


async def decide(
    session: AsyncSession, me: Principal, dispute_id: uuid.UUID, ruling: Ruling
) -> DisputeView:
    """The regulator decides; the money moves in the same transaction; the consumer answers.

    Refused whole (nothing written, nothing paid) if the dispute is not the regulator's to
    decide or the money cannot move.
    """
    text = rules.ruling_text(ruling)
    dispute = await _supervised(session, me, dispute_id, lock=True)
    standing = await standing_of(session, dispute)
    rules.check_decidable(standing)
    amount: int | None = None
    seq: int | None = None
    if ruling.decision is not Decision.REJECT:
        amount, seq = await _pay(session, dispute, ruling, rules.decision_key(dispute.id, standing))
    now = utcnow()
    move = rules.decided(standing, now, ruling, text, amount, seq)
    dispute.decision = ruling.decision.value
    dispute.decided_amount = amount
    dispute.decision_text = text
    dispute.decided_by = me.user_id
    dispute.decided_at = now
    dispute.refund_seq = seq
    write(session, dispute, move, role=me.role.value, actor_id=me.user_id, at=now)
    return await view_of(session, dispute)
