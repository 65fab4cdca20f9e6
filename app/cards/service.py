"""Buying a card: what a scanned code offers, and the order placed for it.

Each function is one use case that only flushes; the caller owns the transaction. Money moves
only through the escrow ledger, inside the same transaction as the rows recorded here.

The rest of a card's life has modules of its own (:mod:`.issuing` when the order is paid,
:mod:`.holding`, :mod:`.redemption`, :mod:`.refunds`, :mod:`.payments`); their use cases are
also named here, so that callers may keep saying ``from app.cards import service``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

import escrow
from app.auth.identity import id_number_problem, normalise_id_number
from app.auth.models import Consumer, Role
from app.cards.holding import (
    CardRow,
    CardView,
    card_view,
    cards_of,
    consumer_cards,
    holder_for,
    product_of,
)
from app.cards.issuing import REFUND_FORMULA, apply_payment, sandbox_order
from app.cards.models import Order, OrderStatus
from app.cards.redemption import (
    CodeState,
    CodeStatus,
    IssuedCode,
    code_status,
    issue_redemption_code,
    recent_redemptions,
    redeem,
    redeem_counting_digits,
)
from app.cards.refunds import (
    CoolingOff,
    RefundOutcome,
    answer_refund,
    cooling_off_of,
    merchant_refund_requests,
    refund_requests_of,
    request_refund,
)
from app.clock import utcnow
from app.exceptions import Conflict, Forbidden, Invalid, NotAuthenticated, NotFound
from app.idempotency import SECRET_LENGTH
from app.merchants.models import Industry, Merchant, Product, ProductStatus
from app.merchants.rules import cooling_off_days
from app.qrcodes.scan import counter_merchant, seller, selling_problem
from app.security.keys import purpose_key
from app.security.tokens import digest
from app.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal
    from app.payments.provider import PaymentProvider
    from app.security.pii import PiiCipher
    from app.settings import CardRules

__all__ = [
    "REFUND_FORMULA",
    "CardRow",
    "CardView",
    "CodeState",
    "CodeStatus",
    "CoolingOff",
    "IssuedCode",
    "Offer",
    "OrderCreated",
    "OrderRequest",
    "RefundOutcome",
    "answer_refund",
    "apply_payment",
    "card_secret",
    "card_view",
    "cards_of",
    "code_status",
    "consumer_cards",
    "cooling_off_of",
    "counter_merchant",
    "create_order",
    "holder_for",
    "issue_redemption_code",
    "merchant_refund_requests",
    "needs_real_name",
    "offer",
    "product_of",
    "product_on_sale",
    "real_name_needed",
    "recent_redemptions",
    "redeem",
    "redeem_counting_digits",
    "refund_requests_of",
    "request_refund",
    "sandbox_order",
    "seller",
    "selling_problem",
    "visible_order",
]


# -- orders -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderRequest:
    """A consumer's order from a verified counter code."""

    merchant_id: str
    kid: str
    signature: str
    product_id: uuid.UUID
    real_name: str | None = None
    id_number: str | None = None


@dataclass(frozen=True)
class OrderCreated:
    """The order, where to pay it, and (anonymous buyer) the secret card link."""

    order: Order
    pay_url: str
    card_secret: str | None
    replayed: bool


