"""The consumer's pages: from the counter QR to a card, its use, its refund and complaints.

Mobile first (375 px), server-rendered, Chinese by default. Every page calls the same services
as the API (``app.cards.service``, ``app.supervision.disputes``), so the rules are the API's.

Routes (all HTML):

* ``GET /q/{merchant}?k&s`` (in ``app.api.qrcodes``, when the browser asks for HTML): the
  merchant page built by :func:`merchant_page`, or a warning page (``class="warning-page"``,
  403/400/404) for a forged, withdrawn or unknown code and for a merchant that may not sell:
  a refused code never shows a buy button.
* ``GET|POST /buy/{merchant}/{product}?k&s``: re-verifies the code, asks for the real name when
  the card needs it, places the order with a random ``Idempotency-Key`` kept in the form (a
  double submit replays the first order) and sends the browser to the provider's pay page.
  Registered cards need a phone sign-in first; anonymous cards do not.
* ``GET /sandbox/pay/{provider_order}`` and ``POST …/confirm``: the sandbox provider's pay
  page (sandbox deployments only); paying delivers the signed notifications as the API does
  and returns to ``GET /orders/{order}/done``, which waits for the confirmation, then opens
  the new card (signed in) or shows the anonymous card's secret link to save.
* ``/my/cards``, ``/my/cards/{card}`` (+ ``/code``, ``/refund``, ``/complaint``),
  ``/my/complaints``, ``/my/complaints/{dispute}`` (+ ``/confirm``, ``/reopen``): a signed-in
  consumer's cards and complaints; signed-out visitors are sent to ``/login/phone``.
* ``/card/{secret}`` (+ the same actions, and ``/complaints/{dispute}``): an anonymous card
  through its secret link (``/cards/anonymous/…`` is the JSON API).

The anonymous buyer's card link travels from the order to the "save this link" page in an
HttpOnly cookie scoped to that order's path, never through the payment provider's URLs.
"""

from __future__ import annotations

import asyncio
import base64
import math
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy import select

import escrow
import qr
from app.auth.identity import id_number_problem, normalise_id_number
from app.auth.models import Consumer, Role
from app.auth.principal import Principal, public, requires
from app.cards import service as cards
from app.cards.models import CardHolder, OrderStatus, RefundRequest
from app.clock import today, utcnow
from app.deps import Cipher, Db, MaybeMe, Me
from app.exceptions import AppError, Conflict, Forbidden, Invalid, NotAuthenticated, NotFound
from app.i18n import gettext
from app.insurance.models import Insurer, Policy, PolicyStatus
from app.ledger import escrow_ledger
from app.merchants.models import Industry, Merchant, MerchantStatus, Product, ProductStatus
from app.merchants.service import legal_names
from app.pages.render import Done, Form, back_to, lang_of, page, said_done, same_origin
from app.payables import service as payables
from app.payments.notifications import pay_in_sandbox
from app.payments.sandbox import SandboxProvider
from app.risk.service import current as current_rating
from app.risk.supervision import UNRATED, colour
from app.risk.words import BOOLEAN_FEATURES, LABELS
from app.settings import get_settings
from app.supervision import disputes
from app.supervision.disputes import ConsumerSide, DisputeKind
from escrow.models import EntryKind

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.risk.models import Rating
    from app.security.pii import PiiCipher

CodeK = Annotated[str, QueryParameter(name="k", max_length=64)]
CodeS = Annotated[str, QueryParameter(name="s", max_length=200)]

CONSUMER_PAGE = {"page": True, "sign_in": "/login/phone"}
"""Errors render as pages; a signed-out visitor is asked for the phone sign-in."""
NEW_CARD_COOKIE = "pguard_new_card"
"""Holds an anonymous buyer's card link between the order and the "save this link" page."""
KEY_LENGTH = 32
YUAN = re.compile(r"^\s*[¥￥]?\s*(\d{1,10})(?:\.(\d{1,2}))?\s*$")
PENDING_REFRESH_SECONDS = 2


REASON_LABELS_ZH = {
    "registration_status": "登记状态",
    "registration_age_years": "经营年限（年）",
    "registration_capital_change": "注册资本变动（%）",
    "registration_abnormal_operations": "列入经营异常名录",
    "registration_licence_revoked": "营业执照被吊销",
    "registration_deregistration_filed": "已申请注销登记",
    "tax_arrears_fen": "欠税金额",
    "tax_filing_gap_months": "未申报纳税的月数",
    "court_enforcement_cases": "被执行案件数",
    "court_dishonest_debtor": "列入失信被执行人名单",
    "credit_public_rating": "公共信用评级",
    "credit_penalties": "近 3 年行政处罚次数",
    "social_security_headcount": "参加社保的员工人数",
    "social_security_contribution_gap_months": "社保断缴月数",
    "bank_inflow_trend_pct": "近 3 个月银行入账变化（%）",
    "bank_frozen": "银行账户被冻结",
    "complaints_count_30d": "近 30 天投诉数",
    "complaints_count_7d": "近 7 天投诉数",
    "sales_surge_pct": "预付卡销售较平时变化（%）",
    "sales_max_discount_pct": "最大售卡折扣（%）",
    "sales_outstanding_to_revenue": "未消费余额与销售额之比",
}
"""The reasons' signals in Chinese; English comes from ``app.risk.words.LABELS``."""

