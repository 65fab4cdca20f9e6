"""The regulator's pages: merchants by grade, a merchant's file and measures, the two queues.

Regulators see their own district only (a city-level regulator and operators see every one):
every look-up goes through the supervision services, which answer "not found" for a merchant,
warning or dispute out of reach, and that becomes the 404 page. Each form posts to its own
route, which checks the origin, runs one use case in one transaction and redirects; a refused
form is shown again with the service's message beside the field it is about.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from markupsafe import Markup
from sqlalchemy import func, select

import escrow
from app.auth.models import Role, User
from app.auth.principal import requires
from app.clock import today, utcnow
from app.deps import Db, Me
from app.exceptions import Invalid, NotFound
from app.i18n import gettext, money
from app.insurance.service import insured_exposure
from app.merchants import blocks
from app.merchants.models import Merchant, MerchantStatus
from app.merchants.service import industries, legal_names
from app.pages.charts import Point, probability_chart
from app.pages.render import (
    Form,
    field_errors,
    lang_of,
    page,
    run_form,
    said_done,
    same_origin,
)
from app.payables import service as payables
from app.risk import service as ratings
from app.risk import supervision
from app.risk.words import BOOLEAN_FEATURES, reason_text
from app.supervision import disputes, grade_actions, measures, warnings
from app.supervision.models import Dispute, DisputeOwner, DisputeStatus, MeasureKind
from scoring import CATALOGUE, GRADES, Override

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal
    from app.risk.models import Rating
    from app.supervision.models import Measure
    from app.supervision.models import Warning as WarningRow

SUPERVISORS = requires(Role.REGULATOR, Role.OPERATOR)
MAX_ROWS = 500
"""Merchants listed (and totalled) at most: the riskiest first; narrower filters show the rest."""
COMPLAINT_DAYS = 30
QUEUE_ROWS = 100
WARNING_ACTIONS = ("acknowledge", "assign", "note", "close")
MEASURE_KINDS = tuple(k.value for k in MeasureKind)
YUAN = re.compile(r"^\d{1,11}(\.\d{1,2})?$")
PERCENT = re.compile(r"^\d{1,3}(\.\d{1,2})?$")
FEATURE_OF = {(k.source.value, k.name): k.feature for k in CATALOGUE}
"""An indicator record's (source, kind) and the feature the model reads it as."""


# -- showing things -------------------------------------------------------------------------


def percent(probability: float | None) -> str:
    """A probability as a percentage with one decimal."""
    return "—" if probability is None else f"{probability * 100:.1f}%"


def ratio(bp: int) -> str:
    """Basis points as a percentage: 3000 -> 30%."""
    whole, part = divmod(bp, 100)
    return f"{whole}%" if part == 0 else f"{whole}.{part:02d}%"


def shown(lang: str, feature: str | None, value: object) -> str:
    """A feature's or record's value in words: yes/no, yuan for money, numbers grouped."""
    if value is None:
        return gettext(lang, "r_no_data")
    if isinstance(value, bool) or (feature in BOOLEAN_FEATURES and value in (0, 1)):
        return gettext(lang, "r_yes" if value else "r_no")
    if feature == "tax_arrears_fen" and isinstance(value, (int, float)):
        return money(round(value))
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def feature_label(lang: str, feature: str) -> str:
    """A feature's name in the page's language."""
    key = f"r_feat_{feature}"
    label = gettext(lang, key)
    return label if label != key else feature.replace("_", " ")


def measure_summary(lang: str, measure: Measure) -> str:
    """What a measure did, in a line."""
    params = measure.params
    if measure.kind in (
        MeasureKind.RAISE_CUSTODY_RATIO,
        MeasureKind.LIFT_CUSTODY_RATIO,
        MeasureKind.GRADE_ACTION,
    ):
        return f"{ratio(int(params['from']))} → {ratio(int(params['to']))}"
    if measure.kind == MeasureKind.DECLARE_DEFAULT:
        return gettext(
            lang,
            "r_default_summary",
            cards=params.get("cards", 0),
            custody=money(params.get("custody_paid_fen")),
            claim=money(params.get("claim_fen")),
        )
    if measure.kind == MeasureKind.LIFT_SUSPENSION:
        lifted = [gettext(lang, "r_lifted_suspension")] if "suspension" in params else []
        lifted += [gettext(lang, f"block_{kind}") for kind in params.get("sales_blocks", [])]
        return ", ".join(lifted)
    return ""