def card_secret(order_id: uuid.UUID) -> str:
    """The anonymous buyer's card link secret, derived so a retried request gets it again."""
    mac = hmac.new(purpose_key("card-links"), order_id.bytes, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def _request_hash(req: OrderRequest) -> bytes:
    body = json.dumps(
        {
            "merchant": req.merchant_id,
            "product": str(req.product_id),
            "name": req.real_name,
            "id": req.id_number,
        },
        sort_keys=True,
    )
    return hashlib.sha256(body.encode()).digest()


# -- the buyer's real name --------------------------------------------------------------


def needs_real_name(product: Product, rules: CardRules) -> bool:
    """Whether a buyer must give a real name and ID number for ``product``.

    Every registered card needs one, and an anonymous card sold for the real-name threshold
    (``cards.real_name_threshold``, ¥10,000) or more.
    """
    return not product.anonymous or product.price >= rules.real_name_threshold


async def _on_file(session: AsyncSession, who: Principal | None) -> Consumer | None:
    """The signed-in consumer's file, if the caller is one."""
    if who is None or who.consumer_id is None:
        return None
    return await session.get(Consumer, who.consumer_id)


async def real_name_needed(session: AsyncSession, who: Principal | None, product: Product) -> bool:
    """Whether the buy form must ask for name and ID (as :func:`create_order` decides it).

    Not when the card needs none, nor when the signed-in consumer's are on file.
    """
    if not needs_real_name(product, get_settings().cards):
        return False
    consumer = await _on_file(session, who)
    return not (consumer is not None and consumer.real_name_enc and consumer.id_number_enc)


_ID_NUMBER_FAULTS = {
    id_number_problem(""): "id-number-shape",
    id_number_problem("110105194913310020"): "id-number-birth-date",
    id_number_problem("110105194912310021"): "id-number-check-digit",
}
"""Transitional: ``app.auth.identity`` says what is wrong in English; each of its answers,
asked of a number with that fault, is given its error code here, until it gives codes."""


def _id_number_fault(number: str) -> str | None:
    """The error code of what is wrong with an ID number, or None if it is valid."""
    why = id_number_problem(number)
    return None if why is None else _ID_NUMBER_FAULTS.get(why, "id-number-invalid")


async def _real_name(
    session: AsyncSession,
    who: Principal | None,
    req: OrderRequest,
    cipher: PiiCipher,
    *,
    needed: bool,
) -> tuple[bytes, bytes] | None:
    """Encrypted (name, ID number) for the order, from the request or the consumer's file."""
    consumer = await _on_file(session, who)
    if req.real_name or req.id_number:
        fields: dict[str, str] = {}
        name = (req.real_name or "").strip()
        if not name:
            fields["real_name"] = "real-name-with-id-number"
        number = normalise_id_number(req.id_number or "")
        if not number:
            fields["id_number"] = "card-field-required"
        elif fault := _id_number_fault(number):
            fields["id_number"] = fault
        if fields:
            raise Invalid("real-name-invalid", fields=fields)
        sealed = (
            cipher.encrypt(name, field="real_name"),
            cipher.encrypt(number, field="id_number"),
        )
        if consumer is not None and consumer.id_number_enc is None:
            consumer.real_name_enc, consumer.id_number_enc = sealed
            consumer.id_number_hash = cipher.lookup_hash(number, field="id_number")
        return sealed
    if consumer is not None and consumer.real_name_enc and consumer.id_number_enc:
        return consumer.real_name_enc, consumer.id_number_enc
    if needed:
        raise Invalid(
            "real-name-required",
            fields={"real_name": "card-field-required", "id_number": "card-field-required"},
        )
    return None


# -- placing the order ------------------------------------------------------------------


async def create_order(
    session: AsyncSession,
    who: Principal | None,
    req: OrderRequest,
    idempotency_key: str,
    provider: PaymentProvider,
    cipher: PiiCipher,
) -> OrderCreated:
    """A pending order for one card; the same key and request returns the same order."""
    if who is not None and who.role is not Role.CONSUMER:
        raise Forbidden("only-consumers-buy")
    if who is None and len(idempotency_key) < SECRET_LENGTH:
        # for an anonymous buyer the key is a secret: whoever repeats it gets the card link
        raise Invalid(
            "anonymous-key-too-short",
            fields={"Idempotency-Key": "key-too-short"},
            min=SECRET_LENGTH,
        )
    scope = f"consumer:{who.consumer_id}" if who else "anonymous"
    request_hash = _request_hash(req)
    replay = await _order_replay(session, provider, scope, idempotency_key, request_hash)
    if replay is not None:
        return replay

    merchant, product = await _on_sale(session, who, req)
    sealed = await _real_name(
        session, who, req, cipher, needed=needs_real_name(product, get_settings().cards)
    )
    order_id = uuid.uuid4()
    secret = card_secret(order_id) if who is None else None
    handle = provider.create_order(str(order_id), product.price, product.name)
    values = {
        "id": order_id,
        "merchant_id": merchant.id,
        "product_id": product.id,
        "consumer_id": who.consumer_id if who else None,
        "anon_secret_hash": digest(secret) if secret else None,
        "amount": product.price,
        "custody_ratio_bp": merchant.custody_ratio_bp,
        "status": OrderStatus.PENDING,
        "provider": handle.provider,
        "provider_order_id": handle.provider_order_id,
        "idempotency_scope": scope,
        "idempotency_key": idempotency_key,
        "request_hash": request_hash,
        "real_name_enc": sealed[0] if sealed else None,
        "id_number_enc": sealed[1] if sealed else None,
        "created_at": utcnow(),
    }
    inserted = await session.scalar(
        pg_insert(Order)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[Order.idempotency_scope, Order.idempotency_key])
        .returning(Order.id)
    )
    if inserted is None:  # a concurrent request with the same key won: answer as a retry
        replay = await _order_replay(session, provider, scope, idempotency_key, request_hash)
        if replay is None:  # pragma: no cover - the conflict row is visible after the wait
            raise Conflict("order-in-progress")
        return replay
    order = await session.get(Order, order_id)
    if order is None:  # pragma: no cover - inserted just above
        raise NotFound("order-not-found")
    return OrderCreated(order, handle.pay_url, secret, replayed=False)