ENTRY_KINDS = frozenset(k.value for k in EntryKind)
NOT_SELLING_KEYS = {
    MerchantStatus.SUSPENDED: "c_not_selling_suspended",
    MerchantStatus.DEFAULTED: "c_not_selling_defaulted",
    MerchantStatus.CLOSED: "c_not_selling_closed",
}


# -- small helpers ----------------------------------------------------------------------


def wants_html(request: Request[Any, Any, Any]) -> bool:
    """Whether the caller prefers a page to JSON (a phone's browser, not an app or a test)."""
    best = request.accept.best_match(["application/json", "text/html"], "application/json")
    return best == "text/html"


def _here(request: Request[Any, Any, Any]) -> str:
    """The path of this page with its query, for the language switch and the sign-in return."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _view(
    request: Request[Any, Any, Any],
    name: str,
    *,
    here: str | None = None,
    private: bool = False,
    **context: Any,  # noqa: ANN401
) -> Template:
    """A consumer page: the layout's helpers, the language switch back to ``here``."""
    lang = lang_of(request)
    rendered = page(
        request,
        name,
        path=here or _here(request),
        op_label=lambda kind: gettext(lang, f"c_op_{kind}") if kind in ENTRY_KINDS else kind,
        **context,
    )
    if private:  # a card link, a live code: keep it out of caches and other sites' logs
        rendered.headers["Cache-Control"] = "no-store"
        rendered.headers["Referrer-Policy"] = "no-referrer"
    return rendered


def fen_of(text: str) -> int | None:
    """Yuan typed in a form (``100``, ``99.5``, ``¥1,000.00``) as fen; ``None`` if not money."""
    match = YUAN.match(text.replace(",", ""))
    if match is None:
        return None
    whole, part = match.groups()
    return int(whole) * 100 + int((part or "").ljust(2, "0"))


def _sign_in(request: Request[Any, Any, Any]) -> Redirect:
    return back_to(f"/login/phone?next={quote(_here(request), safe='')}")


def _form_key(data: dict[str, str]) -> str:
    key = data.get("key", "")
    return key if KEY_LENGTH <= len(key) <= 200 else secrets.token_urlsafe(KEY_LENGTH)  # noqa: PLR2004


# -- the merchant page ------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    """What the merchant page says about a merchant besides its registration."""

    grade: str
    colour: str
    reasons: list[str]
    overrides: list[str]
    rated_at: datetime | None
    insurer: str | None
    policy: str | None
    complaints: int
    industry: str
    cooling_off_days: int


def _shown(feature: str, value: object, lang: str) -> str:
    if value is None:
        return gettext(lang, "c_no_data")
    if feature in BOOLEAN_FEATURES or isinstance(value, bool):
        return gettext(lang, "c_yes" if value in (True, 1, 1.0) else "c_no")
    if feature == "tax_arrears_fen" and isinstance(value, (int, float)):
        return f"¥{value / 100:,.2f}"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    return str(value)


def reason_words(reason: dict[str, Any], lang: str) -> str:
    """One stored reason of a rating in plain words, in the visitor's language."""
    feature = str(reason.get("feature", ""))
    fallback = feature.replace("_", " ")
    label = (
        REASON_LABELS_ZH.get(feature, fallback) if lang == "zh" else LABELS.get(feature, fallback)
    )
    points = float(reason.get("contribution", 0.0)) * 100
    return gettext(
        lang,
        "c_reason_line",
        label=label,
        value=_shown(feature, reason.get("value"), lang),
        points=f"{points:.1f}",
    )


async def _insurer_of(session: AsyncSession, merchant_id: uuid.UUID) -> tuple[str, str] | None:
    """The insurer's name and the policy number of the merchant's active policy."""
    row = (
        await session.execute(
            select(Insurer.name, Policy.number)
            .join(Insurer, Insurer.id == Policy.insurer_id)
            .where(Policy.merchant_id == merchant_id, Policy.status == PolicyStatus.ACTIVE)
        )
    ).first()
    return (str(row[0]), str(row[1])) if row else None


async def standing(session: AsyncSession, merchant: Merchant, lang: str) -> Standing:
    """Grade and reasons, insurer, complaints and cooling-off of a merchant, for its page."""
    rating: Rating | None = await current_rating(session, merchant.id)
    cover = await _insurer_of(session, merchant.id)
    industry = await session.get(Industry, merchant.industry)
    grade = rating.grade if rating else UNRATED
    return Standing(
        grade=grade,
        colour=colour(grade),
        reasons=[reason_words(r, lang) for r in rating.reasons] if rating else [],
        overrides=[gettext(lang, f"c_override_{o}") for o in rating.overrides] if rating else [],
        rated_at=rating.rated_at if rating else None,
        insurer=cover[0] if cover else None,
        policy=cover[1] if cover else merchant.policy_ref,
        complaints=await disputes.complaints_last_year(session, merchant.id),
        industry=(
            (industry.name_zh if lang == "zh" else industry.name_en)
            if industry
            else merchant.industry
        ),
        cooling_off_days=industry.cooling_off_days if industry else 7,
    )