def yuan_to_fen(text: str, field: str, lang: str) -> int | None:
    """``120.5`` -> 12050; blank -> ``None``; anything else is refused beside ``field``."""
    text = text.strip().replace(",", "")
    if not text:
        return None
    if not YUAN.match(text):
        raise Invalid(gettext(lang, "r_err_amount"), fields={field: "amount"})
    whole, _, part = text.partition(".")
    return int(whole) * 100 + int(part.ljust(2, "0"))


def percent_to_bp(text: str, lang: str) -> int:
    """``60`` or ``45.5`` (per cent) -> basis points; refused beside the ratio field."""
    text = text.strip()
    if not PERCENT.match(text):
        raise Invalid(gettext(lang, "r_err_ratio"), fields={"custody_ratio_pct": "percent"})
    whole, _, part = text.partition(".")
    return int(whole) * 100 + int(part.ljust(2, "0"))


# -- what the pages read besides the services -----------------------------------------------


async def complaints_since(
    session: AsyncSession, merchant_ids: Sequence[uuid.UUID], since: datetime
) -> dict[uuid.UUID, int]:
    """Complaints (disputes filed, as the complaint rules count them) per merchant since then."""
    if not merchant_ids:
        return {}
    rows = await session.execute(
        select(Dispute.merchant_id, func.count())
        .where(Dispute.merchant_id.in_(merchant_ids), Dispute.filed_at >= since)
        .group_by(Dispute.merchant_id)
    )
    return {m: int(n) for m, n in rows.all()}


async def usernames(
    session: AsyncSession, user_ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, str]:
    """Staff user names, to say who did what."""
    ids = {u for u in user_ids if u is not None}
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.username).where(User.id.in_(ids)))
    return {row[0]: row[1] for row in rows.all()}


async def regulators_of(session: AsyncSession, district: str) -> list[tuple[uuid.UUID, str]]:
    """Regulators a warning of ``district`` can be given to (its own and city-level ones)."""
    rows = await session.execute(
        select(User.id, User.username)
        .where(
            User.role == Role.REGULATOR.value,
            User.disabled.is_(False),
            (User.district == district) | User.district.is_(None),
        )
        .order_by(User.username)
    )
    return [(key, name) for key, name in rows.all()]


async def districts(session: AsyncSession, me: Principal) -> list[str]:
    """The districts the caller may filter by."""
    if me.role is Role.REGULATOR and me.district is not None:
        return [me.district]
    found = await session.scalars(select(Merchant.district).distinct().order_by(Merchant.district))
    return list(found.all())


# -- the merchant's file ----------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """A measure the regulator may take now, and how its form asks."""

    kind: str
    danger: bool = False


def actions_for(merchant: Merchant, *, blocked: bool) -> list[Action]:
    """The measures that apply to the merchant as it stands (the services still decide)."""
    status = MerchantStatus(merchant.status)
    selling = status in (MerchantStatus.ACTIVE, MerchantStatus.SUSPENDED)
    found: list[Action] = []
    if selling:
        found.append(Action(MeasureKind.RAISE_CUSTODY_RATIO.value))
        if merchant.ratio_floor_bp is not None:
            found.append(Action(MeasureKind.LIFT_CUSTODY_RATIO.value))
    if status is MerchantStatus.ACTIVE:
        found.append(Action(MeasureKind.SUSPEND_SALES.value, danger=True))
    if status is MerchantStatus.SUSPENDED or (blocked and selling):
        found.append(Action(MeasureKind.LIFT_SUSPENSION.value))
    if selling:
        found.append(Action(MeasureKind.DECLARE_DEFAULT.value, danger=True))
    return found


