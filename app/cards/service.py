"""Buying, holding, using and refunding a card: the consumer's side of the closed loop.

Each function is one use case that only flushes; the route owns the transaction. Money moves
only through the escrow ledger, inside the same transaction as the rows recorded here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

import escrow
import qr
from app.auth.identity import id_number_problem, normalise_id_number
from app.auth.models import Consumer, Role
from app.cards.models import (
    CardHolder,
    Contract,
    Order,
    OrderStatus,
    RedemptionCode,
    RefundRequest,
    RefundStatus,
)
from app.clock import today, utcnow
from app.exceptions import (
    Conflict,
    Forbidden,
    Invalid,
    MerchantNotSelling,
    NotAuthenticated,
    NotFound,
)
from app.ledger import escrow_ledger
from app.merchants import blocks
from app.merchants.blocks import why_blocked
from app.merchants.models import Industry, Merchant, MerchantStatus, Product, ProductStatus
from app.payables.deadlines import payable_due_at
from app.payables.service import PayableView, net_from_sale, payables_of
from app.payments.received import first_time
from app.qrcodes.service import keyring
from app.risk.queue import request_rerate
from app.security.keys import purpose_key
from app.security.tokens import digest
from app.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal
    from app.payments.provider import PaymentEvent, PaymentProvider
    from app.security.pii import PiiCipher

T = TypeVar("T")
log = structlog.get_logger(__name__)

REDEMPTION_CODE_TTL = timedelta(minutes=2)
MIN_ANONYMOUS_KEY = 32
REFUND_FORMULA = "refundable = ceil(paid × remaining units ÷ total units)"


# -- the counter code -------------------------------------------------------------------


async def counter_merchant(
    session: AsyncSession, merchant_id: str, kid: str, signature: str
) -> Merchant:
    """The merchant behind a genuine counter code; a forged, altered or revoked one is refused.

    Raises the ``qr`` package's errors (their messages are for consumers) or NotFound.
    """
    code = qr.CounterCode.from_parts(merchant_id, kid, signature)
    qr.verify_counter(code, await keyring(session))
    merchant = await session.get(Merchant, code.merchant_id)
    if merchant is None:
        raise NotFound("this merchant is not registered with Prepaid Guard")
    return merchant


async def selling_problem(session: AsyncSession, merchant: Merchant) -> str | None:
    """Why this merchant may not sell a card now (said to the consumer), or None."""
    if merchant.status == MerchantStatus.ACTIVE:
        return why_blocked(await blocks.of(session, merchant.id))
    return {
        MerchantStatus.SUSPENDED: "the market regulator has suspended this merchant's sales;"
        " do not pay it in advance",
        MerchantStatus.DEFAULTED: "this merchant has been declared in default; its cards are"
        " being refunded, and it may not sell new ones",
        MerchantStatus.CLOSED: "this merchant has closed",
    }.get(MerchantStatus(merchant.status), "this merchant is not yet approved to sell cards")


# -- orders and payment -----------------------------------------------------------------


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


async def _real_name(
    session: AsyncSession,
    who: Principal | None,
    req: OrderRequest,
    cipher: PiiCipher,
    *,
    required: bool,
) -> tuple[bytes, bytes] | None:
    """Encrypted (name, ID number) for the order, from the request or the consumer's file."""
    consumer = await session.get(Consumer, who.consumer_id) if who and who.consumer_id else None
    if req.real_name or req.id_number:
        problems: dict[str, str] = {}
        if not (req.real_name or "").strip():
            problems["real_name"] = "required with an ID number"
        number = normalise_id_number(req.id_number or "")
        if why := id_number_problem(number):
            problems["id_number"] = why
        if problems:
            raise Invalid("the real-name details are not valid", fields=problems)
        name = (req.real_name or "").strip()
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
    if required:
        raise Invalid(
            "this card needs the buyer's real name and ID number",
            fields={"real_name": "required", "id_number": "required"},
        )
    return None


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
        raise Forbidden("only consumers buy cards")
    if who is None and len(idempotency_key) < MIN_ANONYMOUS_KEY:
        # for an anonymous buyer the key is a secret: whoever repeats it gets the card link
        raise Invalid(
            f"an anonymous order needs a random Idempotency-Key of at least {MIN_ANONYMOUS_KEY}"
            " characters (a UUID will do)",
            fields={"Idempotency-Key": "too short to be secret"},
        )
    scope = f"consumer:{who.consumer_id}" if who else "anonymous"
    request_hash = _request_hash(req)
    replay = await _order_replay(session, provider, scope, idempotency_key, request_hash)
    if replay is not None:
        return replay

    merchant, product = await _on_sale(session, who, req)
    rules = get_settings().cards
    sealed = await _real_name(
        session,
        who,
        req,
        cipher,
        required=not product.anonymous or product.price >= rules.real_name_threshold,
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
            raise Conflict("this order is being placed by another request; retry")
        return replay
    order = await session.get(Order, order_id)
    if order is None:  # pragma: no cover - inserted just above
        raise NotFound("no such order")
    return OrderCreated(order, handle.pay_url, secret, replayed=False)


async def _on_sale(
    session: AsyncSession, who: Principal | None, req: OrderRequest
) -> tuple[Merchant, Product]:
    """The merchant behind a genuine code, if it may sell, and its product, if on sale."""
    merchant = await counter_merchant(session, req.merchant_id, req.kid, req.signature)
    if why := await selling_problem(session, merchant):
        raise MerchantNotSelling(why, legal_name=merchant.legal_name)
    product = await session.get(Product, req.product_id)
    if product is None or product.merchant_id != merchant.id:
        raise NotFound("this merchant has no such product")
    if product.status != ProductStatus.ACTIVE:
        raise Conflict("this product is no longer sold")
    if who is None and not product.anonymous:
        raise NotAuthenticated("sign in with your phone to buy a registered card")
    return merchant, product


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
        raise Conflict("this Idempotency-Key was already used for a different order")
    return OrderCreated(
        existing,
        provider.pay_url(existing.provider_order_id),
        card_secret(existing.id) if existing.consumer_id is None else None,
        replayed=True,
    )


async def apply_payment(session: AsyncSession, event: PaymentEvent) -> str:
    """Apply one verified notification exactly once; return what happened.

    Duplicates are recognised by the provider's event id; a late CLOSED after SUCCESS is
    ignored; a SUCCESS after CLOSED still issues the card (the money was taken).
    """
    order_id = await session.scalar(
        select(Order.id).where(Order.provider_order_id == event.provider_order_id)
    )
    if order_id is None:
        raise NotFound("no order has this provider order id")
    if not await first_time(session, event, order_id=order_id):
        return "duplicate"
    order = await session.get(Order, order_id, with_for_update=True, populate_existing=True)
    if order is None:  # pragma: no cover - the NOT NULL order_id makes this unreachable
        raise NotFound("no such order")
    if event.amount != order.amount:
        raise Invalid(f"the notification says {event.amount} fen, the order is {order.amount}")
    if order.status == OrderStatus.PAID:
        return "already paid"
    if event.status == "CLOSED":
        order.status = OrderStatus.FAILED
        await session.flush()
        return "closed"
    if order.status == OrderStatus.REFUND_DUE:
        return "refund due"
    merchant = await _get(session, Merchant, order.merchant_id)
    if merchant.status in (MerchantStatus.DEFAULTED, MerchantStatus.CLOSED):
        # The money arrived after the merchant stopped existing as a seller: no card can be
        # issued on a frozen book, and the buyer must get the payment back.
        order.status = OrderStatus.REFUND_DUE
        await session.flush()
        log.warning("payment after default; refund due", order_id=str(order.id))
        return "refund due"
    await _issue_card(session, order)
    return "issued"


async def _issue_card(session: AsyncSession, order: Order) -> None:
    product = await _get(session, Product, order.product_id)
    merchant = await _get(session, Merchant, order.merchant_id)
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
    content = {
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
            "units": product.units,
            "validity_days": product.validity_days,
            "terms": product.terms,
        },
        "price_fen": order.amount,
        "face_value_fen": product.units if product.kind == "stored_value" else None,
        "sessions": product.units if product.kind == "sessions" else None,
        "refund_formula": REFUND_FORMULA,
        "cooling_off_days": industry.cooling_off_days if industry else 7,
        "protection": {
            "custody_ratio_bp": receipt.custody_ratio_bp,
            "custody_fen": receipt.custody,
            "insured_fen": receipt.insured,
            "custody_bank": merchant.custody_bank,
            "insurance_policy": merchant.policy_ref,
        },
        "registered": not product.anonymous,
        "expires_at": expires.isoformat() if expires else None,
        "issued_at": now.isoformat(),
        "card_id": str(card_id),
    }
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    session.add(
        Contract(
            card_id=card_id,
            merchant_id=merchant.id,
            content=content,
            sha256=hashlib.sha256(canonical.encode()).digest(),
        )
    )
    order.status = OrderStatus.PAID
    order.paid_at = now
    order.card_id = card_id
    await session.flush()
    # What the merchant owes consumers for refunds comes out of this sale's proceeds first.
    await net_from_sale(session, merchant.id, sale=str(order.id), proceeds=receipt.insured)
    # A sale changes the merchant's sales indicators: re-rate it (after this commits).
    await request_rerate(session, merchant.id, "card sold", str(card_id))


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
        raise NotFound("no such order")
    return order


