"""The merchant console: pages for a merchant's own staff under ``/console``.

Overview with the grade and what would improve it, products, the counter QR, redeeming a
consumer's code, refund requests and complaints.

Every page reads and writes through the same services as the API (``app.merchants``,
``app.cards``, ``app.supervision.disputes``, ``app.risk``, ``escrow``); this module only
parses forms, calls them, and shows their answers (errors beside the field they concern).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

import escrow
import qr
from app.api.cards import redeem_counting_digits
from app.auth.models import Role
from app.auth.principal import requires
from app.cards import service as cards
from app.cards.models import RefundStatus
from app.clock import utcnow
from app.deps import Db, Me
from app.exceptions import AppError, Conflict, Invalid
from app.i18n import gettext, has, money, when
from app.ledger import escrow_ledger
from app.merchants import blocks
from app.merchants import service as merchants
from app.merchants.rules import ProductDraft
from app.pages.render import (
    Done,
    Form,
    back_to,
    lang_of,
    page,
    said_done,
    same_origin,
)
from app.payables import service as payables
from app.payments.sandbox import SandboxProvider
from app.qrcodes.service import keyring
from app.risk import service as ratings
from app.risk.supervision import UNRATED, colour
from app.risk.words import BOOLEAN_FEATURES, LABELS
from app.settings import get_settings
from app.supervision import disputes, measures
from app.supervision.models import DisputeStatus, MeasureKind
from scoring import MONOTONE

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from app.cards.models import RefundRequest

MAX_NAME = 200
MAX_TERMS = 5000
MAX_TEXT = disputes.MAX_TEXT
MAX_VALIDITY_DAYS = 100 * 365
MAX_CODE = 400
KEY_LENGTHS = range(8, 201)
"""An Idempotency-Key as the API takes it: 8 to 200 characters."""

_YUAN = re.compile(r"^(\d{1,10})(?:\.(\d{1,2}))?$")
_COUNT = re.compile(r"^\d{1,12}$")
_DIGITS = re.compile(r"^\d{6}$")
_SPACE = re.compile(r"\s+")

# -- words ------------------------------------------------------------------------------

_FEATURE_ZH = {
    "registration_status": "登记状态",
    "registration_age_years": "经营年限（年）",
    "registration_capital_change": "注册资本变动（%）",
    "registration_abnormal_operations": "列入经营异常名录",
    "registration_licence_revoked": "营业执照被吊销",
    "registration_deregistration_filed": "已申请注销",
    "tax_arrears_fen": "欠税金额",
    "tax_filing_gap_months": "未申报纳税的月数",
    "court_enforcement_cases": "被执行案件数",
    "court_dishonest_debtor": "列入失信被执行人名单",
    "credit_public_rating": "公共信用评级",
    "credit_penalties": "近 3 年行政处罚次数",
    "social_security_headcount": "参保职工人数",
    "social_security_contribution_gap_months": "社保断缴月数",
    "bank_inflow_trend_pct": "近 3 个月银行流入变化（%）",
    "bank_frozen": "银行账户被冻结",
    "complaints_count_30d": "近 30 天投诉数",
    "complaints_count_7d": "近 7 天投诉数",
    "sales_surge_pct": "预付卡销售较平常的变化（%）",
    "sales_max_discount_pct": "最大售卡折扣（%）",
    "sales_outstanding_to_revenue": "未消费余额与销售额之比",
}
"""Each indicator feature in Chinese; the English words are ``app.risk.words.LABELS``."""

_ACTIONS = {
    "registration_status": ("恢复正常登记状态", "return the registration to active"),
    "registration_age_years": ("随经营时间自然改善", "improves with time in business"),
    "registration_capital_change": ("避免减少注册资本", "avoid reducing the registered capital"),
    "registration_abnormal_operations": (
        "整改并申请移出经营异常名录",
        "fix the cause and apply to be removed from the list",
    ),
    "registration_licence_revoked": ("依法恢复营业执照", "regain a valid business licence"),
    "registration_deregistration_filed": (
        "如继续经营，撤回注销申请",
        "withdraw the deregistration if you keep trading",
    ),
    "tax_arrears_fen": ("缴清欠税", "pay it down"),
    "tax_filing_gap_months": ("补报纳税申报", "file the missing tax returns"),
    "court_enforcement_cases": ("履行判决或达成和解", "settle the judgments"),
    "court_dishonest_debtor": (
        "履行义务并申请移出失信名单",
        "meet the obligation and apply to be removed",
    ),
    "credit_public_rating": ("提升公共信用评级", "improve the public credit rating"),
    "credit_penalties": ("整改并申请信用修复", "correct the causes and apply for credit repair"),
    "social_security_headcount": ("为员工依法缴纳社保", "enrol your staff in social insurance"),
    "social_security_contribution_gap_months": (
        "补缴社保并按月缴纳",
        "pay the missing contributions and keep paying monthly",
    ),
    "bank_inflow_trend_pct": ("稳定经营收入", "steady your business income"),
    "bank_frozen": ("解除账户冻结", "get the account unfrozen"),
    "complaints_count_30d": ("及时答复并解决投诉", "answer and resolve complaints promptly"),
    "complaints_count_7d": ("及时答复并解决投诉", "answer and resolve complaints promptly"),
    "sales_surge_pct": ("平稳售卡，避免突击售卡", "sell cards at a steady pace, no sales drives"),
    "sales_max_discount_pct": ("减少大幅折扣", "offer shallower discounts"),
    "sales_outstanding_to_revenue": (
        "先兑现已售的卡，再扩大售卡",
        "serve the cards already sold before selling more",
    ),
}
"""What a merchant can do about each feature, when it pushes the risk up."""


# -- the services' words ------------------------------------------------------------------

_SERVICE_WORDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), key)
    for pattern, key in (
        (r"this product may not be sold", "m_svc_product_refused"),
        (r"the price may not be above the card's face value", "m_svc_price_above_face"),
        (
            r"an anonymous card may not be sold for more than (?P<limit>[\d,.]+) yuan",
            "m_svc_anon_limit",
        ),
        (
            r"a registered card may not be sold for more than (?P<limit>[\d,.]+) yuan",
            "m_svc_reg_limit",
        ),
        (r"the face value may not be above (?P<limit>[\d,.]+) yuan", "m_svc_face_limit"),
        (
            r"an anonymous card must be valid for at least (?P<days>\d+) days.*",
            "m_svc_anon_validity",
        ),
        (r"a registered card does not expire; leave validity empty", "m_svc_reg_validity"),
        (r"the terms say ['\"](?P<clause>.+?)['\"]: .*", "m_svc_clause"),
        (r"a (?P<status>\w+) merchant cannot define products", "m_svc_no_products"),
        (r"no such live code at this merchant.*", "m_svc_no_code"),
        (r"this code has already been used.*", "m_svc_code_used"),
        (r"this code has expired.*", "m_svc_code_expired"),
        (r"this code was issued for another merchant", "m_svc_code_elsewhere"),
        (
            r"the customer agreed to (?P<most>\d+) units with this code, not (?P<asked>\d+)",
            "m_svc_above_consent",
        ),
        (
            r"the card has (?P<left>\d+) units left; (?P<asked>\d+) cannot be redeemed",
            "m_svc_card_short",
        ),
        (r"too many attempts; try again in (?P<seconds>\d+) seconds", "m_svc_too_many"),
        (r"this merchant may not redeem cards now", "m_svc_no_redeem"),
        (r"this complaint was already answered", "m_svc_answered"),
        (r"this dispute is (?P<status>\w+); it no longer takes an answer", "m_svc_dispute_moved"),
        (
            r"(?:an offer is at most the )?(?:0 to )?(?P<fen>\d+) fen(?: paid for the card)?",
            "m_svc_offer_max",
        ),
        (r"this request was already (?P<status>\w+)", "m_svc_request_done"),
        (r"required", "m_err_required"),
        (r"at most (?P<n>\d+) characters", "m_err_too_long"),
    )
)
"""What the services say (in English), in the page's words; anything else is shown as said."""