def _chart(lang: str, rating: Rating | None, changes: Sequence[Any]) -> Markup:
    points = [Point(c.changed_at, c.probability, c.to_grade, note=c.cause) for c in changes]
    if rating is not None:
        points.append(
            Point(
                rating.rated_at, rating.probability, rating.grade, note=rating.cause, current=True
            )
        )
    svg = probability_chart(
        points,
        label=gettext(lang, "r_chart_label"),
        empty=gettext(lang, "r_chart_empty"),
    )
    return Markup(svg)  # noqa: S704 - every text in it is escaped by probability_chart


def _reasons(lang: str, rating: Rating | None) -> list[dict[str, Any]]:
    if rating is None:
        return []
    return [
        {
            "label": feature_label(lang, str(r["feature"])),
            "value": shown(lang, str(r["feature"]), r.get("value")),
            "points": f"{float(r['contribution']) * 100:.1f}",
            "record": r.get("record"),
            "sentence": reason_text(r),
        }
        for r in rating.reasons
    ]


async def merchant_file(
    request: Request[Any, Any, Any], db: AsyncSession, me: Principal, merchant_id: uuid.UUID
) -> dict[str, Any]:
    """Everything the merchant's page shows; "not found" outside the caller's reach."""
    lang = lang_of(request)
    merchant = await measures.supervised_merchant(db, me, merchant_id)
    rating = await ratings.current(db, merchant.id)
    changes = list(await ratings.history(db, merchant.id))
    records = (await ratings.records_for(db, [merchant.id], today() + timedelta(days=1)))[
        merchant.id
    ]
    indicators = [
        {
            "source": gettext(lang, f"r_src_{r.source.value}"),
            "kind": feature_label(lang, FEATURE_OF.get((r.source.value, r.kind), r.kind)),
            "value": shown(lang, FEATURE_OF.get((r.source.value, r.kind)), r.value),
            "as_of": r.as_of.isoformat(),
            "provenance": r.provenance,
        }
        for r in sorted(records, key=lambda r: (r.source.value, r.kind))
    ]
    found_warnings = await warnings.queue(
        db, me, status=None, rule=None, merchant_id=merchant.id, limit=50, offset=0
    )
    open_disputes = await disputes.queue(db, me, disputes.QueueFilter(merchant_id=merchant.id))
    closed_disputes = await disputes.queue(
        db,
        me,
        disputes.QueueFilter(status=DisputeStatus.CONFIRMED, merchant_id=merchant.id, limit=20),
    )
    taken = list(await measures.measures_of(db, merchant.id))
    holding = await blocks.of(db, merchant.id)
    return {
        "merchant": merchant,
        "blocks": holding,
        "industry_names": await _industry_names(db, lang),
        "rating": rating,
        "grade": rating.grade if rating else supervision.UNRATED,
        "colour": supervision.colour(rating.grade if rating else supervision.UNRATED),
        "overrides": [
            {"text": gettext(lang, f"r_override_{o}"), "floor": Override(o).floor}
            for o in (rating.overrides if rating else [])
        ],
        "chart": _chart(lang, rating, changes),
        "changes": list(reversed(changes)),
        "reasons": _reasons(lang, rating),
        "indicators": indicators,
        "money": await escrow.settlement(db, merchant.id),
        "warnings": found_warnings,
        "disputes": [*open_disputes, *closed_disputes],
        "measures": list(reversed(taken)),
        "measure_text": {m.id: measure_summary(lang, m) for m in taken},
        "people": await usernames(db, [m.taken_by for m in taken]),
        "actions": actions_for(merchant, blocked=bool(holding)),
        "now": utcnow(),
        "percent": percent,
        "ratio": ratio,
        "errors": {},
        "values": {},
    }


