"""Orders, payment notifications, cards, redemption codes and refunds over HTTP."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

import escrow
import qr
from app.api.payables import PayableOut, payable_out
from app.auth.models import Role
from app.auth.principal import Principal, public, requires
from app.cards import service
from app.cards.payments import pay_in_sandbox, receive_notification
from app.cards.redemption import redeem_counting_digits
from app.deps import Cipher, Db, MaybeMe, Me, Provider
from app.exceptions import Invalid
from app.idempotency import IdempotencyKey
from app.merchants.service import own_merchant

if TYPE_CHECKING:
    from app.cards.models import Order, RefundRequest

Image = Annotated[Literal["svg"] | None, QueryParameter(name="image")]
"""Ask for the code drawn as a QR image as well."""

CONSUMER = requires(Role.CONSUMER)
MERCHANT = requires(Role.MERCHANT)


class OrderIn(msgspec.Struct, forbid_unknown_fields=True):
    """Buy one card, from the merchant's verified counter code (k and s of its URL)."""

    merchant_id: Annotated[str, msgspec.Meta(max_length=64)]
    k: Annotated[str, msgspec.Meta(max_length=64)]
    s: Annotated[str, msgspec.Meta(max_length=200)]
    product_id: uuid.UUID
    real_name: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    id_number: Annotated[str, msgspec.Meta(max_length=32)] | None = None


class OrderOut(msgspec.Struct):
    """An order and how to pay it; ``card_link`` is the anonymous buyer's only key."""

    id: uuid.UUID
    status: str
    amount: int
    merchant_id: uuid.UUID
    product_id: uuid.UUID
    provider: str
    provider_order_id: str
    pay_url: str
    card_id: uuid.UUID | None
    card_link: str | None = None


class CardSummary(msgspec.Struct):
    """One card in a consumer's list."""

    card_id: uuid.UUID
    merchant_id: uuid.UUID
    product_id: uuid.UUID
    registered: bool
    expires_at: datetime | None
    balance: escrow.CardBalance


class CardDetail(msgspec.Struct):
    """A card: balance at the paid price, its protection, every entry, and the contract."""

    card_id: uuid.UUID
    merchant: dict[str, Any]
    product: dict[str, Any]
    registered: bool
    expires_at: datetime | None
    balance: escrow.CardBalance
    protection: dict[str, int]
    history: list[escrow.CardEvent]
    contract: dict[str, Any]
    contract_sha256: str
    refunds: list[PayableOut]
    """Each refund's part the merchant owes: paid by it, withheld from its sales, claimed
    from or paid by its insurer, or still pending."""


class CodeIn(msgspec.Struct, forbid_unknown_fields=True):
    """The holder's consent: how much the merchant may take with this code."""

    max_units: Annotated[int, msgspec.Meta(gt=0, le=10**12)]


class CodeOut(msgspec.Struct):
    """Show the QR (token) or read out the 6 digits; valid until ``expires_at``, once."""

    token: str
    digits: str
    expires_at: datetime
    max_units: int
    qr_svg: str | None
    """The token as a QR image, when asked for with ``?image=svg`` (apps draw it themselves)."""
    id: uuid.UUID
    """Follow the code at ``…/redemption-codes/{id}``: the holder's app shows the outcome."""


class CodeStateOut(msgspec.Struct):
    """A code as its holder's app follows it: ``waiting``, then ``used`` or ``expired``."""

    state: str
    expires_at: datetime
    max_units: int
    used_units: int | None
    """What the merchant redeemed with it, once used."""
    units_left: int
    """The card's balance now, in its units (fen of face value, or sessions)."""


class RedeemIn(msgspec.Struct, forbid_unknown_fields=True):
    """The merchant submits the scanned token or the typed digits, and what is used."""

    units: Annotated[int, msgspec.Meta(gt=0, le=10**12)]
    token: Annotated[str, msgspec.Meta(max_length=400)] | None = None
    digits: Annotated[str, msgspec.Meta(pattern=r"^\d{6}$")] | None = None


class RefundIn(msgspec.Struct, forbid_unknown_fields=True):
    """A consumer asks for the refundable balance back."""

    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class RefundOut(msgspec.Struct):
    """Refunded at once (cooling-off) or requested from the merchant."""

    status: Literal["refunded", "requested"]
    refunded: int | None
    paid_from_custody: int | None
    owed_by_merchant: int | None
    request_id: uuid.UUID | None


