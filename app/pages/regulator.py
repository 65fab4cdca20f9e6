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
from app.insurance.service import insured_exposure
from app.merchants import blocks
from app.merchants.models import Merchant, MerchantStatus
from app.merchants.service import industries, legal_names
from app.pages.charts import Point, probability_chart
from app.pages.i18n import add, translate
from app.pages.render import (
    Form,
    field_errors,
    lang_of,
    page,
    run_form,
    said_done,
    same_origin,
    yuan,
)
from app.payables import service as payables
from app.risk import service as ratings
from app.risk import supervision
from app.risk.words import BOOLEAN_FEATURES, LABELS, reason_text
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
        return translate(lang, "r_no_data")
    if isinstance(value, bool) or (feature in BOOLEAN_FEATURES and value in (0, 1)):
        return translate(lang, "r_yes" if value else "r_no")
    if feature == "tax_arrears_fen" and isinstance(value, (int, float)):
        return yuan(round(value))
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def feature_label(lang: str, feature: str) -> str:
    """A feature's name in the page's language."""
    key = f"r_feat_{feature}"
    label = translate(lang, key)
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
        return translate(
            lang,
            "r_default_summary",
            cards=params.get("cards", 0),
            custody=yuan(params.get("custody_paid_fen")),
            claim=yuan(params.get("claim_fen")),
        )
    if measure.kind == MeasureKind.LIFT_SUSPENSION:
        lifted = [translate(lang, "r_lifted_suspension")] if "suspension" in params else []
        lifted += [translate(lang, f"block_{kind}") for kind in params.get("sales_blocks", [])]
        return ", ".join(lifted)
    return ""


def yuan_to_fen(text: str, field: str, lang: str) -> int | None:
    """``120.5`` -> 12050; blank -> ``None``; anything else is refused beside ``field``."""
    text = text.strip().replace(",", "")
    if not text:
        return None
    if not YUAN.match(text):
        raise Invalid(translate(lang, "r_err_amount"), fields={field: "amount"})
    whole, _, part = text.partition(".")
    return int(whole) * 100 + int(part.ljust(2, "0"))


def percent_to_bp(text: str, lang: str) -> int:
    """``60`` or ``45.5`` (per cent) -> basis points; refused beside the ratio field."""
    text = text.strip()
    if not PERCENT.match(text):
        raise Invalid(translate(lang, "r_err_ratio"), fields={"custody_ratio_pct": "percent"})
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
        label=translate(lang, "r_chart_label"),
        empty=translate(lang, "r_chart_empty"),
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
            "source": translate(lang, f"r_src_{r.source.value}"),
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
            {"text": translate(lang, f"r_override_{o}"), "floor": Override(o).floor}
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
    return f"{translate(lang, 'r_done_declare-default')} {summary}".strip()


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
                raise Invalid(translate(lang, "r_err_confirm"), fields={"confirm": "required"})
            await measures.declare_default(db, me, merchant_id, reason=reason)
        else:
            raise Invalid(translate(lang, "r_err_kind"), fields={"kind": "unknown"})


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
        "rule_name": lambda rule: translate(lang, f"r_rule_{rule}"),
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
                raise Invalid(translate(lang, "r_err_user"), fields={"user_id": "choose"}) from None
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
        raise Invalid(translate(lang, "r_err_decision"), fields={"decision": "choose"}) from None
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

