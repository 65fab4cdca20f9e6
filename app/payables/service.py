"""Refund payables: every refund reaches its consumer whole, whoever pays the merchant's part.

When a refund is granted (cooling-off, an accepted request, a dispute's refund or its
compensation), custody pays its share at once and the merchant owes the rest as a *payable*
due in a few Shanghai business days (``PGUARD_PAYABLE_BUSINESS_DAYS``, default 3). Whichever
comes first settles it:

* the merchant pays it through the payment provider (:func:`start_payment`, then the
  provider's signed notification: :func:`apply_payment`);
* it is withheld from the merchant's next sales proceeds (:func:`net_from_sale`, in the
  sale's own transaction);
* at the deadline it becomes a claim line on the merchant's policy (:func:`claim_overdue`,
  run by the deadline worker), which the insurer pays like a default's claim.

A default claims every payable still owed. The ledger keeps each payable's parts (postings
name it), so the card page shows what reached the consumer and how, and ``verify`` proves
``amount = merchant + withheld + insurer + pending`` for every one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select, text

import escrow
from app.auth.models import Role
from app.clock import utcnow
from app.events import publish
from app.exceptions import Conflict, Forbidden, Invalid, NotFound
from app.ledger import escrow_ledger
from app.merchants.models import Merchant
from app.payables.events import OverduePayablesClaimed
from app.payables.models import PayablePayment, PaymentStatus
from app.payments.received import first_time
from app.settings import get_settings

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from app.auth.principal import Principal
    from app.payments.provider import PaymentEvent, PaymentProvider

log = structlog.get_logger(__name__)


# -- what is owed, and how it was paid ------------------------------------------------------


@dataclass(frozen=True)
class PayableView:
    """One payable and its parts: who paid what of it so far, and what is still pending."""

    merchant_id: uuid.UUID
    seq: int
    card_id: uuid.UUID
    kind: str
    """``refund`` or ``compensation``."""
    amount: int
    custody_paid: int
    """What custody paid the consumer at once in the same refund."""
    created_at: datetime
    due_at: datetime
    by_merchant: int
    netted: int
    by_insurer: int
    owed: int
    """Still owed by the merchant, before its deadline."""
    claimed: int
    """Claimed from the insurer, not yet paid by it."""

    @property
    def pending(self) -> int:
        """What the consumer has not received yet."""
        return self.owed + self.claimed

    @property
    def refunded(self) -> int:
        """What the consumer gets in all for this refund (custody's share included)."""
        return self.custody_paid + self.amount

    @property
    def status(self) -> str:
        """``owed`` (the merchant's to pay), ``claimed`` (the insurer's) or ``paid``."""
        if self.owed:
            return "owed"
        return "claimed" if self.claimed else "paid"


_PAYABLES = text("""
    SELECT y.merchant_id, y.seq, y.card_id, y.kind, y.amount, y.custody_paid, y.due_at,
           made.created_at,
           coalesce(sum(p.amount) FILTER (WHERE p.account = 'consumers'
                                            AND e.kind = 'receivable_settlement'), 0)::bigint
             AS by_merchant,
           coalesce(sum(p.amount) FILTER (WHERE p.account = 'consumers'
                                            AND e.kind = 'payable_netting'), 0)::bigint AS netted,
           coalesce(sum(p.amount) FILTER (WHERE p.account = 'consumers'
                                            AND e.kind = 'claim_payment'), 0)::bigint
             AS by_insurer,
           coalesce(sum(p.amount) FILTER (WHERE p.account = 'payables_cover'), 0)::bigint AS owed,
           coalesce(sum(p.amount) FILTER (WHERE p.account = 'claims_pending'), 0)::bigint
             AS claimed
      FROM payables y
      JOIN journal_entries made ON made.merchant_id = y.merchant_id AND made.seq = y.seq
      JOIN postings p ON p.merchant_id = y.merchant_id AND p.payable_seq = y.seq
      JOIN journal_entries e ON e.merchant_id = p.merchant_id AND e.seq = p.seq
     WHERE y.merchant_id = ANY(:merchants)
       AND (CAST(:card AS uuid) IS NULL OR y.card_id = CAST(:card AS uuid))
     GROUP BY y.merchant_id, y.seq, y.card_id, y.kind, y.amount, y.custody_paid, y.due_at,
              made.created_at
     ORDER BY y.due_at, y.seq
""")


async def payables_of(
    session: AsyncSession,
    merchant_ids: Sequence[uuid.UUID],
    *,
    card_id: uuid.UUID | None = None,
    open_only: bool = False,
) -> list[PayableView]:
    """The payables of these merchants (of one card), earliest deadline first."""
    rows = await session.execute(_PAYABLES, {"merchants": list(merchant_ids), "card": card_id})
    found = [PayableView(**row._asdict()) for row in rows]
    return [p for p in found if p.pending] if open_only else found


# -- (b) withheld from the next sales ---------------------------------------------------------


async def net_from_sale(
    session: AsyncSession, merchant_id: uuid.UUID, *, sale: str, proceeds: int
) -> escrow.SettlementReceipt | None:
    """Withhold what the merchant owes consumers from a sale's proceeds.

    In the sale's own transaction; the merchant is paid the rest of its proceeds.
    """
    ledger = escrow_ledger(session)
    amount = min(await ledger.owed(merchant_id), proceeds)
    if amount <= 0:
        return None
    return await ledger.settle_payables(
        merchant_id, amount=amount, via="netting", idempotency_key=f"netting:{sale}"
    )


# -- (a) paid by the merchant through the provider ------------------------------------------


@dataclass(frozen=True)
class PaymentStarted:
    """The merchant's payment and where it pays it."""

    payment: PayablePayment
    pay_url: str
    replayed: bool


def merchant_of(me: Principal) -> uuid.UUID:
    """The caller's merchant: only its own staff see and pay what it owes."""
    if me.role is not Role.MERCHANT or me.merchant_id is None:
        raise Forbidden("payables-merchant-staff-only")
    return me.merchant_id


async def start_payment(
    session: AsyncSession, me: Principal, provider: PaymentProvider, idempotency_key: str
) -> PaymentStarted:
    """A payment of everything the merchant owes now, registered with the provider.

    The same key returns the same payment (the merchant's retry, or a second click).
    """
    merchant_id = merchant_of(me)
    earlier = await session.scalar(
        select(PayablePayment).where(
            PayablePayment.merchant_id == merchant_id,
            PayablePayment.idempotency_key == idempotency_key,
        )
    )
    if earlier is not None:
        return PaymentStarted(earlier, provider.pay_url(earlier.provider_order_id), replayed=True)
    owed = await escrow_ledger(session).owed(merchant_id)
    if owed <= 0:
        raise Conflict("nothing-owed")
    payment_id = uuid.uuid4()
    handle = provider.create_order(str(payment_id), owed, "refunds owed to consumers")
    payment = PayablePayment(
        id=payment_id,
        merchant_id=merchant_id,
        amount=owed,
        status=PaymentStatus.PENDING,
        provider=handle.provider,
        provider_order_id=handle.provider_order_id,
        idempotency_key=idempotency_key,
        created_at=utcnow(),
    )
    session.add(payment)
    await session.flush()
    return PaymentStarted(payment, handle.pay_url, replayed=False)


async def payment_for(session: AsyncSession, provider_order_id: str) -> PayablePayment | None:
    """The merchant's payment the provider knows as ``provider_order_id``, if it is one."""
    return await session.scalar(
        select(PayablePayment).where(PayablePayment.provider_order_id == provider_order_id)
    )


async def apply_payment(session: AsyncSession, event: PaymentEvent) -> str:
    """Apply one verified notification about a merchant's payment, exactly once.

    The payment settles what the merchant still owes when the money arrives, earliest
    deadline first; the rest (already withheld or claimed meanwhile) is owed back to it.
    """
    payment = await payment_for(session, event.provider_order_id)
    if payment is None:
        raise NotFound("payable-payment-not-found")
    # The payment's row lock first, then the notification: duplicates wait, then see it.
    await session.refresh(payment, with_for_update=True)
    if not await first_time(session, event, payment_id=payment.id):
        return "duplicate"
    if event.amount != payment.amount:
        raise Invalid(
            "payable-payment-amount-mismatch",
            notified_fen=event.amount,
            amount_fen=payment.amount,
        )
    if payment.status == PaymentStatus.PAID:
        return "already paid"
    if event.status == "CLOSED":
        payment.status = PaymentStatus.FAILED
        await session.flush()
        return "closed"
    ledger = escrow_ledger(session)
    settled = min(payment.amount, await ledger.owed(payment.merchant_id))
    if settled > 0:
        receipt = await ledger.settle_payables(
            payment.merchant_id,
            amount=settled,
            via="merchant",
            idempotency_key=f"payment:{payment.id}",
        )
        payment.ledger_seq = receipt.seq
    payment.settled_fen = settled
    payment.excess_fen = payment.amount - settled
    payment.status = PaymentStatus.PAID
    payment.paid_at = utcnow()
    await session.flush()
    if payment.excess_fen:
        log.warning(
            "merchant paid more than it still owed; the rest is owed back to it",
            payment_id=str(payment.id),
            excess_fen=payment.excess_fen,
        )
    return "settled"


# -- (c) claimed from the insurer at the deadline ---------------------------------------------


_OVERDUE = text("""
    SELECT DISTINCT y.merchant_id
      FROM payables y
      JOIN postings p ON p.merchant_id = y.merchant_id AND p.payable_seq = y.seq
                     AND p.account = 'payables_cover'
      JOIN merchant_books b ON b.merchant_id = y.merchant_id AND b.status = 'open'
     WHERE y.due_at <= :now
     GROUP BY y.merchant_id, y.seq
    HAVING sum(p.amount) > 0
""")


async def claim_overdue(sessions: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """Claim every payable past its deadline, one merchant per transaction; return claims made.

    A merchant whose claim fails is logged and left for the next pass; the others go on.
    """
    async with sessions() as session:
        merchants = list((await session.scalars(_OVERDUE, {"now": now})).all())
    opened = 0
    for merchant_id in sorted(merchants):
        try:
            async with sessions() as session, session.begin():
                opened += await claim_merchant_overdue(session, merchant_id, now)
        except Exception:
            log.exception("claiming overdue payables failed", merchant_id=str(merchant_id))
    return opened


async def claim_merchant_overdue(
    session: AsyncSession, merchant_id: uuid.UUID, now: datetime
) -> int:
    """One merchant's payables past their deadline become one claim on its policy."""
    merchant = await session.get(Merchant, merchant_id)
    if merchant is None:  # pragma: no cover - the payables name a merchant's book
        return 0
    try:
        receipt = await escrow_ledger(session).claim_payables(
            merchant_id,
            due_by=now,
            idempotency_key=f"payable-claim:{merchant_id}:{now.isoformat()}",
        )
    except escrow.NoClaimPending:
        return 0  # paid or netted meanwhile
    # The insurer hears of it in this transaction (app.insurance.handlers); with no policy on
    # record the handler refuses and the payables stay with the merchant.
    await publish(session, OverduePayablesClaimed(merchant.id, receipt))
    return 1


# -- payables by age, for the regulator and the merchant ------------------------------------

AGE_BUCKETS = ((0, 3), (4, 7), (8, 30), (31, None))
"""Days since the refund: within the deadline, just past it, a month, older."""


@dataclass(frozen=True)
class AgeRow:
    """Payables of one age, still pending: owed by merchants, or claimed from insurers."""

    bucket: str
    count: int
    owed: int
    claimed: int


def by_age(payables: Sequence[PayableView], now: datetime) -> list[AgeRow]:
    """Pending payables grouped by how many days ago their refund was granted."""
    rows = []
    for low, high in AGE_BUCKETS:
        inside = [
            p
            for p in payables
            if p.pending
            and low <= (now - p.created_at).days
            and (high is None or (now - p.created_at).days <= high)
        ]
        rows.append(
            AgeRow(
                bucket=f"{low}-{high}" if high is not None else f"{low}+",
                count=len(inside),
                owed=sum(p.owed for p in inside),
                claimed=sum(p.claimed for p in inside),
            )
        )
    return rows


async def supervised(session: AsyncSession, me: Principal) -> list[PayableView]:
    """The pending payables of every merchant in the caller's reach."""
    query = select(Merchant.id)
    if me.role is Role.REGULATOR and me.district is not None:
        query = query.where(Merchant.district == me.district)
    ids = list((await session.scalars(query)).all())
    return await payables_of(session, ids, open_only=True)


# -- what the merchant and the regulator see ----------------------------------------------


@dataclass(frozen=True)
class OwnPayables:
    """What the merchant owes consumers now, and every payable it has had."""

    owed: int
    """Owed now and payable by the merchant (before the deadline)."""
    claimed: int
    """Past the deadline: claimed from its insurer, which it owes instead."""
    payables: list[PayableView]
    """Earliest deadline first."""
    by_age: list[AgeRow]
    business_days: int
    """Shanghai business days the merchant has to pay a payable."""


async def own_payables(session: AsyncSession, me: Principal) -> OwnPayables:
    """The caller's merchant's payables, what it owes and has had claimed, by age."""
    found = await payables_of(session, [merchant_of(me)])
    return OwnPayables(
        owed=sum(p.owed for p in found),
        claimed=sum(p.claimed for p in found),
        payables=found,
        by_age=by_age(found, utcnow()),
        business_days=get_settings().cards.payable_business_days,
    )


@dataclass(frozen=True)
class SupervisedPayables:
    """The regulator's view: pending payables by age, and each of them."""

    by_age: list[AgeRow]
    pending: list[PayableView]
    """Earliest deadline first."""


async def supervised_payables(session: AsyncSession, me: Principal) -> SupervisedPayables:
    """The pending payables in the caller's reach, by days since the refund, then each."""
    found = await supervised(session, me)
    return SupervisedPayables(by_age=by_age(found, utcnow()), pending=found)