async def product_on_sale(
    session: AsyncSession, merchant: Merchant, product_id: uuid.UUID
) -> Product:
    """The merchant's product, if it is still sold."""
    product = await session.get(Product, product_id)
    if product is None or product.merchant_id != merchant.id:
        raise NotFound("merchant-has-no-such-product")
    if product.status != ProductStatus.ACTIVE:
        raise Conflict("product-no-longer-sold")
    return product


async def _on_sale(
    session: AsyncSession, who: Principal | None, req: OrderRequest
) -> tuple[Merchant, Product]:
    """The merchant behind a genuine code, if it may sell, and its product, if on sale.

    Raises the ``qr`` package's errors or NotFound (a code not to trust), MerchantNotSelling,
    NotFound or Conflict (the product), NotAuthenticated (a registered card, signed out).
    """
    merchant = await seller(session, req.merchant_id, req.kid, req.signature)
    product = await product_on_sale(session, merchant, req.product_id)
    if who is None and not product.anonymous:
        raise NotAuthenticated("registered-card-needs-sign-in")
    return merchant, product


@dataclass(frozen=True)
class Offer:
    """What the buy page shows before the order: the card, its protection, its terms."""

    merchant: Merchant
    product: Product
    split: escrow.Split
    """How the price divides between bank custody and insurance (custody rounded up)."""
    cooling_off_days: int
    needs_real_name: bool
    """The form asks for name and ID (the card needs them and none are on file)."""


async def offer(session: AsyncSession, who: Principal | None, req: OrderRequest) -> Offer:
    """The card a scanned code offers the caller, checked as :func:`create_order` checks it."""
    merchant, product = await _on_sale(session, who, req)
    if who is not None and who.role is not Role.CONSUMER:
        raise Forbidden("only-consumers-buy")
    industry = await session.get(Industry, merchant.industry)
    return Offer(
        merchant=merchant,
        product=product,
        split=escrow.split(product.price, merchant.custody_ratio_bp),
        cooling_off_days=cooling_off_days(industry),
        needs_real_name=await real_name_needed(session, who, product),
    )


async def _order_replay(
    session: AsyncSession,
    provider: PaymentProvider,
    scope: str,
    idempotency_key: str,
    request_hash: bytes,
) -> OrderCreated | None:
    existing = await session.scalar(
        select(Order).where(
            Order.idempotency_scope == scope, Order.idempotency_key == idempotency_key
        )
    )
    if existing is None:
        return None
    if not hmac.compare_digest(existing.request_hash, request_hash):
        raise Conflict("order-key-reused")
    return OrderCreated(
        existing,
        provider.pay_url(existing.provider_order_id),
        card_secret(existing.id) if existing.consumer_id is None else None,
        replayed=True,
    )


# -- the buyer's view of an order ----------------------------------------------------


async def visible_order(
    session: AsyncSession, who: Principal | None, order_id: uuid.UUID, secret: str | None
) -> Order:
    """An order its buyer may look at (by sign-in, or by the anonymous card link)."""
    order = await session.get(Order, order_id)
    mine = order is not None and (
        (who is not None and who.consumer_id is not None and order.consumer_id == who.consumer_id)
        or (
            secret is not None
            and order.anon_secret_hash is not None
            and hmac.compare_digest(order.anon_secret_hash, digest(secret))
        )
    )
    if order is None or not mine:
        raise NotFound("order-not-found")
    return order