def _say(lang: str, message: str) -> str:
    """A service's message in the visitor's language (the services speak English)."""
    if lang == "en":
        return message
    for pattern, key in _SERVICE_WORDS:
        found = pattern.fullmatch(message)
        if found:
            values = {name: _said_value(lang, name, v) for name, v in found.groupdict().items()}
            return gettext(lang, key, **values)
    return message


def _said_value(lang: str, name: str, value: str) -> str:
    if name == "fen":
        return money(int(value))
    if name == "status":
        for prefix in ("m_status_", "m_refund_status_", "m_dispute_status_"):
            if has(f"{prefix}{value}"):
                return gettext(lang, f"{prefix}{value}")
    return value


def _said(lang: str, errors: Mapping[str, str]) -> dict[str, str]:
    return {name: _say(lang, message) for name, message in errors.items()}


# -- reasons in plain words --------------------------------------------------------------


def _label(feature: str, lang: str) -> str:
    key = f"m_f_{feature}"
    if has(key):
        return gettext(lang, key)
    return LABELS.get(feature, feature.replace("_", " "))


def _shown(feature: str, value: object, lang: str) -> str:
    """A feature's value as a merchant reads it: yuan for money, yes/no for facts."""
    if value is None:
        return gettext(lang, "m_no_data")
    if feature in BOOLEAN_FEATURES:
        return gettext(lang, "m_yes" if value in (True, 1, 1.0) else "m_no")
    if isinstance(value, str):
        key = f"m_cat_{value}"
        return gettext(lang, key) if has(key) else value
    if not isinstance(value, (int, float)):
        return str(value)
    number = float(value)
    if feature == "tax_arrears_fen":
        return money(round(number))
    return f"{number:,.0f}" if number.is_integer() else f"{number:,.2f}"