async def sandbox_order(session: AsyncSession, provider_order_id: str) -> Order:
    """The order the sandbox provider knows as ``provider_order_id`` (its pay page's)."""
    order = await session.scalar(select(Order).where(Order.provider_order_id == provider_order_id))
    if order is None:
        raise NotFound("no such sandbox order")
    return order


# -- holding a card ---------------------------------------------------------------------


async def holder_for(
    session: AsyncSession,
    who: Principal | None,
    *,
    card_id: uuid.UUID | None = None,
    secret: str | None = None,
    lock: bool = False,
) -> CardHolder:
    """The card if it is the caller's: a signed-in consumer's own, or the anonymous link's."""
    query = select(CardHolder)
    if secret is not None:
        query = query.where(CardHolder.anon_secret_hash == digest(secret))
    elif card_id is not None and who is not None and who.consumer_id is not None:
        query = query.where(
            CardHolder.card_id == card_id, CardHolder.consumer_id == who.consumer_id
        )
    else:
        raise NotFound("no such card")
    holder = await session.scalar(query.with_for_update() if lock else query)
    if holder is None:
        raise NotFound("no such card")
    return holder


async def consumer_cards(session: AsyncSession, consumer_id: uuid.UUID) -> list[CardHolder]:
    """A consumer's cards, newest first."""
    found = await session.scalars(
        select(CardHolder)
        .where(CardHolder.consumer_id == consumer_id)
        .order_by(CardHolder.created_at.desc())
    )
    return list(found.all())


