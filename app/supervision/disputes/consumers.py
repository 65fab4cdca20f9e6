"""The consumer's side of a dispute: filing a complaint, following it, confirming or reopening.

A consumer speaks as a signed-in consumer or as the holder of an anonymous card's link
(:class:`ConsumerSide`); either reaches only its own disputes, anything else is "not found".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import and_, select

from app.auth.models import Role
from app.clock import utcnow
from app.events import publish
from app.exceptions import Forbidden, NotFound
from app.ledger import escrow_ledger
from app.merchants.models import Merchant
from app.supervision import dispute_rules as rules
from app.supervision.dispute_rules import (
    OPEN,
    Complaint,
    DisputeKind,
    DisputeOwner,
    Writing,
)
from app.supervision.disputes.timeline import (
    DisputeView,
    standing_of,
    timelines,
    view_of,
    write,
)
from app.supervision.events import ComplaintFiled
from app.supervision.models import Dispute

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.sql.elements import ColumnElement

    from app.auth.principal import Principal
    from app.cards.models import CardHolder

CONSUMER_ROLE = Role.CONSUMER.value
"""The actor role a consumer's steps are recorded with."""


@dataclass(frozen=True)
class ConsumerSide:
    """Who speaks for the consumer: a signed-in consumer, or an anonymous card link's holder."""

    consumer_id: uuid.UUID | None = None
    card_id: uuid.UUID | None = None
    """Anonymous: the one card its link opens."""

    @classmethod
    def of(cls, who: Principal) -> ConsumerSide:
        """A signed-in consumer."""
        rules.check_party(who.role.value, DisputeOwner.CONSUMER)
        if who.consumer_id is None:
            raise Forbidden("dispute-consumers-only")
        return cls(consumer_id=who.consumer_id)

    @classmethod
    def anonymous(cls, holder: CardHolder) -> ConsumerSide:
        """The holder of an anonymous card's link."""
        return cls(card_id=holder.card_id)

    def owns(self) -> ColumnElement[bool]:
        """The disputes this side may see and act on."""
        if self.consumer_id is not None:
            return Dispute.consumer_id == self.consumer_id
        if self.card_id is not None:
            return and_(Dispute.card_id == self.card_id, Dispute.consumer_id.is_(None))
        raise NotFound("dispute-not-found")  # pragma: no cover - both constructors set one


@dataclass(frozen=True)
class Filed:
    """The dispute filed, or the open one an identical retry found."""

    view: DisputeView
    replayed: bool


async def file_complaint(session: AsyncSession, holder: CardHolder, complaint: Complaint) -> Filed:
    """File a complaint about the holder's card; the merchant has to answer it first.

    Pass the holder locked (``holder_for(..., lock=True)``): filings about one card are then
    serialised, so the rule "one open dispute per card" holds under concurrent retries.
    Refreshes the merchant's complaint indicators, queues a re-rating and checks for a surge
    (:class:`~app.supervision.events.ComplaintFiled`) in the same transaction.
    """
    asked = Complaint(
        kind=DisputeKind(complaint.kind),
        text=rules.written(complaint.text, Writing.COMPLAINT),
        amount_asked=complaint.amount_asked,
    )
    open_one = await session.scalar(
        select(Dispute)
        .where(Dispute.card_id == holder.card_id, Dispute.status.in_(OPEN))
        .order_by(Dispute.filed_at.desc())
        .limit(1)
    )
    if open_one is not None:
        found = Complaint(DisputeKind(open_one.kind), open_one.text, open_one.amount_asked)
        if rules.is_replay(found, asked):
            return Filed(await view_of(session, open_one), replayed=True)
        raise rules.already_open(open_one.id, open_one.filed_at, open_one.status)
    card = await escrow_ledger(session).card(holder.merchant_id, holder.card_id)
    now = utcnow()
    move = rules.filed(now, asked, card.paid)
    merchant = await session.get(Merchant, holder.merchant_id)
    if merchant is None:  # pragma: no cover - the foreign key guarantees it
        raise NotFound("dispute-merchant-not-found")
    dispute = Dispute(
        id=uuid.uuid4(),
        merchant_id=merchant.id,
        district=merchant.district,
        card_id=holder.card_id,
        consumer_id=holder.consumer_id,
        kind=asked.kind.value,
        text=asked.text,
        amount_asked=asked.amount_asked,
        filed_at=now,
    )
    session.add(dispute)
    write(session, dispute, move, role=CONSUMER_ROLE, actor_id=holder.consumer_id, at=now)
    await session.flush()
    await publish(session, ComplaintFiled(merchant.id, dispute.id, now))
    return Filed(await view_of(session, dispute), replayed=False)


async def consumer_disputes(session: AsyncSession, side: ConsumerSide) -> list[DisputeView]:
    """The consumer's disputes (the link's card's, for an anonymous holder), newest first."""
    found = await session.scalars(
        select(Dispute).where(side.owns()).order_by(Dispute.filed_at.desc())
    )
    return await timelines(session, found.all())


async def _consumers(
    session: AsyncSession, side: ConsumerSide, dispute_id: uuid.UUID, *, lock: bool = False
) -> Dispute:
    query = select(Dispute).where(Dispute.id == dispute_id, side.owns())
    found = await session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise NotFound("dispute-not-found")
    return found


async def consumer_dispute(
    session: AsyncSession, side: ConsumerSide, dispute_id: uuid.UUID
) -> DisputeView:
    """One of the consumer's disputes, with its timeline."""
    return await view_of(session, await _consumers(session, side, dispute_id))


async def confirm(session: AsyncSession, side: ConsumerSide, dispute_id: uuid.UUID) -> DisputeView:
    """The consumer accepts the decision: the dispute closes."""
    dispute = await _consumers(session, side, dispute_id, lock=True)
    now = utcnow()
    move = rules.confirmed(await standing_of(session, dispute), now)
    write(session, dispute, move, role=CONSUMER_ROLE, actor_id=side.consumer_id, at=now)
    return await view_of(session, dispute)


async def reopen(
    session: AsyncSession, side: ConsumerSide, dispute_id: uuid.UUID, text: str
) -> DisputeView:
    """The consumer disagrees with the decision (in time, once): the regulator decides again."""
    reason = rules.written(text, Writing.REOPENING)
    dispute = await _consumers(session, side, dispute_id, lock=True)
    now = utcnow()
    move = rules.reopened(await standing_of(session, dispute), now, reason)
    write(session, dispute, move, role=CONSUMER_ROLE, actor_id=side.consumer_id, at=now)
    return await view_of(session, dispute)