def _action(feature: str, value: object, reference: object) -> str:
    """Which way to move a feature that raised the risk (a message key)."""
    if value is None:
        return "m_do_report"
    direction = MONOTONE.get(feature, 0)
    numbers = (int, float)
    if (
        direction
        and isinstance(value, numbers)
        and isinstance(reference, numbers)
        and (float(value) - float(reference)) * direction <= 0
    ):
        return "m_do_keep"
    specific = f"m_do_{feature}"
    if has(specific):
        return specific
    return {1: "m_do_lower", -1: "m_do_raise"}.get(direction, "m_do_typical")


@dataclass(frozen=True)
class Explained:
    """One reason of a rating, said in the visitor's language, and what would improve it."""

    feature: str
    said: str
    advice: str
    source: str | None


def explain(reason: Mapping[str, Any], lang: str) -> Explained:
    """A stored reason (``scoring.rating.Reason.to_dict``) as two sentences and its source.

    The advice follows the feature's declared direction (``scoring.MONOTONE``: +1 means more
    is riskier, so bring it down) against the reference value, a typical merchant's.
    """
    feature = str(reason["feature"])
    value, reference = reason.get("value"), reason.get("reference")
    label = _label(feature, lang)
    shown, typical = _shown(feature, value, lang), _shown(feature, reference, lang)
    points = f"{float(reason.get('contribution', 0.0)) * 100:.1f}"
    record = reason.get("record")
    return Explained(
        feature=feature,
        said=gettext(lang, "m_reason", label=label, value=shown, typical=typical, points=points),
        advice=gettext(
            lang,
            "m_improve",
            label=label,
            value=shown,
            typical=typical,
            action=gettext(lang, _action(feature, value, reference)),
        ),
        source=gettext(
            lang,
            "m_reason_source",
            provenance=record.get("provenance", ""),
            as_of=record.get("as_of", ""),
        )
        if isinstance(record, dict)
        else None,
    )


# -- forms ------------------------------------------------------------------------------


def parse_yuan(text: str) -> int | None:
    """``800``, ``800.5``, ``¥1,000.00`` → fen; anything else → None."""
    cleaned = _SPACE.sub("", text).replace(",", "").replace("，", "").lstrip("¥￥")
    found = _YUAN.match(cleaned)
    if found is None:
        return None
    return int(found.group(1)) * 100 + int((found.group(2) or "0").ljust(2, "0"))


def _count(text: str) -> int | None:
    cleaned = text.strip()
    return int(cleaned) if _COUNT.match(cleaned) else None