def refused(request: Request[Any, Any, Any], exc: Exception) -> Template:
    """The warning page for a code that must not be trusted: why, and no way to pay."""
    if isinstance(exc, qr.MalformedCode):
        status, key = 400, "c_refused_malformed"
    elif isinstance(exc, qr.RevokedKey):
        status, key = 403, "c_refused_revoked"
    elif isinstance(exc, NotFound):
        status, key = 404, "c_refused_unknown_merchant"
    else:
        status, key = 403, "c_refused_bad_signature"
    rendered = _view(request, "consumer/refused.html", reason_key=key, merchant=None)
    rendered.status_code = status
    return rendered


def not_selling(request: Request[Any, Any, Any], merchant: Merchant) -> Template:
    """The warning page for a genuine code of a merchant that may not take money now."""
    if merchant.status == MerchantStatus.ACTIVE:
        key = "c_not_selling_blocked"
    else:
        key = NOT_SELLING_KEYS.get(MerchantStatus(merchant.status), "c_not_selling_pending")
    rendered = _view(request, "consumer/refused.html", reason_key=key, merchant=merchant)
    rendered.status_code = 403
    return rendered


async def _genuine(
    session: AsyncSession, merchant_id: str, kid: str, signature: str
) -> Merchant | Exception:
    """The merchant behind a genuine code, or why the code is refused."""
    try:
        return await cards.counter_merchant(session, merchant_id, kid, signature)
    except (qr.RefusedCode, NotFound) as exc:
        return exc


async def merchant_page(
    request: Request[Any, Any, Any], session: AsyncSession, merchant_id: str, kid: str, sig: str
) -> Template:
    """What a phone shows after scanning a counter code: the merchant, or a warning."""
    merchant = await _genuine(session, merchant_id, kid, sig)
    if isinstance(merchant, Exception):
        return refused(request, merchant)
    if await cards.selling_problem(session, merchant):
        return not_selling(request, merchant)
    products = (
        await session.scalars(
            select(Product)
            .where(Product.merchant_id == merchant.id, Product.status == ProductStatus.ACTIVE)
            .order_by(Product.price, Product.name)
        )
    ).all()
    return _view(
        request,
        "consumer/merchant.html",
        merchant=merchant,
        standing=await standing(session, merchant, lang_of(request)),
        products=products,
        code=f"k={quote(kid, safe='')}&s={quote(sig, safe='')}",
    )


# -- buying -----------------------------------------------------------------------------


async def _needs_real_name(session: AsyncSession, who: Principal | None, product: Product) -> bool:
    """Whether the form must ask for name and ID (as ``create_order`` decides it)."""
    required = not product.anonymous or product.price >= get_settings().cards.real_name_threshold
    if not required:
        return False
    if who is not None and who.consumer_id is not None:
        consumer = await session.get(Consumer, who.consumer_id)
        if consumer is not None and consumer.real_name_enc and consumer.id_number_enc:
            return False
    return True


def _name_problems(data: dict[str, str], lang: str, *, required: bool) -> dict[str, str]:
    name = data.get("real_name", "").strip()
    number = normalise_id_number(data.get("id_number", ""))
    if not (name or number or required):
        return {}
    problems: dict[str, str] = {}
    if not name:
        problems["real_name"] = gettext(
            lang, "c_err_required" if required else "c_err_name_with_id"
        )
    if not number:
        problems["id_number"] = gettext(lang, "c_err_required")
    elif id_number_problem(number):
        problems["id_number"] = gettext(lang, "c_err_id_number")
    return problems


def _sandbox_only() -> None:
    """The sandbox provider's pages are "not found" where another provider takes the money."""
    if get_settings().payments != "sandbox":
        raise NotFound("there is no sandbox payment provider here")


@get(
    "/sandbox/pay/{provider_order_id:str}",
    guards=[public],
    opt={**CONSUMER_PAGE},
    include_in_schema=False,
)
async def sandbox_pay_page(
    request: Request[Any, Any, Any], provider_order_id: FromPath[str], db: Db
) -> Template:
    """The sandbox provider's pay page (``pay_url``): who is paid, how much, the pay button.

    A plain handler, not a controller's: the API's POST on the same path belongs to another
    controller, and Litestar merges two controllers' routes on one path only this way.
    """
    _sandbox_only()
    payment = await payables.payment_for(db, provider_order_id)
    if payment is not None:  # a merchant paying the refunds it owes consumers
        merchant = await db.get(Merchant, payment.merchant_id)
        return _view(request, "consumer/pay.html", order=payment, merchant=merchant, product=None)
    order = await cards.sandbox_order(db, provider_order_id)
    merchant = await db.get(Merchant, order.merchant_id)
    product = await db.get(Product, order.product_id)
    return _view(request, "consumer/pay.html", order=order, merchant=merchant, product=product)


