"""Refunding a card: in full at once within cooling-off, otherwise asked of the merchant.

Unused and within its cooling-off period, a card is refunded at once; used, or later, the
holder's request goes to the merchant, who accepts (the ledger refunds what is outstanding)
or refuses, saying why (the holder may then complain to the regulator).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

import escrow
from app.cards.models import CardHolder, RefundRequest, RefundStatus
from app.cards.rows import required
from app.clock import today, utcnow
from app.exceptions import Conflict, Invalid, NotFound
from app.ledger import escrow_ledger
from app.merchants.models import Industry, Merchant
from app.merchants.rules import cooling_off_days
from app.payables.deadlines import payable_due_at

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal


@dataclass(frozen=True)
class CoolingOff:
    """A card's cooling-off period: the last Shanghai day of it, and whether it still runs."""

    last_day: date
    running: bool


def cooling_off(bought: datetime, days: int, now: datetime) -> CoolingOff:
    """Counted in Shanghai calendar days: bought on day 0, refundable through day ``days``."""
    last_day = today(bought) + timedelta(days=days)
    return CoolingOff(last_day, today(now) <= last_day)


async def cooling_off_of(session: AsyncSession, holder: CardHolder) -> CoolingOff:
    """The card's cooling-off period, by its merchant's industry.

    Counted from the purchase: a card a successor took over is the same purchase, not a new
    one, so moving it starts no new period.
    """
    merchant = await required(session, Merchant, holder.merchant_id)
    industry = await session.get(Industry, merchant.industry)
    bought = holder
    while bought.transferred_from is not None:
        bought = await required(session, CardHolder, bought.transferred_from)
    return cooling_off(bought.created_at, cooling_off_days(industry), utcnow())


@dataclass(frozen=True)
class RefundOutcome:
    """Either refunded at once (cooling-off) or sent to the merchant to answer."""

    status: str
    refund: escrow.RefundReceipt | None
    request: RefundRequest | None


async def request_refund(
    session: AsyncSession, holder: CardHolder, reason: str, idempotency_key: str
) -> RefundOutcome:
    """Refund at once within cooling-off if the card is unused; else ask the merchant.

    The same key and reason answer a retry with the first outcome; another reason is 409.
    """
    earlier = await session.scalar(
        select(RefundRequest).where(
            RefundRequest.card_id == holder.card_id,
            RefundRequest.idempotency_key == idempotency_key,
        )
    )
    if earlier is not None:
        if earlier.reason != reason:
            raise Conflict("refund-key-reused")
        return RefundOutcome("requested", None, earlier)
    ledger = escrow_ledger(session)
    key = f"refund:{holder.card_id}:{idempotency_key}"
    if (await cooling_off_of(session, holder)).running:
        try:
            receipt = await ledger.refund(
                holder.merchant_id,
                holder.card_id,
                idempotency_key=key,
                require_unused=True,
                payable_due_at=payable_due_at(),
            )
        except escrow.CardUsed:
            pass  # used, so it is the merchant's to answer
        else:
            return RefundOutcome("refunded", receipt, None)
    balance = await ledger.card(holder.merchant_id, holder.card_id)
    if balance.status != escrow.CardStatus.OPEN:
        raise Conflict("card-not-refundable", status=balance.status)
    pending = await session.scalar(
        select(RefundRequest).where(
            RefundRequest.card_id == holder.card_id,
            RefundRequest.status == RefundStatus.PENDING,
        )
    )
    if pending is not None:
        raise Conflict("refund-request-pending")
    request = RefundRequest(
        card_id=holder.card_id,
        merchant_id=holder.merchant_id,
        reason=reason,
        idempotency_key=idempotency_key,
        status=RefundStatus.PENDING,
    )
    session.add(request)
    await session.flush()
    return RefundOutcome("requested", None, request)


async def refund_requests_of(session: AsyncSession, card_id: uuid.UUID) -> list[RefundRequest]:
    """A card's refund requests, newest first."""
    found = await session.scalars(
        select(RefundRequest)
        .where(RefundRequest.card_id == card_id)
        .order_by(RefundRequest.created_at.desc())
    )
    return list(found.all())


async def merchant_refund_requests(
    session: AsyncSession, me: Principal, status: str | None
) -> list[RefundRequest]:
    """The merchant's refund requests, newest first."""
    query = select(RefundRequest).where(RefundRequest.merchant_id == me.merchant_id)
    if status:
        query = query.where(RefundRequest.status == status)
    return list((await session.scalars(query.order_by(RefundRequest.created_at.desc()))).all())


async def answer_refund(
    session: AsyncSession,
    me: Principal,
    request_id: uuid.UUID,
    *,
    accept: bool,
    answer: str,
) -> RefundRequest:
    """The merchant accepts (the ledger refunds the outstanding amount) or refuses, saying why.

    A refusal needs a reason: the holder reads it, and the regulator if the holder complains.
    """
    if not accept and not answer.strip():
        raise Invalid("refusal-needs-reason", fields={"answer": "reason-required"})
    request = await session.get(RefundRequest, request_id, with_for_update=True)
    if request is None or request.merchant_id != me.merchant_id:
        raise NotFound("refund-request-not-found")
    if request.status != RefundStatus.PENDING:
        raise Conflict("refund-request-answered", status=request.status)
    if accept:
        receipt = await escrow_ledger(session).refund(
            request.merchant_id,
            request.card_id,
            idempotency_key=f"refund-request:{request.id}",
            payable_due_at=payable_due_at(),
        )
        request.refunded = receipt.refunded
    request.status = RefundStatus.ACCEPTED if accept else RefundStatus.REFUSED
    request.answer = answer
    request.decided_at = utcnow()
    request.decided_by = me.user_id
    await session.flush()
    return request