class AnswerIn(msgspec.Struct, forbid_unknown_fields=True):
    """The merchant's answer to a refund request."""

    answer: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class RefundRequestOut(msgspec.Struct):
    """A refund request and its answer."""

    id: uuid.UUID
    card_id: uuid.UUID
    reason: str
    status: str
    answer: str | None
    refunded: int | None
    created_at: datetime
    decided_at: datetime | None


def _order_out(order: Order, pay_url: str, card_link: str | None = None) -> OrderOut:
    return OrderOut(
        id=order.id,
        status=order.status,
        amount=order.amount,
        merchant_id=order.merchant_id,
        product_id=order.product_id,
        provider=order.provider,
        provider_order_id=order.provider_order_id,
        pay_url=pay_url,
        card_id=order.card_id,
        card_link=card_link,
    )


def _detail(view: service.CardView) -> CardDetail:
    m, p, b = view.merchant, view.product, view.balance
    return CardDetail(
        card_id=view.holder.card_id,
        merchant={"id": str(m.id), "legal_name": m.legal_name, "status": m.status},
        product={"id": str(p.id), "name": p.name, "kind": p.kind, "units": p.units},
        registered=view.holder.registered,
        expires_at=view.holder.expires_at,
        balance=b,
        protection={
            "custody_ratio_bp": b.custody_ratio_bp,
            "custody_share": b.custody_share,
            "insured_share": b.insured_share,
        },
        history=view.history,
        contract=view.contract,
        contract_sha256=view.contract_sha256,
        refunds=[payable_out(p) for p in view.refunds],
    )


async def _refund(
    db: Db,
    who: Principal | None,
    data: RefundIn,
    idempotency_key: str,
    *,
    card_id: uuid.UUID | None = None,
    secret: str | None = None,
) -> RefundOut:
    async with db.begin():
        holder = await service.holder_for(db, who, card_id=card_id, secret=secret, lock=True)
        outcome = await service.request_refund(db, holder, data.reason, idempotency_key)
    return _refund_out(outcome)


def _refund_out(outcome: service.RefundOutcome) -> RefundOut:
    r = outcome.refund
    return RefundOut(
        status="refunded" if r else "requested",
        refunded=r.refunded if r else None,
        paid_from_custody=r.paid_from_custody if r else None,
        owed_by_merchant=r.owed_by_merchant if r else None,
        request_id=outcome.request.id if outcome.request else None,
    )


def _request_out(r: RefundRequest) -> RefundRequestOut:
    return RefundRequestOut(
        id=r.id,
        card_id=r.card_id,
        reason=r.reason,
        status=r.status,
        answer=r.answer,
        refunded=r.refunded,
        created_at=r.created_at,
        decided_at=r.decided_at,
    )


async def _code_out(
    db: Db,
    who: Principal | None,
    consent: CodeIn,
    image: str | None,
    *,
    card_id: uuid.UUID | None = None,
    secret: str | None = None,
) -> CodeOut:
    async with db.begin():
        holder = await service.holder_for(db, who, card_id=card_id, secret=secret)
        code = await service.issue_redemption_code(db, holder, consent.max_units)
    # drawing the QR costs ~15 ms of pure Python: only on request, and off the event loop
    svg = await asyncio.to_thread(qr.svg, code.token) if image == "svg" else None
    return CodeOut(code.token, code.digits, code.expires_at, code.max_units, svg, code.id)


async def _code_state(
    db: Db,
    who: Principal | None,
    code_id: uuid.UUID,
    *,
    card_id: uuid.UUID | None = None,
    secret: str | None = None,
) -> CodeStateOut:
    async with db.begin():
        holder = await service.holder_for(db, who, card_id=card_id, secret=secret)
        found = await service.code_status(db, holder, code_id)
    code = found.code
    return CodeStateOut(
        found.state.value, code.expires_at, code.max_units, found.used_units, found.units_left
    )