async def protection_file(db: AsyncSession, me: Principal) -> dict[str, Any]:
    """What the protection page shows: payables by age, blocked merchants, grade actions."""
    pending = await payables.supervised(db, me)
    query = select(Merchant).order_by(Merchant.legal_name)
    if me.role is Role.REGULATOR and me.district is not None:
        query = query.where(Merchant.district == me.district)
    merchants = {m.id: m for m in (await db.scalars(query)).all()}
    held = await blocks.active(db, list(merchants))
    owing: dict[uuid.UUID, int] = {}
    for p in pending:
        owing[p.merchant_id] = owing.get(p.merchant_id, 0) + p.pending
    return {
        "by_age": payables.by_age(pending, utcnow()),
        "owing": [
            (merchants[m].legal_name if m in merchants else str(m), fen)
            for m, fen in sorted(owing.items(), key=lambda item: -item[1])
        ][:20],
        "blocked": [(merchants[m], held[m]) for m in merchants if m in held],
        "actions": await grade_actions.in_force(db, me.district or grade_actions.CITY),
        "can_set": me.role is Role.REGULATOR,
        "errors": {},
        "values": {},
    }


async def _industry_names(db: AsyncSession, lang: str) -> dict[str, str]:
    return {i.code: i.name_en if lang == "en" else i.name_zh for i in await industries(db)}


def _default_flash(lang: str, taken: Sequence[Measure]) -> str:
    declared = [m for m in taken if m.kind == MeasureKind.DECLARE_DEFAULT]
    summary = measure_summary(lang, declared[0]) if declared else ""
    return f"{gettext(lang, 'r_done_declare-default')} {summary}".strip()


async def _take(
    db: AsyncSession, me: Principal, merchant_id: uuid.UUID, data: dict[str, str], lang: str
) -> None:
    kind = data.get("kind", "")
    reason = data.get("reason", "")
    async with db.begin():
        if kind == MeasureKind.RAISE_CUSTODY_RATIO:
            bp = percent_to_bp(data.get("custody_ratio_pct", ""), lang)
            await measures.raise_custody_ratio(db, me, merchant_id, ratio_bp=bp, reason=reason)
        elif kind == MeasureKind.LIFT_CUSTODY_RATIO:
            await measures.lift_custody_ratio(db, me, merchant_id, reason=reason)
        elif kind == MeasureKind.SUSPEND_SALES:
            await measures.suspend_sales(db, me, merchant_id, reason=reason)
        elif kind == MeasureKind.LIFT_SUSPENSION:
            await measures.lift_suspension(db, me, merchant_id, reason=reason)
        elif kind == MeasureKind.DECLARE_DEFAULT:
            if data.get("confirm") != "yes":
                raise Invalid(gettext(lang, "r_err_confirm"), fields={"confirm": "required"})
            await measures.declare_default(db, me, merchant_id, reason=reason)
        else:
            raise Invalid(gettext(lang, "r_err_kind"), fields={"kind": "unknown"})


# -- the queues -----------------------------------------------------------------------------


async def warning_queue(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    me: Principal,
    status: str | None,
    merchant_id: uuid.UUID | None,
) -> dict[str, Any]:
    """The warnings, their notes, who they are assigned to and who could take them."""
    lang = lang_of(request)
    wanted = status if status in ("open", "acknowledged", "closed") else None
    found: Sequence[WarningRow] = await warnings.queue(
        db, me, status=wanted, rule=None, merchant_id=merchant_id, limit=QUEUE_ROWS, offset=0
    )
    notes = {w.id: list(await warnings.notes_of(db, w.id)) for w in found}
    colleagues = {d: await regulators_of(db, d) for d in {w.district for w in found}}
    people = await usernames(
        db,
        [w.assigned_to for w in found]
        + [n.author for ns in notes.values() for n in ns]
        + [w.closed_by for w in found],
    )
    return {
        "warnings": found,
        "notes": notes,
        "colleagues": colleagues,
        "people": people,
        "merchants": await legal_names(db, [w.merchant_id for w in found]),
        "status": wanted or "",
        "merchant_id": merchant_id,
        "rule_name": lambda rule: gettext(lang, f"r_rule_{rule}"),
        "errors": {},
        "values": {},
    }