class BuyPages(Controller):
    """Buying a card from a scanned counter code, and the sandbox provider's pay page."""

    include_in_schema = False
    guards = [public]  # noqa: RUF012
    opt = {**CONSUMER_PAGE}  # noqa: RUF012

    async def _product(
        self, db: AsyncSession, merchant: Merchant, product_id: uuid.UUID
    ) -> Product:
        product = await db.get(Product, product_id)
        if product is None or product.merchant_id != merchant.id:
            raise NotFound("this merchant has no such product")
        if product.status != ProductStatus.ACTIVE:
            raise Conflict("this product is no longer sold")
        return product

    async def _form(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        who: Principal | None,
        merchant: Merchant,
        product: Product,
        **context: Any,  # noqa: ANN401
    ) -> Template:
        ratio = merchant.custody_ratio_bp
        custody = math.ceil(product.price * ratio / 10_000)
        industry = await db.get(Industry, merchant.industry)
        return _view(
            request,
            "consumer/buy.html",
            merchant=merchant,
            product=product,
            custody=custody,
            insured=product.price - custody,
            cooling_off_days=industry.cooling_off_days if industry else 7,
            needs_real_name=await _needs_real_name(db, who, product),
            signed_in=who is not None,
            **{"key": secrets.token_urlsafe(KEY_LENGTH), "errors": {}, "data": {}, **context},
        )

    async def _place(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        who: Principal | None,
        cipher: PiiCipher,
        order: cards.OrderRequest,
        key: str,
    ) -> Template | Redirect | tuple[dict[str, str], str]:
        """Place the order: off to the pay page, a warning, or the form's errors and key."""
        try:
            async with db.begin():
                made = await cards.create_order(db, who, order, key, SandboxProvider(), cipher)
        except NotAuthenticated:
            return _sign_in(request)
        except qr.RefusedCode as exc:  # a key revoked since the form was shown
            return refused(request, exc)
        except Forbidden:
            merchant = await db.get(Merchant, uuid.UUID(order.merchant_id))
            if merchant is not None and await cards.selling_problem(db, merchant):
                return not_selling(request, merchant)
            raise
        except Invalid as exc:
            return {f: str(exc) for f in exc.fields} or {"form": str(exc)}, key
        except Conflict as exc:  # the form's key was used with other details: a new order
            return {"form": str(exc)}, secrets.token_urlsafe(KEY_LENGTH)
        response = back_to(made.pay_url)
        if made.card_secret:  # the anonymous buyer's link, for the "save this link" page only
            response.cookies.append(
                Cookie(
                    key=NEW_CARD_COOKIE,
                    value=made.card_secret,
                    path=f"/orders/{made.order.id}/",
                    httponly=True,
                    samesite="strict",
                    max_age=86_400,
                )
            )
        return response

    @get("/buy/{merchant_id:str}/{product_id:uuid}")
    async def buy_form(
        self,
        request: Request[Any, Any, Any],
        merchant_id: FromPath[str],
        product_id: FromPath[uuid.UUID],
        db: Db,
        maybe_me: MaybeMe,
        k: CodeK,
        s: CodeS,
    ) -> Template | Redirect:
        """The contract's key points, the real-name fields if needed, and the pay button."""
        merchant = await _genuine(db, merchant_id, k, s)
        if isinstance(merchant, Exception):
            return refused(request, merchant)
        if await cards.selling_problem(db, merchant):
            return not_selling(request, merchant)
        product = await self._product(db, merchant, product_id)
        if maybe_me is not None and maybe_me.role is not Role.CONSUMER:
            raise Forbidden(gettext(lang_of(request), "c_staff_cannot_buy"))
        if maybe_me is None and not product.anonymous:
            return _sign_in(request)
        return await self._form(request, db, maybe_me, merchant, product, k=k, s=s)

    @post("/buy/{merchant_id:str}/{product_id:uuid}")
    async def buy(
        self,
        request: Request[Any, Any, Any],
        merchant_id: FromPath[str],
        product_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        maybe_me: MaybeMe,
        cipher: Cipher,
    ) -> Template | Redirect:
        """Place the order (a double submit replays it) and go to the provider's pay page."""
        same_origin(request)
        lang = lang_of(request)
        k, s = data.get("k", ""), data.get("s", "")
        key = _form_key(data)
        merchant = await _genuine(db, merchant_id, k, s)
        if isinstance(merchant, Exception):
            return refused(request, merchant)
        product = await self._product(db, merchant, product_id)
        needs = await _needs_real_name(db, maybe_me, product)
        await db.rollback()  # end the reads: the order is placed in a transaction of its own
        problems = _name_problems(data, lang, required=needs)
        if not problems:
            name = data.get("real_name", "").strip()
            order = cards.OrderRequest(
                merchant_id=merchant_id,
                kid=k,
                signature=s,
                product_id=product_id,
                real_name=name or None,
                id_number=normalise_id_number(data.get("id_number", "")) or None,
            )
            placed = await self._place(request, db, maybe_me, cipher, order, key)
            if not isinstance(placed, tuple):
                return placed
            problems, key = placed
        merchant = await cards.counter_merchant(db, merchant_id, k, s)
        product = await self._product(db, merchant, product_id)
        return await self._form(
            request,
            db,
            maybe_me,
            merchant,
            product,
            k=k,
            s=s,
            key=key,
            errors=problems,
            data={"real_name": data.get("real_name", ""), "id_number": data.get("id_number", "")},
        )

    @post("/sandbox/pay/{provider_order_id:str}/confirm")
    async def pay(
        self, request: Request[Any, Any, Any], provider_order_id: FromPath[str], db: Db
    ) -> Redirect:
        """Pay: the provider notifies (twice, as real ones do), then the buyer goes back."""
        same_origin(request)
        _sandbox_only()
        paid = await pay_in_sandbox(db, provider_order_id, only_pending=True)
        if paid.kind == "payable-payment":
            return back_to("/console/payables?done=paid")
        return back_to(f"/orders/{paid.id}/done")

    @get("/orders/{order_id:uuid}/done")
    async def done(
        self,
        request: Request[Any, Any, Any],
        order_id: FromPath[uuid.UUID],
        db: Db,
        maybe_me: MaybeMe,
    ) -> Template | Redirect:
        """After paying: wait for the confirmation, then the card (or its link to save)."""
        secret = request.cookies.get(NEW_CARD_COOKIE)
        order = await cards.visible_order(db, maybe_me, order_id, secret)
        if order.status == OrderStatus.PAID and order.card_id and order.consumer_id:
            return back_to(f"/my/cards/{order.card_id}?done=paid")
        link = None
        if order.status == OrderStatus.PAID and secret:
            link = f"{str(request.base_url).rstrip('/')}/card/{secret}"
        rendered = _view(
            request, "consumer/done.html", order=order, link=link, secret=secret, private=True
        )
        if order.status == OrderStatus.PENDING:
            rendered.headers["Refresh"] = str(PENDING_REFRESH_SECONDS)
        return rendered


