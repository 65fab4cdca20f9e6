"""A paid order becomes a card: the provider's notification applied, the card and contract issued.

The notification is the only proof of payment; it is applied exactly once, and the card is
bought on the escrow ledger in the same transaction (custody and cover split as ordered).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select

import escrow
from app.cards.events import CardSold
from app.cards.models import CardHolder, Contract, Order, OrderStatus
from app.cards.rows import required
from app.clock import utcnow
from app.events import publish
from app.exceptions import Invalid, NotFound
from app.ledger import escrow_ledger
from app.merchants.models import Industry, Merchant, MerchantStatus, Product
from app.merchants.rules import cooling_off_days
from app.payables.service import net_from_sale
from app.payments.received import first_time

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.payments.provider import PaymentEvent

log = structlog.get_logger(__name__)

REFUND_FORMULA = "refundable = ceil(paid × remaining units ÷ total units)"
"""How a card's refund is computed, as its contract states it."""


async def apply_payment(session: AsyncSession, event: PaymentEvent) -> str:
    """Apply one verified notification exactly once; return what happened.

    Duplicates are recognised by the provider's event id; a late CLOSED after SUCCESS is
    ignored; a SUCCESS after CLOSED still issues the card (the money was taken).
    """
    # The order's row lock first, then the notification row: the notification's foreign key
    # takes a share lock on the order, and taking that before FOR UPDATE deadlocks two
    # notifications of one order. Locked first, the others wait and then see the first's work.
    order = await session.scalar(
        select(Order)
        .where(Order.provider_order_id == event.provider_order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if order is None:
        raise NotFound("provider-order-unknown")
    if not await first_time(session, event, order_id=order.id):
        return "duplicate"
    if event.amount != order.amount:
        raise Invalid(
            "notification-amount-mismatch", notified_fen=event.amount, order_fen=order.amount
        )
    if order.status == OrderStatus.PAID:
        return "already paid"
    if event.status == "CLOSED":
        order.status = OrderStatus.FAILED
        await session.flush()
        return "closed"
    if order.status == OrderStatus.REFUND_DUE:
        return "refund due"
    merchant = await required(session, Merchant, order.merchant_id)
    if merchant.status in (MerchantStatus.DEFAULTED, MerchantStatus.CLOSED):
        # The money arrived after the merchant stopped existing as a seller: no card can be
        # issued on a frozen book, and the buyer must get the payment back.
        order.status = OrderStatus.REFUND_DUE
        await session.flush()
        log.warning("payment after default; refund due", order_id=str(order.id))
        return "refund due"
    await _issue_card(session, order)
    return "issued"


def contract_for(
    card_id: uuid.UUID,
    merchant: Merchant,
    product: Product,
    *,
    price: int,
    receipt: escrow.CardBalance,
    cooling_off: int,
    expires: datetime | None,
    now: datetime,
    transferred_from: dict[str, object] | None = None,
) -> Contract:
    """What the consumer agreed to for this card, frozen, with its SHA-256.

    A card a successor took over gets a contract re-issued in the successor's name, saying
    which card of which merchant it continues (``transferred_from``).
    """
    content: dict[str, object] = {
        "merchant": {
            "id": str(merchant.id),
            "legal_name": merchant.legal_name,
            "unified_social_credit_code": merchant.uscc,
            "address": merchant.address,
            "industry": merchant.industry,
        },
        "product": {
            "name": product.name,
            "kind": product.kind,
            "units": receipt.units_total,
            "validity_days": product.validity_days,
            "terms": product.terms,
        },
        "price_fen": price,
        "face_value_fen": receipt.units_total if product.kind == "stored_value" else None,
        "sessions": receipt.units_total if product.kind == "sessions" else None,
        "refund_formula": REFUND_FORMULA,
        "cooling_off_days": cooling_off,
        "protection": {
            "custody_ratio_bp": receipt.custody_ratio_bp,
            "custody_fen": receipt.custody_share,
            "insured_fen": receipt.insured_share,
            "custody_bank": merchant.custody_bank,
            "insurance_policy": merchant.policy_ref,
        },
        "registered": not product.anonymous,
        "expires_at": expires.isoformat() if expires else None,
        "issued_at": now.isoformat(),
        "card_id": str(card_id),
    }
    if transferred_from is not None:
        content["transferred_from"] = transferred_from
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return Contract(
        card_id=card_id,
        merchant_id=merchant.id,
        content=content,
        sha256=hashlib.sha256(canonical.encode()).digest(),
    )


async def _issue_card(session: AsyncSession, order: Order) -> None:
    product = await required(session, Product, order.product_id)
    merchant = await required(session, Merchant, order.merchant_id)
    industry = await session.get(Industry, merchant.industry)
    now = utcnow()
    card_id = uuid.uuid4()
    receipt = await escrow_ledger(session).purchase(
        merchant.id,
        kind=escrow.CardKind(product.kind),
        paid=order.amount,
        units_total=product.units,
        custody_ratio_bp=order.custody_ratio_bp,
        card_id=card_id,
        idempotency_key=f"order:{order.id}",
    )
    expires = now + timedelta(days=product.validity_days) if product.validity_days else None
    session.add(
        CardHolder(
            card_id=card_id,
            merchant_id=merchant.id,
            product_id=product.id,
            order_id=order.id,
            consumer_id=order.consumer_id,
            anon_secret_hash=order.anon_secret_hash,
            registered=not product.anonymous,
            expires_at=expires,
        )
    )
    await session.flush()
    session.add(
        contract_for(
            card_id,
            merchant,
            product,
            price=order.amount,
            receipt=receipt.card,
            cooling_off=cooling_off_days(industry),
            expires=expires,
            now=now,
        )
    )
    order.status = OrderStatus.PAID
    order.paid_at = now
    order.card_id = card_id
    await session.flush()
    # What the merchant owes consumers for refunds comes out of this sale's proceeds first.
    await net_from_sale(session, merchant.id, sale=str(order.id), proceeds=receipt.insured)
    # A sale changes the merchant's sales indicators: re-rated after this commits.
    await publish(session, CardSold(merchant.id, card_id))


async def sandbox_order(session: AsyncSession, provider_order_id: str) -> Order:
    """The order the sandbox provider knows as ``provider_order_id`` (its pay page's)."""
    order = await session.scalar(select(Order).where(Order.provider_order_id == provider_order_id))
    if order is None:
        raise NotFound("sandbox-order-not-found")
    return order