@dataclass(frozen=True)
class CardView:
    """Everything a holder sees about a card."""

    holder: CardHolder
    merchant: Merchant
    product: Product
    balance: escrow.CardBalance
    history: list[escrow.CardEvent]
    contract: dict[str, Any]
    contract_sha256: str
    refunds: list[PayableView]
    """What the merchant owes this card's holder after refunds, and who paid what of it."""


async def card_view(session: AsyncSession, holder: CardHolder) -> CardView:
    """Balance from the ledger, history from its entries, and the contract."""
    merchant = await _get(session, Merchant, holder.merchant_id)
    product = await _get(session, Product, holder.product_id)
    contract = await _get(session, Contract, holder.card_id)
    ledger = escrow_ledger(session)
    return CardView(
        holder=holder,
        merchant=merchant,
        product=product,
        balance=await ledger.card(holder.merchant_id, holder.card_id),
        history=await escrow.card_history(session, holder.merchant_id, holder.card_id),
        contract=contract.content,
        contract_sha256=contract.sha256.hex(),
        refunds=await payables_of(session, [holder.merchant_id], card_id=holder.card_id),
    )


# -- redemption with consent ------------------------------------------------------------


@dataclass(frozen=True)
class IssuedCode:
    """What the card page shows for the merchant to scan or type."""

    token: str
    digits: str
    expires_at: datetime
    max_units: int


async def issue_redemption_code(
    session: AsyncSession, holder: CardHolder, max_units: int
) -> IssuedCode:
    """A signed one-time code for this card at its merchant, valid two minutes.

    The holder says how much the merchant may take with it (fen of face value, or sessions);
    the merchant can redeem up to that, once.
    """
    balance = await escrow_ledger(session).card(holder.merchant_id, holder.card_id)
    if balance.status != escrow.CardStatus.OPEN or balance.units_remaining == 0:
        raise Conflict("this card has nothing left to use")
    if max_units > balance.units_remaining:
        raise Invalid(
            f"the card has {balance.units_remaining} units left",
            fields={"max_units": f"at most {balance.units_remaining}"},
        )
    now = utcnow()
    expires = now + REDEMPTION_CODE_TTL
    live = set(
        (
            await session.scalars(
                select(RedemptionCode.digits).where(
                    RedemptionCode.merchant_id == holder.merchant_id,
                    RedemptionCode.used_at.is_(None),
                    RedemptionCode.expires_at > now,
                )
            )
        ).all()
    )
    digits = qr.six_digit_code()
    while digits in live:  # one in a million per live code: retry until unique
        digits = qr.six_digit_code()
    nonce = qr.redemption_nonce()
    token = qr.issue_redemption_token(
        holder.card_id, holder.merchant_id, nonce, expires, await keyring(session, signing=True)
    )
    session.add(
        RedemptionCode(
            card_id=holder.card_id,
            merchant_id=holder.merchant_id,
            digits=digits,
            nonce=nonce,
            max_units=max_units,
            expires_at=expires,
        )
    )
    await session.flush()
    return IssuedCode(token=token, digits=digits, expires_at=expires, max_units=max_units)