# -- cards ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reach:
    """How a page reaches a card: a signed-in consumer's card id, or an anonymous link."""

    who: Principal | None
    card_id: uuid.UUID | None = None
    secret: str | None = None

    @property
    def base(self) -> str:
        """The card page's path."""
        return f"/card/{self.secret}" if self.secret else f"/my/cards/{self.card_id}"

    def complaint_path(self, dispute_id: uuid.UUID) -> str:
        """A complaint's page."""
        if self.secret:
            return f"/card/{self.secret}/complaints/{dispute_id}"
        return f"/my/complaints/{dispute_id}"

    async def holder(self, session: AsyncSession, *, lock: bool = False) -> CardHolder:
        """The card, if this reach opens it (else NotFound)."""
        return await cards.holder_for(
            session, self.who, card_id=self.card_id, secret=self.secret, lock=lock
        )

    def side(self, holder: CardHolder | None = None) -> ConsumerSide:
        """Who speaks for the card in a complaint."""
        if self.secret is not None and holder is not None:
            return ConsumerSide.anonymous(holder)
        if self.who is None:
            raise NotFound("no such dispute")
        return ConsumerSide.of(self.who)


def _flash(request: Request[Any, Any, Any], done: str | None) -> str | None:
    return said_done(lang_of(request), "c_done_", done)


async def _card_context(session: AsyncSession, holder: CardHolder, reach: Reach) -> dict[str, Any]:
    view = await cards.card_view(session, holder)
    cover = await _insurer_of(session, holder.merchant_id)
    days = int(view.contract.get("cooling_off_days", 7))
    requests = (
        await session.scalars(
            select(RefundRequest)
            .where(RefundRequest.card_id == holder.card_id)
            .order_by(RefundRequest.created_at.desc())
        )
    ).all()
    complaints = [
        v.dispute
        for v in await disputes.consumer_disputes(session, reach.side(holder))
        if v.dispute.card_id == holder.card_id
    ]
    return {
        "view": view,
        "b": view.balance,
        "reach": reach,
        "insurer": cover[0] if cover else None,
        "cooling_until": today(holder.created_at) + timedelta(days=days),
        "in_cooling_off": today() <= today(holder.created_at) + timedelta(days=days),
        "usable": view.balance.status == escrow.CardStatus.OPEN
        and view.balance.units_remaining > 0,
        "refund_requests": requests,
        "complaints": complaints,
        "code_errors": {},
        "refund_key": secrets.token_urlsafe(KEY_LENGTH),
    }


async def card_page(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    reach: Reach,
    *,
    status: int = 200,
    **extra: Any,  # noqa: ANN401
) -> Template:
    """A card: balance, protection, actions, refund requests, complaints, history, contract."""
    holder = await reach.holder(session)
    context = await _card_context(session, holder, reach)
    rendered = _view(
        request,
        "consumer/card.html",
        here=reach.base,
        private=reach.secret is not None,
        **{**context, **extra},
    )
    rendered.status_code = status
    return rendered


def _max_units(data: dict[str, str], kind: str, lang: str) -> int | str:
    """The consent's limit in the card's units, or the error to show beside the field."""
    text = data.get("max_units", "")
    if kind == escrow.CardKind.STORED_VALUE:
        fen = fen_of(text)
        return fen or gettext(lang, "c_err_amount")
    stripped = text.strip()
    return (
        int(stripped)
        if stripped.isdigit() and int(stripped) > 0
        else gettext(lang, "c_err_positive")
    )