class OrderController(Controller):
    """Buying a card: order, pay at the provider, the provider's signed notification."""

    path = "/orders"
    tags = ["consumers"]  # noqa: RUF012

    @post("/", guards=[public], status_code=HTTP_201_CREATED)
    async def create(
        self,
        data: JSONBody[OrderIn],
        db: Db,
        maybe_me: MaybeMe,
        cipher: Cipher,
        provider: Provider,
        idempotency_key: IdempotencyKey,
    ) -> Response[OrderOut]:
        """Order a card; anonymous cards need no sign-in and get a secret card link."""
        request = service.OrderRequest(
            merchant_id=data.merchant_id,
            kid=data.k,
            signature=data.s,
            product_id=data.product_id,
            real_name=data.real_name,
            id_number=data.id_number,
        )
        async with db.begin():
            made = await service.create_order(
                db, maybe_me, request, idempotency_key, provider, cipher
            )
        return Response(
            _order_out(made.order, made.pay_url, made.card_secret),
            status_code=HTTP_200_OK if made.replayed else HTTP_201_CREATED,
            headers={"Idempotent-Replayed": "true"} if made.replayed else None,
        )

    @get("/{order_id:uuid}", guards=[public])
    async def one(
        self,
        order_id: FromPath[uuid.UUID],
        db: Db,
        maybe_me: MaybeMe,
        provider: Provider,
        secret: Annotated[str | None, QueryParameter(name="card_link", max_length=100)] = None,
    ) -> OrderOut:
        """The buyer's order: signed in, or with the anonymous card link."""
        order = await service.visible_order(db, maybe_me, order_id, secret)
        return _order_out(order, provider.pay_url(order.provider_order_id))


class PaymentController(Controller):
    """Where the payment provider sends its signed, asynchronous notifications."""

    path = "/payments"
    tags = ["payments"]  # noqa: RUF012

    @post("/sandbox/notify", guards=[public], status_code=HTTP_200_OK)
    async def sandbox_notify(
        self, request: Request[Any, Any, Any], db: Db, provider: Provider
    ) -> dict[str, str]:
        """Verify the signature, then apply the event exactly once (duplicates are ignored)."""
        headers, body = dict(request.headers), await request.body()
        return {
            "code": "SUCCESS",
            "outcome": await receive_notification(db, provider, headers, body),
        }


class SandboxPayController(Controller):
    """The sandbox provider's pay page: the consumer 'pays', the provider notifies (twice)."""

    path = "/sandbox/pay"
    tags = ["payments"]  # noqa: RUF012

    @post("/{provider_order_id:str}", guards=[public], status_code=HTTP_200_OK)
    async def pay(
        self, provider_order_id: FromPath[str], db: Db, provider: Provider
    ) -> dict[str, Any]:
        """Pay a pending sandbox order: a card, or a merchant's refunds owed.

        The notifications go through the same checks as the provider's.
        """
        paid = await pay_in_sandbox(db, provider, provider_order_id)
        key = "order_id" if paid.kind == "order" else "payment_id"
        return {key: str(paid.id), "notifications": paid.outcomes}


class ConsumerCardController(Controller):
    """A signed-in consumer's own cards."""

    path = "/me/cards"
    tags = ["consumers"]  # noqa: RUF012
    guards = [CONSUMER]  # noqa: RUF012

    @get("/")
    async def list_(self, db: Db, me: Me) -> list[CardSummary]:
        """Every card the consumer holds, with its balance."""
        if me.consumer_id is None:  # pragma: no cover - the guard admits consumers only
            raise Invalid("not-a-consumer")
        return [
            CardSummary(
                card_id=row.holder.card_id,
                merchant_id=row.holder.merchant_id,
                product_id=row.holder.product_id,
                registered=row.holder.registered,
                expires_at=row.holder.expires_at,
                balance=row.balance,
            )
            for row in await service.cards_of(db, me.consumer_id)
        ]

    @get("/{card_id:uuid}")
    async def one(self, card_id: FromPath[uuid.UUID], db: Db, me: Me) -> CardDetail:
        """Balance, protection, history and contract of one of the consumer's cards."""
        holder = await service.holder_for(db, me, card_id=card_id)
        return _detail(await service.card_view(db, holder))

    @post("/{card_id:uuid}/redemption-code")
    async def code(
        self,
        card_id: FromPath[uuid.UUID],
        data: JSONBody[CodeIn],
        db: Db,
        me: Me,
        image: Image = None,
    ) -> CodeOut:
        """A one-time consent code for the merchant, for up to ``max_units``, valid 2 minutes."""
        return await _code_out(db, me, data, image, card_id=card_id)

    @get("/{card_id:uuid}/redemption-codes/{code_id:uuid}")
    async def code_state(
        self, card_id: FromPath[uuid.UUID], code_id: FromPath[uuid.UUID], db: Db, me: Me
    ) -> CodeStateOut:
        """Where a code of this card stands: still waiting, used (for how much), or expired."""
        return await _code_state(db, me, code_id, card_id=card_id)

    @post("/{card_id:uuid}/refund", status_code=HTTP_200_OK)
    async def refund(
        self,
        card_id: FromPath[uuid.UUID],
        data: JSONBody[RefundIn],
        db: Db,
        me: Me,
        idempotency_key: IdempotencyKey,
    ) -> RefundOut:
        """Refund at once in cooling-off (unused card); otherwise ask the merchant."""
        return await _refund(db, me, data, idempotency_key, card_id=card_id)