def _product_draft(data: Mapping[str, str], lang: str) -> tuple[ProductDraft, dict[str, str]]:
    """The draft the form describes, and what is wrong with its fields before the rules."""
    errors: dict[str, str] = {}
    name = data.get("name", "").strip()
    if not name:
        errors["name"] = gettext(lang, "m_err_required")
    elif len(name) > MAX_NAME:
        errors["name"] = gettext(lang, "m_err_too_long", n=MAX_NAME)
    kind = data.get("kind", "")
    if kind not in {"stored_value", "sessions"}:
        errors["kind"] = gettext(lang, "m_err_kind")
    price = parse_yuan(data.get("price", ""))
    if not price:
        errors["price"] = gettext(lang, "m_err_yuan")
    units_text = data.get("units", "")
    units = parse_yuan(units_text) if kind == "stored_value" else _count(units_text)
    if not units:
        errors["units"] = gettext(lang, "m_err_yuan" if kind == "stored_value" else "m_err_count")
    validity_text = data.get("validity_days", "").strip()
    validity = _count(validity_text) if validity_text else None
    if validity_text and not (validity and validity <= MAX_VALIDITY_DAYS):
        errors["validity_days"] = gettext(lang, "m_err_days")
    terms = data.get("terms", "")
    if len(terms) > MAX_TERMS:
        errors["terms"] = gettext(lang, "m_err_too_long", n=MAX_TERMS)
    draft = ProductDraft(
        name=name,
        kind=kind,
        price=price or 0,
        units=units or 0,
        validity_days=validity,
        anonymous=data.get("anonymous") in {"on", "1", "true"},
        terms=terms,
    )
    return draft, errors


def _refund_answer(data: Mapping[str, str], lang: str) -> tuple[str, dict[str, str]]:
    answer = data.get("answer", "").strip()
    if len(answer) > MAX_TEXT:
        return answer, {"answer": gettext(lang, "m_err_too_long", n=MAX_TEXT)}
    return answer, {}


def _errors_of(exc: Exception, default_field: str, lang: str) -> dict[str, str]:
    """A service's refusal as field errors; one without fields goes beside ``default_field``."""
    if isinstance(exc, qr.QrError):  # its words are for consumers at a counter code
        key = (
            "m_err_code_malformed"
            if isinstance(exc, qr.MalformedCode)
            else "m_err_code_expired"
            if isinstance(exc, qr.ExpiredCode)
            else "m_err_code_refused"
        )
        return {default_field: gettext(lang, key)}
    fields = exc.fields if isinstance(exc, AppError) else {}
    return _said(lang, fields) if fields else {default_field: _say(lang, str(exc))}


def _new_key() -> str:
    return uuid.uuid4().hex


# -- what the pages show ---------------------------------------------------------------


@dataclass(frozen=True)
class PendingRefund:
    """A refund request and what accepting it would pay back now."""

    request: RefundRequest
    refundable: int


async def _pending_refunds(db: Db, requests: Sequence[RefundRequest]) -> list[PendingRefund]:
    """The requests still waiting, each with the card's refundable amount from the ledger."""
    ledger = escrow_ledger(db)
    return [
        PendingRefund(r, (await ledger.card(r.merchant_id, r.card_id)).outstanding)
        for r in requests
        if r.status == RefundStatus.PENDING
    ]