async def redemption_code(
    request: Request[Any, Any, Any], session: AsyncSession, reach: Reach, data: dict[str, str]
) -> Template:
    """Issue a one-time consent code and show its 6 digits and QR."""
    same_origin(request)
    lang = lang_of(request)
    product_kind = ""
    async with session.begin():
        holder = await reach.holder(session)
        product = await session.get(Product, holder.product_id)
        product_kind = product.kind if product else escrow.CardKind.STORED_VALUE
        wanted = _max_units(data, product_kind, lang)
        if isinstance(wanted, int):
            balance = await escrow_ledger(session).card(holder.merchant_id, holder.card_id)
            if wanted > balance.units_remaining:
                limit = (
                    f"¥{balance.units_remaining / 100:,.2f}"
                    if product_kind == escrow.CardKind.STORED_VALUE
                    else gettext(lang, "c_sessions_n", n=balance.units_remaining)
                )
                wanted = gettext(lang, "c_err_at_most", limit=limit)
    if isinstance(wanted, str):
        return await card_page(
            request,
            session,
            reach,
            status=422,
            code_errors={"max_units": wanted},
            code_value=data.get("max_units", ""),
        )
    try:
        async with session.begin():
            holder = await reach.holder(session)
            code = await cards.issue_redemption_code(session, holder, wanted)
    except (Conflict, Invalid) as exc:
        return await card_page(
            request, session, reach, status=409, flash=str(exc), flash_kind="error"
        )
    svg = await asyncio.to_thread(qr.svg, code.token)  # ~15 ms of pure Python: off the loop
    return _view(
        request,
        "consumer/code.html",
        here=reach.base,
        private=True,
        code=code,
        svg_b64=base64.b64encode(svg.encode()).decode(),
        reach=reach,
        kind=product_kind,
        value=data.get("max_units", ""),
    )


async def ask_refund(
    request: Request[Any, Any, Any], session: AsyncSession, reach: Reach, data: dict[str, str]
) -> Template:
    """Refund at once in cooling-off (unused), else send the request to the merchant."""
    same_origin(request)
    reason = data.get("reason", "").strip()[:2000]
    try:
        async with session.begin():
            holder = await reach.holder(session, lock=True)
            outcome = await cards.request_refund(session, holder, reason, _form_key(data))
    except (AppError, escrow.EscrowError) as exc:
        return await card_page(
            request, session, reach, status=409, flash=str(exc), flash_kind="error"
        )
    return _view(request, "consumer/refund.html", here=reach.base, outcome=outcome, reach=reach)


async def show_complaint_form(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    reach: Reach,
    *,
    status: int = 200,
    **extra: Any,  # noqa: ANN401
) -> Template:
    """Kind, words and amount asked, with errors beside each field."""
    holder = await reach.holder(session)
    view = await cards.card_view(session, holder)
    rendered = _view(
        request,
        "consumer/complaint_form.html",
        view=view,
        reach=reach,
        kinds=[k.value for k in DisputeKind],
        max_text=disputes.MAX_TEXT,
        **{"errors": {}, "data": {}, "error": None, "open_link": None, **extra},
    )
    rendered.status_code = status
    return rendered


def _complaint_problems(
    data: dict[str, str], paid: int, lang: str
) -> tuple[dict[str, str], int | None]:
    problems: dict[str, str] = {}
    if data.get("kind") not in {k.value for k in DisputeKind}:
        problems["kind"] = gettext(lang, "c_err_required")
    text = data.get("text", "").strip()
    if not text:
        problems["text"] = gettext(lang, "c_err_required")
    elif len(text) > disputes.MAX_TEXT:
        problems["text"] = gettext(lang, "c_err_too_long", n=disputes.MAX_TEXT)
    amount = fen_of(data.get("amount_asked", "") or "0")
    if amount is None:
        problems["amount_asked"] = gettext(lang, "c_err_amount")
    elif amount > paid:
        problems["amount_asked"] = gettext(lang, "c_err_at_most", limit=f"¥{paid / 100:,.2f}")
    return problems, amount


async def file_complaint_page(
    request: Request[Any, Any, Any], session: AsyncSession, reach: Reach, data: dict[str, str]
) -> Template | Redirect:
    """File the complaint and open its page; a resubmitted identical form replays it."""
    same_origin(request)
    lang = lang_of(request)
    holder = await reach.holder(session)
    paid = (await escrow_ledger(session).card(holder.merchant_id, holder.card_id)).paid
    await session.rollback()
    problems, amount = _complaint_problems(data, paid, lang)
    shown = {k: data.get(k, "") for k in ("kind", "text", "amount_asked")}
    if problems or amount is None:
        return await show_complaint_form(
            request, session, reach, status=422, errors=problems, data=shown
        )
    complaint = disputes.Complaint(
        kind=DisputeKind(data["kind"]), text=data["text"].strip(), amount_asked=amount
    )
    try:
        async with session.begin():
            holder = await reach.holder(session, lock=True)
            filed = await disputes.file_complaint(session, holder, complaint)
    except Invalid as exc:
        return await show_complaint_form(
            request,
            session,
            reach,
            status=422,
            errors={f: str(exc) for f in exc.fields},
            data=shown,
            error=str(exc),
        )
    except Conflict as exc:
        open_id = exc.params.get("dispute_id")
        return await show_complaint_form(
            request,
            session,
            reach,
            status=409,
            data=shown,
            error=gettext(lang, "c_already_open"),
            open_link=reach.complaint_path(uuid.UUID(str(open_id))) if open_id else None,
        )
    return back_to(reach.complaint_path(filed.view.dispute.id) + "?done=filed")