add({f"r_feat_{k}": (_FEATURES_ZH.get(k, v), v) for k, v in LABELS.items()})
add(
    {
        "r_nav_dashboard": ("监管看板", "Dashboard"),
        "r_nav_warnings": ("预警", "Warnings"),
        "r_nav_disputes": ("纠纷", "Disputes"),
        "r_dashboard_title": ("商户风险看板", "Merchants by risk"),
        "r_filter": ("筛选", "Filter"),
        "r_district": ("辖区", "District"),
        "r_all_districts": ("全部辖区", "All districts"),
        "r_industry": ("行业", "Industry"),
        "r_all_industries": ("全部行业", "All industries"),
        "r_grades": ("风险等级", "Grades"),
        "r_apply": ("筛选", "Apply"),
        "r_reset": ("清除筛选", "Clear"),
        "r_total_merchants": ("商户数", "Merchants"),
        "r_total_outstanding": ("未兑付余额", "Outstanding balances"),
        "r_total_custody": ("存管资金", "Held in custody"),
        "r_total_insured": ("保险保障", "Insured cover"),
        "r_total_complaints": ("近30日投诉", "Complaints, 30 days"),
        "r_by_grade": ("等级分布", "By grade"),
        "r_col_name": ("商户", "Merchant"),
        "r_col_status": ("状态", "Status"),
        "r_col_grade": ("等级", "Grade"),
        "r_col_probability": ("违约概率", "Probability of default"),
        "r_col_outstanding": ("未兑付余额", "Outstanding"),
        "r_no_merchants": ("没有符合条件的商户", "No merchant matches the filter"),
        "r_truncated": (
            "仅列出风险最高的 {n} 家（合计亦按此计算），请缩小筛选范围",
            "Only the riskiest {n} are listed and totalled; narrow the filter",
        ),
        "r_mstatus_pending": ("待审核", "pending"),
        "r_mstatus_approved": ("已批准", "approved"),
        "r_mstatus_active": ("正常经营", "active"),
        "r_mstatus_suspended": ("暂停售卡", "sales suspended"),
        "r_mstatus_defaulted": ("已宣告违约", "in default"),
        "r_mstatus_closed": ("已关闭", "closed"),
        "r_uscc": ("统一社会信用代码", "Unified social credit code"),
        "r_address": ("地址", "Address"),
        "r_custody_ratio": ("新售卡存管比例", "Custody ratio for new sales"),
        "r_rating": ("风险评级", "Rating"),
        "r_not_rated": ("尚未评级：还没有启用评分模型，或该商户尚未被评分", "Not rated yet"),
        "r_model_grade": ("模型等级", "Model grade"),
        "r_probability": ("违约概率", "Probability of default"),
        "r_reference": ("参考概率", "Reference probability"),
        "r_model_version": ("模型版本", "Model version"),
        "r_cut_points": ("分级切点版本", "Cut points version"),
        "r_rated_at": ("评级时间", "Rated at"),
        "r_scored_for": ("采用此日前的数据", "Records dated before"),
        "r_cause": ("触发原因", "Cause"),
        "r_overrides": ("硬性规则", "Hard overrides"),
        "r_override_dishonest-debtor": ("失信被执行人", "listed as a dishonest debtor"),
        "r_override_licence-revoked": ("营业执照被吊销", "business licence revoked"),
        "r_override_deregistration-filed": ("已申请注销登记", "deregistration filed"),
        "r_override_abnormal-operations": ("列入经营异常名录", "on the abnormal operations list"),
        "r_override_exit-pattern": (
            "180 天内减资、股权转让、法人变更",
            "capital cut, equity transfer and new legal representative within 180 days",
        ),
        "r_override_floor": ("等级不优于 {grade}", "grade no better than {grade}"),
        "r_chart_title": ("违约概率走势", "Probability of default over time"),
        "r_chart_label": (
            "违约概率随时间的变化，背景为 A–E 等级区间",
            "Probability of default over time, on the grade bands A to E",
        ),
        "r_chart_empty": ("尚无评级", "Not rated yet"),
        "r_chart_note": (
            "每个点是一次等级变动，最后一点为当前评级；纵轴按等级分段，每个等级区间等高",
            (
                "Each point is a grade change, the last one the current rating; on the axis"
                " each grade band takes the same height"
            ),
        ),
        "r_history": ("等级变动", "Grade changes"),
        "r_at": ("时间", "When"),
        "r_change": ("变动", "Change"),
        "r_reasons": ("主要原因", "Top reasons"),
        "r_signal": ("指标", "Signal"),
        "r_value": ("数值", "Value"),
        "r_effect": ("对违约概率的影响", "Effect on the probability"),
        "r_effect_points": ("+{points} 个百分点", "+{points} points"),
        "r_record": ("来源记录", "Source record"),
        "r_no_reasons": ("没有推高风险的因素", "No signal raises the risk"),
        "r_indicators": ("最新指标", "Latest indicators"),
        "r_source": ("来源", "Source"),
        "r_kind": ("指标项", "Item"),
        "r_as_of": ("数据日期", "As of"),
        "r_provenance": ("出处", "Provenance"),
        "r_no_indicators": ("暂无指标记录", "No indicator records"),
        "r_src_registration": ("工商登记", "Business registration"),
        "r_src_tax": ("税务", "Tax"),
        "r_src_court": ("法院", "Courts"),
        "r_src_credit": ("公共信用", "Public credit"),
        "r_src_social_security": ("社保", "Social security"),
        "r_src_bank": ("银行资金", "Bank funds"),
        "r_src_complaints": ("投诉", "Complaints"),
        "r_src_sales": ("平台销售", "Platform sales"),
        "r_yes": ("是", "yes"),
        "r_no": ("否", "no"),
        "r_no_data": ("无数据", "no data"),
        "r_money": ("预付资金", "Prepaid money"),
        "r_cards_sold": ("已售卡数", "Cards sold"),
        "r_sold": ("售卡金额", "Sold"),
        "r_refunded": ("已退还消费者", "Paid back to consumers"),
        "r_receivable": ("商户欠款", "Owed by the merchant"),
        "r_warnings": ("预警", "Warnings"),
        "r_no_warnings": ("暂无预警", "No warnings"),
        "r_all_warnings": ("在预警队列中查看", "Open in the warnings queue"),
        "r_disputes": ("纠纷", "Disputes"),
        "r_no_disputes": ("暂无纠纷", "No disputes"),
        "r_measures": ("监管措施", "Measures"),
        "r_no_measures": ("尚未采取措施", "No measures taken"),
        "r_taken_by": ("执行人", "By"),
        "r_reason": ("理由", "Reason"),
        "r_details": ("内容", "Details"),
        "r_take_measure": ("采取措施", "Take a measure"),
        "r_measure_raise-custody-ratio": ("提高存管比例", "Raise the custody ratio"),
        "r_measure_lift-custody-ratio": ("恢复标准存管比例", "Back to the standard ratio"),
        "r_measure_suspend-sales": ("暂停售卡", "Suspend sales"),
        "r_measure_lift-suspension": ("恢复售卡", "Lift the suspension"),
        "r_measure_declare-default": ("宣告违约", "Declare default"),
        "r_measure_grade-action": ("按等级调整存管比例（系统）", "Grade action (by the platform)"),
        "r_measure_help_grade-action": (
            "风险等级变化时，系统按本区等级处置规则自动调整新售卡存管比例。",
            "When the grade changes the platform applies the district's grade actions itself.",
        ),
        "r_ask_grade-action": ("系统自动执行", "Taken by the platform"),
        "r_done_grade-action": ("已按等级调整", "Grade action applied"),
        "r_measure_help_raise-custody-ratio": (
            "只影响今后售出的卡，已售卡保持原比例。",
            "Applies to new sales only; cards already sold keep their ratio.",
        ),
        "r_measure_help_lift-custody-ratio": (
            "新售卡恢复为其风险等级对应的存管比例。",
            "New sales go back to the ratio the merchant's grade calls for.",
        ),
        "r_measure_help_suspend-sales": (
            "停止销售新卡，已售卡照常使用。",
            "No new cards are sold; cards already sold are still honoured.",
        ),
        "r_measure_help_lift-suspension": (
            "恢复销售，同时解除对账短缺导致的售卡冻结。",
            "Sales resume; a block set by reconciliation is lifted too.",
        ),
        "r_measure_help_declare-default": (
            "冻结商户，按每张卡的应退余额支付存管份额，并向保险公司发起理赔。不可撤销。",
            (
                "Freezes the merchant, pays each card's custody share and claims the insured"
                " shares from the insurer. It cannot be undone."
            ),
        ),
        "r_ratio_pct": ("新存管比例（%）", "New custody ratio (%)"),
        "r_ratio_now": ("当前 {now}，最高 100%", "Now {now}, at most 100%"),
        "r_confirm_default": (
            "我确认宣告违约：资金将立即划付，且不可撤销",
            "I confirm the default: money moves at once and this cannot be undone",
        ),
        "r_ask_raise-custody-ratio": (
            "确定提高 {name} 的存管比例？",
            "Raise the custody ratio of {name}?",
        ),
        "r_ask_lift-custody-ratio": (
            "确定将 {name} 恢复为标准存管比例？",
            "Put {name} back on the standard custody ratio?",
        ),
        "r_ask_suspend-sales": ("确定暂停 {name} 的售卡？", "Suspend card sales of {name}?"),
        "r_ask_lift-suspension": ("确定恢复 {name} 的售卡？", "Let {name} sell cards again?"),
        "r_ask_declare-default": (
            "确定宣告 {name} 违约？资金将立即划付，不可撤销。",
            "Declare {name} in default? Money moves at once; this cannot be undone.",
        ),
        "r_default_progress": (
            "正在冻结商户、计算每张卡的退款并支付存管份额，请勿关闭页面…",
            (
                "Freezing the merchant, computing each card's refund and paying custody"
                " shares; keep this page open…"
            ),
        ),
        "r_default_summary": (
            "{cards} 张卡，存管已付 {custody}，保险理赔 {claim}",
            "{cards} cards, {custody} paid from custody, {claim} claimed from the insurer",
        ),
        "r_lifted_suspension": ("解除暂停", "suspension lifted"),
        "r_nav_protection": ("资金保障", "Protection"),
        "r_protection_title": ("资金保障", "Protection"),
        "r_payables_title": ("商户退款欠款（按账龄）", "Refunds merchants owe, by age"),
        "r_payables_help": (
            "退款时存管部分先行退付，其余由商户在期限内支付、从售卡款扣还，逾期转保险理赔。",
            (
                "Custody pays its share of a refund at once; the merchant owes the rest by a"
                " deadline, or it is withheld from sales; unpaid, it becomes a claim."
            ),
        ),
        "r_payables_days": ("退款后天数", "Days since the refund"),
        "r_payables_count": ("笔数", "Count"),
        "r_payables_owed": ("商户待付", "Owed by merchants"),
        "r_payables_claimed": ("已转理赔", "Claimed from insurers"),
        "r_blocks_title": ("暂停售卡的商户", "Merchants whose sales are blocked"),
        "r_blocks_none": ("没有被暂停售卡的商户", "No merchant's sales are blocked"),
        "r_blocks_lift": ("解除所选商户的售卡限制", "Lift the blocks of the merchants ticked"),
        "r_actions_title": ("风险等级处置规则", "Grade actions"),
        "r_actions_in_force": (
            "现行：{district} 第 {version} 版（{reason}）",
            "In force: {district}, version {version} ({reason})",
        ),
        "r_actions_ratio": ("新售卡存管比例", "Custody of new sales"),
        "r_actions_sales": ("售卡", "Sales"),
        "r_sales_allowed": ("允许", "allowed"),
        "r_sales_review": ("复核后方可", "held for review"),
        "r_actions_save": ("保存新版本", "Save a new version"),
        "r_done_lift": ("已解除售卡限制", "Sales blocks lifted"),
        "r_done_actions": ("已保存新版本", "New version saved"),
        "r_by_platform": ("系统", "the platform"),
        "r_done_raise-custody-ratio": ("已提高存管比例", "The custody ratio was raised"),
        "r_done_lift-custody-ratio": ("已恢复标准存管比例", "The standard ratio applies again"),
        "r_done_suspend-sales": ("已暂停售卡", "Sales are suspended"),
        "r_done_lift-suspension": ("已恢复售卡", "Sales may resume"),
        "r_done_declare-default": ("已宣告违约：", "Declared in default:"),
        "r_err_confirm": ("请勾选确认后再提交", "Tick the box to confirm"),
        "r_err_ratio": (
            "请填写 0 到 100 之间的百分比，最多两位小数",
            "A percentage from 0 to 100, at most two decimals",
        ),
        "r_err_kind": ("未知的措施", "Unknown measure"),
        "r_no_actions": ("该商户当前状态下没有可采取的措施", "No measure applies in this state"),
        "r_warnings_title": ("预警队列", "Warnings queue"),
        "r_wstatus_open": ("待处理", "open"),
        "r_wstatus_acknowledged": ("已受理", "acknowledged"),
        "r_wstatus_closed": ("已办结", "closed"),
        "r_all_statuses": ("全部状态", "Every status"),
        "r_status": ("状态", "Status"),
        "r_rule": ("规则", "Rule"),
        "r_rule_grade-drop": ("等级下降", "Grade drop"),
        "r_rule_complaint-surge": ("投诉激增", "Complaint surge"),
        "r_rule_sales-surge": ("售卡激增", "Sales surge"),
        "r_rule_deep-discount": ("大幅折扣", "Deep discount"),
        "r_rule_custody-shortfall": ("存管资金短缺", "Custody shortfall"),
        "r_rule_hard-override": ("硬性风险记录", "Hard-override record"),
        "r_rule_dispute-overdue": ("纠纷逾期", "Dispute overdue"),
        "r_rule_rating-failed": ("评级失败", "Rating failed"),
        "r_rule_exit-pattern": ("减资-转股-换法人", "Exit path (capital, owners, representative)"),
        "r_raised_at": ("发出时间", "Raised"),
        "r_evidence": ("证据", "Evidence"),
        "r_assigned_to": ("承办人", "Assigned to"),
        "r_unassigned": ("未分配", "Unassigned"),
        "r_acknowledge": ("受理", "Acknowledge"),
        "r_assign": ("分配", "Assign"),
        "r_colleague": ("承办同事", "Colleague"),
        "r_choose": ("请选择", "Choose"),
        "r_note": ("备注", "Note"),
        "r_add_note": ("添加备注", "Add the note"),
        "r_feedback": ("处理结果（发现了什么、做了什么）", "Feedback: what was found and done"),
        "r_close": ("办结", "Close"),
        "r_ask_close": ("确定办结此预警？", "Close this warning?"),
        "r_notes": ("备注", "Notes"),
        "r_handle": ("处理", "Handle"),
        "r_closed_feedback": ("办结反馈", "Feedback"),
        "r_done_acknowledge": ("已受理预警", "Warning acknowledged"),
        "r_done_assign": ("已分配承办人", "Warning assigned"),
        "r_done_note": ("已添加备注", "Note added"),
        "r_done_close": ("预警已办结", "Warning closed"),
        "r_err_user": ("请选择本辖区的监管人员", "Choose a regulator of this district"),
        "r_no_queue_warnings": ("队列中没有预警", "The queue is empty"),
        "r_disputes_title": ("纠纷队列", "Disputes queue"),
        "r_open_statuses": ("全部未结", "Every open one"),
        "r_overdue_only": ("仅看逾期", "Overdue only"),
        "r_deadline": ("期限", "Deadline"),
        "r_overdue": ("已逾期", "Overdue"),
        "r_owner": ("当前处理方", "Whose move"),
        "r_owner_merchant": ("商户", "merchant"),
        "r_owner_regulator": ("监管部门", "regulator"),
        "r_owner_consumer": ("消费者", "consumer"),
        "r_owner_nobody": ("无", "nobody"),
        "r_dstatus_filed": ("已投诉", "filed"),
        "r_dstatus_mediation": ("调解中", "in mediation"),
        "r_dstatus_decided": ("已裁决", "decided"),
        "r_dstatus_confirmed": ("已确认", "confirmed"),
        "r_dstatus_reopened": ("已申请复议", "reopened"),
        "r_dkind_not_delivered": ("未提供服务", "Service not delivered"),
        "r_dkind_quality": ("服务质量", "Quality"),
        "r_dkind_refund_refused": ("拒绝退款", "Refund refused"),
        "r_dkind_closed_or_moved": ("关店或搬迁", "Closed or moved"),
        "r_dkind_other": ("其他", "Other"),
        "r_complaint": ("投诉内容", "Complaint"),
        "r_amount_asked": ("诉求金额", "Asked"),
        "r_merchant_answer": ("商户答复", "Merchant's answer"),
        "r_filed_at": ("投诉时间", "Filed"),
        "r_card": ("卡", "Card"),
        "r_timeline": ("处理经过", "Timeline"),
        "r_step_filed": ("投诉", "filed"),
        "r_step_answered": ("商户答复", "answered"),
        "r_step_decided": ("裁决", "decided"),
        "r_step_confirmed": ("确认", "confirmed"),
        "r_step_reopened": ("申请复议", "reopened"),
        "r_step_escalated": ("逾期升级", "escalated"),
        "r_step_deemed-confirmed": ("视为确认", "deemed confirmed"),
        "r_decide": ("裁决", "Decide"),
        "r_decision": ("裁决结果", "Decision"),
        "r_decision_refund": ("全额退款（卡内剩余金额）", "Refund the card's whole balance"),
        "r_decision_partial": ("部分补偿", "Partial compensation"),
        "r_decision_reject": ("驳回", "Reject"),
        "r_amount_yuan": ("补偿金额（元，仅部分补偿）", "Amount in yuan (partial only)"),
        "r_decision_text": ("裁决理由", "Reasons"),
        "r_ask_decide": (
            "确定提交裁决？涉及资金将立即划付。",
            "Submit the decision? Money moves at once.",
        ),
        "r_done_decide": (
            "裁决已提交，等待消费者确认",
            "Decided; the consumer is asked to confirm",
        ),
        "r_err_amount": ("请填写金额，例如 120.50", "An amount such as 120.50"),
        "r_err_decision": ("请选择裁决结果", "Choose a decision"),
        "r_decided_as": ("裁决", "Decision"),
        "r_waiting": ("等待{owner}处理", "Waiting for the {owner}"),
        "r_no_queue_disputes": ("没有待处理的纠纷", "No dispute waits"),
        "r_open": ("查看", "Open"),
        "r_standard_ratio": ("标准比例", "standard ratio"),
    }
)