class MerchantConsoleController(Controller):
    """The merchant's own pages under ``/console``."""

    path = "/console"
    include_in_schema = False
    guards = [requires(Role.MERCHANT)]  # noqa: RUF012
    opt = {"page": True}  # noqa: RUF012 - errors render as pages (app.errors)

    # -- overview -----------------------------------------------------------------------

    @get("/")
    async def overview(self, request: Request[Any, Any, Any], db: Db, me: Me) -> Template:
        """Status, grade with reasons and advice, sales and settlement, what waits."""
        lang = lang_of(request)
        merchant = await merchants.own_merchant(db, me)
        industry = next(
            (i for i in await merchants.industries(db) if i.code == merchant.industry), None
        )
        rating = await ratings.current(db, merchant.id)
        history = list(await ratings.history(db, merchant.id)) if rating else []
        figures = await escrow.settlement(db, merchant.id)
        to_answer = await disputes.merchant_disputes(db, me, DisputeStatus.FILED.value)
        refunds = await cards.merchant_refund_requests(db, me, RefundStatus.PENDING.value)
        reasons = [explain(r, lang) for r in rating.reasons] if rating else []
        return page(
            request,
            "merchant/overview.html",
            merchant=merchant,
            blocks=await blocks.of(db, merchant.id),
            industry=(industry.name_en if lang == "en" else industry.name_zh) if industry else "",
            grade=rating.grade if rating else UNRATED,
            colour=colour(rating.grade if rating else UNRATED),
            rating=rating,
            rated_at=when(rating.rated_at) if rating else "",
            reasons=reasons,
            history=[
                {
                    "at": when(c.changed_at),
                    "from_grade": c.from_grade or "—",
                    "to_grade": c.to_grade,
                    "cause": c.cause,
                }
                for c in reversed(history[-5:])
            ],
            figures=figures,
            custody_pct=merchant.custody_ratio_bp / 100,
            insured_pct=(10_000 - merchant.custody_ratio_bp) / 100,
            complaints_waiting=len(to_answer),
            refunds_waiting=len(refunds),
            ratio_changes=[
                gettext(
                    lang,
                    "m_ratio_followed",
                    at=when(m.taken_at),
                    grade=m.params["grade"],
                    before=f"{m.params['from'] / 100:g}",
                    after=f"{m.params['to'] / 100:g}",
                )
                for m in reversed(await measures.measures_of(db, merchant.id))
                if m.kind == MeasureKind.GRADE_ACTION
            ][:5],
        )

    # -- products -----------------------------------------------------------------------

    async def _products(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        me: Me,
        *,
        form: Mapping[str, str] | None = None,
        errors: Mapping[str, str] | None = None,
        error: str | None = None,
        done: str | None = None,
    ) -> Template:
        merchant = await merchants.own_merchant(db, me)
        shown = {"name", "kind", "price", "units", "validity_days", "anonymous", "terms"}
        rules = get_settings().cards
        return page(
            request,
            "merchant/products.html",
            merchant=merchant,
            limits={
                "limit": money(rules.anonymous_limit),
                "registered": money(rules.registered_limit),
                "days": rules.anonymous_min_validity_days,
            },
            products=await merchants.products_of(db, merchant.id, active_only=False),
            form=form or {"kind": "stored_value"},
            errors=errors or {},
            other_errors=[v for k, v in (errors or {}).items() if k not in shown],
            error=error,
            notice=said_done(lang_of(request), "m_done_", done),
        )

    @get("/products")
    async def products(
        self, request: Request[Any, Any, Any], db: Db, me: Me, done: Done = None
    ) -> Template:
        """The merchant's products and a form for a new one."""
        return await self._products(request, db, me, done=done)

    @post("/products")
    async def create_product(
        self, request: Request[Any, Any, Any], data: Form, db: Db, me: Me
    ) -> Template | Redirect:
        """Create a product; every rule it breaks is shown beside its field."""
        same_origin(request)
        lang = lang_of(request)
        draft, errors = _product_draft(data, lang)
        if errors:
            return await self._products(
                request, db, me, form=data, errors=errors, error=gettext(lang, "m_form_errors")
            )
        try:
            async with db.begin():
                await merchants.create_product(db, me, draft)
        except (Invalid, Conflict) as exc:
            return await self._products(
                request,
                db,
                me,
                form=data,
                errors=_said(lang, exc.fields),
                error=_say(lang, str(exc)),
            )
        return back_to("/console/products?done=created")

    @post("/products/{product_id:uuid}/retire")
    async def retire_product(
        self, request: Request[Any, Any, Any], product_id: FromPath[uuid.UUID], db: Db, me: Me
    ) -> Redirect:
        """Stop selling a product (another merchant's is 'not found')."""
        same_origin(request)
        async with db.begin():
            await merchants.retire_product(db, me, product_id)
        return back_to("/console/products?done=retired")

    # -- counter QR ---------------------------------------------------------------------

    @get("/qr")
    async def counter_qr(self, request: Request[Any, Any, Any], db: Db, me: Me) -> Template:
        """The counter code and its downloads (served by the API, with this sign-in)."""
        async with db.begin():
            merchant = await merchants.own_merchant(db, me)
            ring = await keyring(db, signing=True)
        return page(
            request,
            "merchant/qr.html",
            merchant=merchant,
            url=qr.counter_url(get_settings().cards.public_base_url, merchant.id, ring),
            not_selling=await cards.selling_problem(db, merchant),
        )

    # -- redeeming ----------------------------------------------------------------------

    @get("/redeem")
    async def redeem_form(self, request: Request[Any, Any, Any]) -> Template:
        """Type or paste the customer's code."""
        return page(
            request, "merchant/redeem.html", form={"measure": "yuan"}, key=_new_key(), errors={}
        )

    @post("/redeem")
    async def redeem(self, request: Request[Any, Any, Any], data: Form, db: Db, me: Me) -> Template:
        """Redeem through the same use case as the API; the receipt or the error beside it."""
        same_origin(request)
        lang = lang_of(request)
        code = _SPACE.sub("", data.get("code", ""))
        measure = "sessions" if data.get("measure") == "sessions" else "yuan"
        units = (parse_yuan if measure == "yuan" else _count)(data.get("units", ""))
        key = data.get("key", "")
        errors: dict[str, str] = {}
        if not code:
            errors["code"] = gettext(lang, "m_err_required")
        elif len(code) > MAX_CODE:
            errors["code"] = gettext(lang, "m_err_too_long", n=MAX_CODE)
        if not units:
            errors["units"] = gettext(lang, "m_err_yuan" if measure == "yuan" else "m_err_count")
        if len(key) not in KEY_LENGTHS:
            key = _new_key()
            errors.setdefault("code", gettext(lang, "m_err_form_stale"))
        form = {"code": code, "measure": measure, "units": data.get("units", "")}
        receipt = None
        if not errors and units:
            digits = code if _DIGITS.match(code) else None
            try:
                receipt = await redeem_counting_digits(
                    db,
                    me,
                    token=None if digits else code,
                    digits=digits,
                    units=units,
                    idempotency_key=key,
                )
            except escrow.InsufficientBalance as exc:
                errors = _errors_of(exc, "units", lang)
            except (AppError, escrow.EscrowError, qr.QrError) as exc:
                errors = _errors_of(exc, "code", lang)
        if receipt is not None:
            return page(
                request,
                "merchant/redeem.html",
                form={"measure": measure},
                key=_new_key(),
                errors={},
                receipt=receipt,
                measure=measure,
            )
        return page(request, "merchant/redeem.html", form=form, key=key, errors=errors)

    # -- refund requests ----------------------------------------------------------------

    async def _refunds(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        me: Me,
        *,
        failed: uuid.UUID | None = None,
        errors: Mapping[str, str] | None = None,
        answer: str = "",
        done: str | None = None,
    ) -> Template:
        found = await cards.merchant_refund_requests(db, me, None)
        return page(
            request,
            "merchant/refunds.html",
            pending=await _pending_refunds(db, found),
            answered=[r for r in found if r.status != RefundStatus.PENDING],
            failed=failed,
            errors=errors or {},
            answer=answer,
            notice=said_done(lang_of(request), "m_done_", done),
        )

    @get("/payables")
    async def payables(
        self, request: Request[Any, Any, Any], db: Db, me: Me, done: Done = None
    ) -> Template:
        """What the merchant owes consumers after refunds, by age, and the pay button."""
        merchant_id = payables.merchant_of(me)
        found = await payables.payables_of(db, [merchant_id])
        lang = lang_of(request)
        return page(
            request,
            "merchant/payables.html",
            flash=gettext(lang, "m_payables_done_paid") if done == "paid" else "",
            error="",
            owed=sum(p.owed for p in found),
            claimed=sum(p.claimed for p in found),
            by_age=payables.by_age(found, utcnow()),
            payables=list(reversed(found)),
            days=get_settings().cards.payable_business_days,
            key=_new_key(),
        )

    @post("/payables/pay")
    async def pay_payables(
        self, request: Request[Any, Any, Any], data: Form, db: Db, me: Me
    ) -> Redirect:
        """Pay everything owed now at the provider's pay page (the sandbox's here)."""
        same_origin(request)
        key = data.get("key", "")
        if not 8 <= len(key) <= 200:  # noqa: PLR2004 - the API's Idempotency-Key bounds
            key = _new_key()
        async with db.begin():
            started = await payables.start_payment(db, me, SandboxProvider(), key)
        return back_to(started.pay_url)

    @get("/refunds")
    async def refunds(
        self, request: Request[Any, Any, Any], db: Db, me: Me, done: Done = None
    ) -> Template:
        """Refund requests outside cooling-off, to accept or refuse."""
        return await self._refunds(request, db, me, done=done)

    @post("/refunds/{request_id:uuid}/accept")
    async def accept_refund(
        self,
        request: Request[Any, Any, Any],
        request_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Accept: the ledger refunds the card's outstanding amount."""
        return await self._answer_refund(request, request_id, data, db, me, accept=True)

    @post("/refunds/{request_id:uuid}/refuse")
    async def refuse_refund(
        self,
        request: Request[Any, Any, Any],
        request_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Refuse, saying why."""
        return await self._answer_refund(request, request_id, data, db, me, accept=False)

    async def _answer_refund(
        self,
        request: Request[Any, Any, Any],
        request_id: uuid.UUID,
        data: Mapping[str, str],
        db: Db,
        me: Me,
        *,
        accept: bool,
    ) -> Template | Redirect:
        same_origin(request)
        lang = lang_of(request)
        answer, errors = _refund_answer(data, lang)
        if not accept and not answer:
            errors = {"answer": gettext(lang, "m_refuse_needs_reason")}
        if not errors:
            try:
                async with db.begin():
                    await cards.answer_refund(db, me, request_id, accept=accept, answer=answer)
            except (Invalid, Conflict, escrow.EscrowError) as exc:
                errors = _errors_of(exc, "answer", lang)
        if errors:
            return await self._refunds(
                request, db, me, failed=request_id, errors=errors, answer=answer
            )
        return back_to(f"/console/refunds?done={'accepted' if accept else 'refused'}")

    # -- complaints ---------------------------------------------------------------------

    async def _complaints(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        me: Me,
        *,
        failed: uuid.UUID | None = None,
        errors: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        done: str | None = None,
    ) -> Template:
        now = utcnow()
        views = await disputes.merchant_disputes(db, me)
        return page(
            request,
            "merchant/complaints.html",
            views=views,
            overdue={
                v.dispute.id
                for v in views
                if v.dispute.status == DisputeStatus.FILED
                and v.dispute.deadline_at is not None
                and v.dispute.deadline_at < now
            },
            failed=failed,
            errors=errors or {},
            form=form or {},
            notice=said_done(lang_of(request), "m_done_", done),
        )

    @get("/complaints")
    async def complaints(
        self, request: Request[Any, Any, Any], db: Db, me: Me, done: Done = None
    ) -> Template:
        """Complaints about the merchant, those waiting for its answer first."""
        return await self._complaints(request, db, me, done=done)

    @post("/complaints/{dispute_id:uuid}/answer")
    async def answer_complaint(
        self,
        request: Request[Any, Any, Any],
        dispute_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Answer (once): the dispute goes to the regulator for mediation."""
        same_origin(request)
        lang = lang_of(request)
        text = data.get("text", "")
        offer_text = data.get("offer", "").strip()
        offer = parse_yuan(offer_text) if offer_text else None
        errors: dict[str, str] = {}
        if offer_text and offer is None:
            errors["offer"] = gettext(lang, "m_err_yuan")
        if not text.strip():
            errors["text"] = gettext(lang, "m_err_required")
        if not errors:
            try:
                async with db.begin():
                    await disputes.answer(db, me, dispute_id, text, offer)
            except (Invalid, Conflict) as exc:
                said = _errors_of(exc, "text", lang)
                errors = {"offer" if k == "offer_fen" else k: v for k, v in said.items()}
        if errors:
            return await self._complaints(
                request, db, me, failed=dispute_id, errors=errors, form=data
            )
        return back_to("/console/complaints?done=answered")


__all__ = ["MerchantConsoleController", "explain", "parse_yuan"]