async def complaint_page(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    reach: Reach,
    dispute_id: uuid.UUID,
    **extra: Any,  # noqa: ANN401
) -> Template:
    """A complaint: where it stands, whose move it is, the timeline, confirm or reopen."""
    holder = await reach.holder(session) if reach.secret else None
    found = await disputes.consumer_dispute(session, reach.side(holder), dispute_id)
    merchant = await session.get(Merchant, found.dispute.merchant_id)
    context = {"errors": {}, **extra}
    done = context.pop("done", None)
    context.setdefault("flash", _flash(request, done))
    return _view(
        request,
        "consumer/complaint.html",
        here=reach.complaint_path(dispute_id),
        private=reach.secret is not None,
        d=found.dispute,
        events=found.events,
        merchant=merchant,
        reach=reach,
        now=utcnow(),
        **context,
    )


async def confirm_decision(
    request: Request[Any, Any, Any], session: AsyncSession, reach: Reach, dispute_id: uuid.UUID
) -> Template | Redirect:
    """Accept the regulator's decision: the complaint closes."""
    same_origin(request)
    try:
        async with session.begin():
            holder = await reach.holder(session) if reach.secret else None
            await disputes.confirm(session, reach.side(holder), dispute_id)
    except Conflict as exc:
        return await complaint_page(
            request, session, reach, dispute_id, flash=str(exc), flash_kind="error"
        )
    return back_to(reach.complaint_path(dispute_id) + "?done=confirmed")


async def reopen_decision(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    reach: Reach,
    dispute_id: uuid.UUID,
    data: dict[str, str],
) -> Template | Redirect:
    """Do not accept the decision (once), saying why."""
    same_origin(request)
    text = data.get("text", "").strip()
    if not text:
        required = gettext(lang_of(request), "c_err_required")
        return await complaint_page(request, session, reach, dispute_id, errors={"text": required})
    try:
        async with session.begin():
            holder = await reach.holder(session) if reach.secret else None
            await disputes.reopen(session, reach.side(holder), dispute_id, text)
    except (Conflict, Invalid) as exc:
        return await complaint_page(
            request, session, reach, dispute_id, flash=str(exc), flash_kind="error"
        )
    return back_to(reach.complaint_path(dispute_id) + "?done=reopened")


@dataclass(frozen=True)
class CardRow:
    """One card in the list."""

    holder: CardHolder
    merchant: Merchant
    product: Product
    balance: escrow.CardBalance