async def _warning_step(
    db: AsyncSession,
    me: Principal,
    warning_id: uuid.UUID,
    action: str,
    data: dict[str, str],
    lang: str,
) -> None:
    async with db.begin():
        if action == "acknowledge":
            await warnings.acknowledge(db, me, warning_id)
        elif action == "assign":
            try:
                assignee = uuid.UUID(data.get("user_id", ""))
            except ValueError:
                raise Invalid(gettext(lang, "r_err_user"), fields={"user_id": "choose"}) from None
            await warnings.assign(db, me, warning_id, assignee)
        elif action == "note":
            await warnings.add_note(db, me, warning_id, data.get("text", ""))
        else:
            await warnings.close(db, me, warning_id, data.get("feedback", ""))


async def dispute_queue(
    db: AsyncSession, me: Principal, *, status: str | None, overdue: bool
) -> dict[str, Any]:
    """The disputes in reach, the most urgent first, each marked overdue or not."""
    wanted = DisputeStatus(status) if status in {s.value for s in DisputeStatus} else None
    views = await disputes.queue(
        db, me, disputes.QueueFilter(status=wanted, overdue=overdue, limit=QUEUE_ROWS)
    )
    now = utcnow()
    return {
        "views": views,
        "late": {
            v.dispute.id
            for v in views
            if v.dispute.deadline_at is not None
            and v.dispute.deadline_at < now
            and v.dispute.status != DisputeStatus.CONFIRMED
        },
        "merchants": await legal_names(db, [v.dispute.merchant_id for v in views]),
        "statuses": [s.value for s in DisputeStatus],
        "status": wanted.value if wanted else "",
        "overdue": overdue,
        "regulator": DisputeOwner.REGULATOR.value,
        "errors": {},
        "values": {},
    }


async def _decide(
    db: AsyncSession, me: Principal, dispute_id: uuid.UUID, data: dict[str, str], lang: str
) -> None:
    try:
        decision = disputes.Decision(data.get("decision", ""))
    except ValueError:
        raise Invalid(gettext(lang, "r_err_decision"), fields={"decision": "choose"}) from None
    amount = yuan_to_fen(data.get("amount", ""), "amount", lang)
    ruling = disputes.Ruling(decision=decision, text=data.get("text", ""), amount_fen=amount)
    async with db.begin():
        await disputes.decide(db, me, dispute_id, ruling)


# -- the controller -------------------------------------------------------------------------