async def _code_for(
    session: AsyncSession, merchant_id: uuid.UUID, token: str | None, digits: str | None
) -> RedemptionCode:
    now = utcnow()
    if token:
        claim = qr.read_redemption_token(token, await keyring(session), now)
        if claim.merchant_id != merchant_id:
            raise Forbidden("this code was issued for another merchant")
        code = await session.scalar(
            select(RedemptionCode).where(RedemptionCode.nonce == claim.nonce).with_for_update()
        )
    elif digits:
        code = await session.scalar(
            select(RedemptionCode)
            .where(
                RedemptionCode.merchant_id == merchant_id,
                RedemptionCode.digits == digits,
                RedemptionCode.expires_at > now,
            )
            .order_by(RedemptionCode.created_at.desc())
            .limit(1)
            .with_for_update()
        )

    else:
        raise Invalid("give the scanned code or the 6 digits", fields={"code": "required"})
    if code is None or code.merchant_id != merchant_id:
        raise NotFound("no such live code at this merchant; ask the customer to show a new one")
    return code


async def redeem(
    session: AsyncSession,
    me: Principal,
    *,
    token: str | None,
    digits: str | None,
    units: int,
    idempotency_key: str,
) -> escrow.RedemptionReceipt:
    """Use a card with its holder's consent code: once, at its merchant, before it expires."""
    if me.merchant_id is None:
        raise Forbidden("only merchant staff redeem cards")
    merchant = await session.get(Merchant, me.merchant_id)
    if merchant is None or merchant.status not in {
        MerchantStatus.ACTIVE,
        MerchantStatus.SUSPENDED,  # a suspension stops sales, not the service already paid
    }:
        raise Conflict("this merchant may not redeem cards now")
    ledger = escrow_ledger(session)
    key = f"redeem:{idempotency_key}"
    earlier = await ledger.recorded_redemption(me.merchant_id, key)
    if earlier is not None:  # a retry: answer it even if its code has expired since
        if earlier.units != units:
            raise Conflict("this Idempotency-Key was already used for a different redemption")
        return earlier
    code = await _code_for(session, me.merchant_id, token, digits)
    if code.used_at is not None:
        raise Conflict("this code has already been used; ask the customer for a new one")
    if code.expires_at <= utcnow():
        raise Conflict("this code has expired; ask the customer for a new one")
    if units > code.max_units:
        raise Conflict(f"the customer agreed to {code.max_units} units with this code, not {units}")
    receipt = await ledger.redeem(me.merchant_id, code.card_id, units=units, idempotency_key=key)
    code.used_at = utcnow()
    code.used_key = key
    await session.flush()
    return receipt


# -- refunds ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RefundOutcome:
    """Either refunded at once (cooling-off) or sent to the merchant to answer."""

    status: str
    refund: escrow.RefundReceipt | None
    request: RefundRequest | None


def _in_cooling_off(bought: datetime, days: int, now: datetime) -> bool:
    """Counted in Shanghai calendar days: bought on day 0, refundable through day ``days``."""
    return (today(now) - today(bought)).days <= days


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
            raise Conflict("this Idempotency-Key was already used for a different request")
        return RefundOutcome("requested", None, earlier)
    ledger = escrow_ledger(session)
    key = f"refund:{holder.card_id}:{idempotency_key}"
    merchant = await _get(session, Merchant, holder.merchant_id)
    industry = await session.get(Industry, merchant.industry)
    days = industry.cooling_off_days if industry else 7
    if _in_cooling_off(holder.created_at, days, utcnow()):
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
        raise Conflict(f"this card is {balance.status}; it cannot be refunded")
    pending = await session.scalar(
        select(RefundRequest).where(
            RefundRequest.card_id == holder.card_id,
            RefundRequest.status == RefundStatus.PENDING,
        )
    )
    if pending is not None:
        raise Conflict("a refund request for this card is already waiting for the merchant")
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
    """The merchant accepts (the ledger refunds the outstanding amount) or refuses."""
    request = await session.get(RefundRequest, request_id, with_for_update=True)
    if request is None or request.merchant_id != me.merchant_id:
        raise NotFound("no such refund request")
    if request.status != RefundStatus.PENDING:
        raise Conflict(f"this request was already {request.status}")
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


async def _get(session: AsyncSession, model: type[T], key: object) -> T:
    """A row the foreign keys guarantee; its absence is a bug, reported as such."""
    found = await session.get(model, key)
    if found is None:
        msg = f"{model.__name__} {key} is missing"
        raise LookupError(msg)
    return found