class MyPages(Controller):
    """A signed-in consumer's cards and complaints."""

    path = "/my"
    include_in_schema = False
    guards = [requires(Role.CONSUMER)]  # noqa: RUF012
    opt = {**CONSUMER_PAGE}  # noqa: RUF012

    @get("/cards")
    async def list_cards(self, request: Request[Any, Any, Any], db: Db, me: Me) -> Template:
        """Every card: merchant, balance, sessions left, protection split."""
        if me.consumer_id is None:  # pragma: no cover - the guard admits consumers only
            raise NotFound("no cards")
        holders = await cards.consumer_cards(db, me.consumer_id)
        merchants = {
            m.id: m
            for m in await db.scalars(
                select(Merchant).where(Merchant.id.in_({h.merchant_id for h in holders}))
            )
        }
        products = {
            p.id: p
            for p in await db.scalars(
                select(Product).where(Product.id.in_({h.product_id for h in holders}))
            )
        }
        ledger = escrow_ledger(db)
        rows = [
            CardRow(
                h,
                merchants[h.merchant_id],
                products[h.product_id],
                await ledger.card(h.merchant_id, h.card_id),
            )
            for h in holders
        ]
        return _view(request, "consumer/cards.html", rows=rows)

    @get("/cards/{card_id:uuid}")
    async def card(
        self,
        request: Request[Any, Any, Any],
        card_id: FromPath[uuid.UUID],
        db: Db,
        me: Me,
        done: Done = None,
    ) -> Template:
        """One card (another consumer's card is "not found")."""
        reach = Reach(me, card_id=card_id)
        return await card_page(request, db, reach, flash=_flash(request, done))

    @post("/cards/{card_id:uuid}/code")
    async def code(
        self,
        request: Request[Any, Any, Any],
        card_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template:
        """Show a redemption code."""
        return await redemption_code(request, db, Reach(me, card_id=card_id), data)

    @post("/cards/{card_id:uuid}/refund")
    async def refund(
        self,
        request: Request[Any, Any, Any],
        card_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template:
        """Ask for a refund."""
        return await ask_refund(request, db, Reach(me, card_id=card_id), data)

    @get("/cards/{card_id:uuid}/complaint")
    async def complaint_form(
        self, request: Request[Any, Any, Any], card_id: FromPath[uuid.UUID], db: Db, me: Me
    ) -> Template:
        """The complaint form."""
        return await show_complaint_form(request, db, Reach(me, card_id=card_id))

    @post("/cards/{card_id:uuid}/complaint")
    async def file(
        self,
        request: Request[Any, Any, Any],
        card_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """File the complaint."""
        return await file_complaint_page(request, db, Reach(me, card_id=card_id), data)

    @get("/complaints")
    async def complaints(self, request: Request[Any, Any, Any], db: Db, me: Me) -> Template:
        """Every complaint, newest first, with where it stands."""
        found = await disputes.consumer_disputes(db, ConsumerSide.of(me))
        names = await legal_names(db, [v.dispute.merchant_id for v in found])
        return _view(request, "consumer/complaints.html", found=found, names=names, now=utcnow())

    @get("/complaints/{dispute_id:uuid}")
    async def complaint(
        self,
        request: Request[Any, Any, Any],
        dispute_id: FromPath[uuid.UUID],
        db: Db,
        me: Me,
        done: Done = None,
    ) -> Template:
        """One complaint and its timeline."""
        return await complaint_page(request, db, Reach(me), dispute_id, done=done)

    @post("/complaints/{dispute_id:uuid}/confirm")
    async def confirm(
        self, request: Request[Any, Any, Any], dispute_id: FromPath[uuid.UUID], db: Db, me: Me
    ) -> Template | Redirect:
        """Accept the decision."""
        return await confirm_decision(request, db, Reach(me), dispute_id)

    @post("/complaints/{dispute_id:uuid}/reopen")
    async def reopen(
        self,
        request: Request[Any, Any, Any],
        dispute_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Reopen the decision."""
        return await reopen_decision(request, db, Reach(me), dispute_id, data)


class AnonymousCardPages(Controller):
    """An anonymous card's pages, reached only through its secret link."""

    path = "/card/{secret:str}"
    include_in_schema = False
    guards = [public]  # noqa: RUF012
    opt = {**CONSUMER_PAGE}  # noqa: RUF012

    @get("/")
    async def card(
        self, request: Request[Any, Any, Any], secret: FromPath[str], db: Db, done: Done = None
    ) -> Template:
        """The card behind the link."""
        return await card_page(request, db, Reach(None, secret=secret), flash=_flash(request, done))

    @post("/code")
    async def code(
        self, request: Request[Any, Any, Any], secret: FromPath[str], data: Form, db: Db
    ) -> Template:
        """Show a redemption code."""
        return await redemption_code(request, db, Reach(None, secret=secret), data)

    @post("/refund")
    async def refund(
        self, request: Request[Any, Any, Any], secret: FromPath[str], data: Form, db: Db
    ) -> Template:
        """Ask for a refund."""
        return await ask_refund(request, db, Reach(None, secret=secret), data)

    @get("/complaint")
    async def complaint_form(
        self, request: Request[Any, Any, Any], secret: FromPath[str], db: Db
    ) -> Template:
        """The complaint form."""
        return await show_complaint_form(request, db, Reach(None, secret=secret))

    @post("/complaint")
    async def file(
        self, request: Request[Any, Any, Any], secret: FromPath[str], data: Form, db: Db
    ) -> Template | Redirect:
        """File the complaint."""
        return await file_complaint_page(request, db, Reach(None, secret=secret), data)

    @get("/complaints/{dispute_id:uuid}")
    async def complaint(
        self,
        request: Request[Any, Any, Any],
        secret: FromPath[str],
        dispute_id: FromPath[uuid.UUID],
        db: Db,
        done: Done = None,
    ) -> Template:
        """One complaint about the card and its timeline."""
        return await complaint_page(request, db, Reach(None, secret=secret), dispute_id, done=done)

    @post("/complaints/{dispute_id:uuid}/confirm")
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        secret: FromPath[str],
        dispute_id: FromPath[uuid.UUID],
        db: Db,
    ) -> Template | Redirect:
        """Accept the decision."""
        return await confirm_decision(request, db, Reach(None, secret=secret), dispute_id)

    @post("/complaints/{dispute_id:uuid}/reopen")
    async def reopen(
        self,
        request: Request[Any, Any, Any],
        secret: FromPath[str],
        dispute_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
    ) -> Template | Redirect:
        """Reopen the decision."""
        return await reopen_decision(request, db, Reach(None, secret=secret), dispute_id, data)


CONSUMER_PAGES = (BuyPages, MyPages, AnonymousCardPages)
SANDBOX_PAGES = (sandbox_pay_page,)
"""Mounted only with the sandbox payment provider (``PGUARD_PAYMENTS=sandbox``)."""
"""Listed in ``app.pages.routes``; the merchant page itself is served by ``/q/…``."""

__all__ = [
    "CONSUMER_PAGES",
    "SANDBOX_PAGES",
    "fen_of",
    "merchant_page",
    "reason_words",
    "wants_html",
]