class RegulatorPages(Controller):
    """``/dashboard``: for regulators (their district) and operators (every district)."""

    path = "/dashboard"
    include_in_schema = False
    guards = [SUPERVISORS]  # noqa: RUF012
    opt = {"page": True}  # noqa: RUF012 - errors render as pages (app.errors)

    @get("/")
    async def dashboard(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        me: Me,
        grade: FromQuery[list[str] | None] = None,
        district: FromQuery[str | None] = None,
        industry: FromQuery[str | None] = None,
    ) -> Template:
        """Merchants by grade, riskiest first, with the totals of the filtered set."""
        lang = lang_of(request)
        wanted_grades = [g for g in grade or [] if g]
        errors: dict[str, str] = {}
        rows: Sequence[tuple[Merchant, Rating | None]] = []
        try:
            checked = supervision.check_grades(wanted_grades)
            rows = await supervision.rated_merchants(
                db,
                me,
                grades=checked,
                district=district or None,
                industry=industry or None,
                limit=MAX_ROWS + 1,
                offset=0,
            )
        except Invalid as exc:
            errors = field_errors(exc)
        truncated = len(rows) > MAX_ROWS
        rows = rows[:MAX_ROWS]
        ids = [m.id for m, _ in rows]
        held = await escrow.outstanding(db, ids)
        cover = await insured_exposure(db, ids)
        complaints = await complaints_since(db, ids, utcnow() - timedelta(days=COMPLAINT_DAYS))
        outstanding = sum(held.values())
        insured = sum(cover.values())
        graded = Counter(r.grade if r else supervision.UNRATED for _, r in rows)
        fixed = me.district if me.role is Role.REGULATOR else None
        return page(
            request,
            "regulator/dashboard.html",
            rows=[
                {
                    "merchant": m,
                    "grade": r.grade if r else supervision.UNRATED,
                    "colour": supervision.colour(r.grade if r else supervision.UNRATED),
                    "probability": percent(r.probability if r else None),
                    "outstanding": held.get(m.id, 0),
                }
                for m, r in rows
            ],
            totals={
                "merchants": len(rows),
                "outstanding": outstanding,
                "custody": outstanding - insured,
                "insured": insured,
                "complaints": sum(complaints.values()),
            },
            graded=[
                (g, graded.get(g, 0), supervision.colour(g)) for g in (*GRADES, supervision.UNRATED)
            ],
            truncated=truncated,
            max_rows=MAX_ROWS,
            grades=[*GRADES, supervision.UNRATED],
            wanted_grades=[g.strip().upper() for g in wanted_grades],
            district=fixed or district or "",
            district_fixed=fixed,
            districts=await districts(db, me),
            industry=industry or "",
            industry_names=await _industry_names(db, lang),
            errors=errors,
        )

    @get("/merchants/{merchant_id:uuid}")
    async def merchant(
        self,
        request: Request[Any, Any, Any],
        merchant_id: FromPath[uuid.UUID],
        db: Db,
        me: Me,
        done: FromQuery[str | None] = None,
    ) -> Template:
        """The merchant's grade, chart, reasons, indicators, queues, measures and their forms."""
        lang = lang_of(request)
        context = await merchant_file(request, db, me, merchant_id)
        flash = (
            _default_flash(lang, context["measures"])
            if done == MeasureKind.DECLARE_DEFAULT
            else said_done(lang, "r_done_", done, MEASURE_KINDS)
        )
        return page(request, "regulator/merchant.html", flash=flash, **context)

    @post("/merchants/{merchant_id:uuid}/measures")
    async def take_measure(
        self,
        request: Request[Any, Any, Any],
        merchant_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Take a measure; declaring default pays custody shares and opens the claim."""
        same_origin(request)
        kind = data.get("kind", "")
        return await run_form(
            request,
            _take(db, me, merchant_id, data, lang_of(request)),
            done=f"/dashboard/merchants/{merchant_id}?done={kind}#measures",
            again=lambda: merchant_file(request, db, me, merchant_id),
            name="regulator/merchant.html",
            row=kind,
            data=data,
            rename={"custody_ratio_bp": "custody_ratio_pct"},
        )

    @get("/protection")
    async def protection(
        self, request: Request[Any, Any, Any], db: Db, me: Me, done: FromQuery[str | None] = None
    ) -> Template:
        """Refund payables by age, blocked sales (lifted together), the district's grade actions."""
        context = await protection_file(db, me)
        flash = said_done(lang_of(request), "r_done_", done, ("lift", "actions"))
        return page(request, "regulator/protection.html", flash=flash, **context)

    @post("/protection/lift")
    async def lift_blocks(
        self, request: Request[Any, Any, Any], data: Form, db: Db, me: Me
    ) -> Template | Redirect:
        """Lift the blocks of every merchant ticked, one measure each, all or none."""
        same_origin(request)

        async def lift() -> None:
            try:
                ids = [
                    uuid.UUID(k.removeprefix("merchant-"))
                    for k in data
                    if k.startswith("merchant-")
                ]
            except ValueError:
                raise Invalid("tick merchants from the list", fields={"merchant": "bad"}) from None
            async with db.begin():
                await measures.lift_sales_blocks(db, me, ids, reason=data.get("reason", ""))

        return await run_form(
            request,
            lift(),
            done="/dashboard/protection?done=lift#blocks",
            again=lambda: protection_file(db, me),
            name="regulator/protection.html",
            row="lift",
            data=data,
        )

    @post("/protection/grade-actions")
    async def set_grade_actions(
        self, request: Request[Any, Any, Any], data: Form, db: Db, me: Me
    ) -> Template | Redirect:
        """A new version of the district's grade actions, with its reason."""
        same_origin(request)
        lang = lang_of(request)

        async def change() -> None:
            table = {
                grade: {
                    "custody_ratio_bp": percent_to_bp(data.get(f"ratio-{grade}", ""), lang),
                    "sales": data.get(f"sales-{grade}", ""),
                }
                for grade in GRADES
            }
            async with db.begin():
                await grade_actions.set_actions(db, me, table, reason=data.get("reason", ""))

        return await run_form(
            request,
            change(),
            done="/dashboard/protection?done=actions#grade-actions",
            again=lambda: protection_file(db, me),
            name="regulator/protection.html",
            row="actions",
            data=data,
        )

    @get("/warnings")
    async def warnings_queue(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        me: Me,
        status: FromQuery[str | None] = None,
        merchant_id: FromQuery[uuid.UUID | None] = None,
        done: FromQuery[str | None] = None,
    ) -> Template:
        """Open warnings first, newest first: acknowledge, assign, note, close with feedback."""
        context = await warning_queue(request, db, me, status, merchant_id)
        flash = said_done(lang_of(request), "r_done_", done, WARNING_ACTIONS)
        return page(request, "regulator/warnings.html", flash=flash, **context)

    @post("/warnings/{warning_id:uuid}/{action:str}")
    async def warning_action(
        self,
        request: Request[Any, Any, Any],
        warning_id: FromPath[uuid.UUID],
        action: FromPath[str],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """One step of a warning's handling."""
        same_origin(request)
        if action not in WARNING_ACTIONS:
            raise NotFound("no such step")
        status = data.get("status") or None
        query = f"status={status}&" if status else ""
        return await run_form(
            request,
            _warning_step(db, me, warning_id, action, data, lang_of(request)),
            done=f"/dashboard/warnings?{query}done={action}#w-{warning_id}",
            again=lambda: warning_queue(request, db, me, status, None),
            name="regulator/warnings.html",
            row=warning_id,
            data=data,
        )

    @get("/disputes")
    async def disputes_queue(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        me: Me,
        status: FromQuery[str | None] = None,
        overdue: FromQuery[bool] = False,  # noqa: FBT002 - a query flag
        done: FromQuery[str | None] = None,
    ) -> Template:
        """Open disputes, earliest deadline first, the overdue ones marked; decide here."""
        context = await dispute_queue(db, me, status=status, overdue=overdue)
        flash = said_done(lang_of(request), "r_done_", done, ("decide",))
        return page(request, "regulator/disputes.html", flash=flash, **context)

    @post("/disputes/{dispute_id:uuid}/decide")
    async def decide(
        self,
        request: Request[Any, Any, Any],
        dispute_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Decide a dispute: the money moves in the same transaction."""
        same_origin(request)
        return await run_form(
            request,
            _decide(db, me, dispute_id, data, lang_of(request)),
            done=f"/dashboard/disputes?done=decide#d-{dispute_id}",
            again=lambda: dispute_queue(db, me, status=None, overdue=False),
            name="regulator/disputes.html",
            row=dispute_id,
            data=data,
            rename={"amount_fen": "amount"},
        )


# -- words ----------------------------------------------------------------------------------

_FEATURES_ZH = {
    "registration_status": "登记状态",
    "registration_age_years": "经营年限",
    "registration_capital_change": "注册资本变动（%）",
    "registration_abnormal_operations": "列入经营异常名录",
    "registration_licence_revoked": "营业执照被吊销",
    "registration_deregistration_filed": "已申请注销",
    "tax_arrears_fen": "欠税金额",
    "tax_filing_gap_months": "未申报纳税月数",
    "court_enforcement_cases": "被执行案件数",
    "court_dishonest_debtor": "失信被执行人",
    "credit_public_rating": "公共信用评级",
    "credit_penalties": "近3年行政处罚",
    "social_security_headcount": "参保人数",
    "social_security_contribution_gap_months": "社保断缴月数",
    "bank_inflow_trend_pct": "近3月银行流入变化（%）",
    "bank_frozen": "银行账户被冻结",
    "complaints_count_30d": "近30日投诉",
    "complaints_count_7d": "近7日投诉",
    "sales_surge_pct": "预付销售较常态（%）",
    "sales_max_discount_pct": "最大售卡折扣（%）",
    "sales_outstanding_to_revenue": "未兑付余额与销售额之比",
}