class AnonymousCardController(Controller):
    """An anonymous card, reached only through its secret card link."""

    path = "/cards/anonymous/{secret:str}"
    tags = ["consumers"]  # noqa: RUF012
    guards = [public]  # noqa: RUF012

    @get("/")
    async def one(self, secret: FromPath[str], db: Db) -> CardDetail:
        """The card behind the link."""
        holder = await service.holder_for(db, None, secret=secret)
        return _detail(await service.card_view(db, holder))

    @post("/redemption-code")
    async def code(
        self, secret: FromPath[str], data: JSONBody[CodeIn], db: Db, image: Image = None
    ) -> CodeOut:
        """A one-time consent code, as for a registered card."""
        return await _code_out(db, None, data, image, secret=secret)

    @get("/redemption-codes/{code_id:uuid}")
    async def code_state(
        self, secret: FromPath[str], code_id: FromPath[uuid.UUID], db: Db
    ) -> CodeStateOut:
        """Where a code of this card stands, as for a registered card."""
        return await _code_state(db, None, code_id, secret=secret)

    @post("/refund", status_code=HTTP_200_OK)
    async def refund(
        self,
        secret: FromPath[str],
        data: JSONBody[RefundIn],
        db: Db,
        idempotency_key: IdempotencyKey,
    ) -> RefundOut:
        """Refund or refund request, as for a registered card."""
        return await _refund(db, None, data, idempotency_key, secret=secret)


class MerchantCardController(Controller):
    """The merchant's side: redeem with consent, answer refunds, see settlements."""

    path = "/merchants/me"
    tags = ["merchants"]  # noqa: RUF012
    guards = [MERCHANT]  # noqa: RUF012

    @post("/redemptions", status_code=HTTP_200_OK)
    async def redeem(
        self, data: JSONBody[RedeemIn], db: Db, me: Me, idempotency_key: IdempotencyKey
    ) -> escrow.RedemptionReceipt:
        """Use a card with the code its holder shows (scanned token or typed digits).

        Typed codes are counted per merchant in a transaction of their own, so guessing the
        six digits of someone else's live code is hopeless.
        """
        return await redeem_counting_digits(
            db,
            me,
            token=data.token,
            digits=data.digits,
            units=data.units,
            idempotency_key=idempotency_key,
        )

    @get("/refund-requests")
    async def refund_requests(
        self, db: Db, me: Me, status: FromQuery[str | None] = None
    ) -> list[RefundRequestOut]:
        """Refund requests to answer (or answered)."""
        return [_request_out(r) for r in await service.merchant_refund_requests(db, me, status)]

    @post("/refund-requests/{request_id:uuid}/accept", status_code=HTTP_200_OK)
    async def accept(
        self, request_id: FromPath[uuid.UUID], data: JSONBody[AnswerIn], db: Db, me: Me
    ) -> RefundRequestOut:
        """Accept: the ledger refunds the card's outstanding amount."""
        async with db.begin():
            answered = await service.answer_refund(
                db, me, request_id, accept=True, answer=data.answer
            )
        return _request_out(answered)

    @post("/refund-requests/{request_id:uuid}/refuse", status_code=HTTP_200_OK)
    async def refuse(
        self, request_id: FromPath[uuid.UUID], data: JSONBody[AnswerIn], db: Db, me: Me
    ) -> RefundRequestOut:
        """Refuse, saying why (the consumer may then complain to the regulator)."""
        async with db.begin():
            answered = await service.answer_refund(
                db, me, request_id, accept=False, answer=data.answer
            )
        return _request_out(answered)

    @get("/settlement")
    async def settlement(self, db: Db, me: Me) -> escrow.Settlement:
        """Sold, released, refunded, receivable: recomputed from the ledger's postings."""
        merchant = await own_merchant(db, me)
        return await escrow.settlement(db, merchant.id)
