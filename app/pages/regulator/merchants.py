"""``/dashboard/merchants/<id>``: a merchant's file, and the forms of the measures that apply.

The file shows the grade, the probability chart, the reasons, the latest indicators, the
merchant's warnings and disputes, and the measures taken against it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from markupsafe import Markup

import escrow
from app.clock import today, utcnow
from app.closures import service as closures
from app.deps import Db, Me
from app.exceptions import Invalid
from app.i18n import day, feature_label, feature_value, gettext, reason_sentence
from app.i18n.facts import cause_text
from app.merchants import blocks
from app.pages.charts import Point, probability_chart
from app.pages.forms import parse_percent
from app.pages.regulator.dashboard import SUPERVISORS, industry_names
from app.pages.regulator.figures import FEATURE_OF, measure_summary
from app.pages.render import Form, lang_of, page, run_form, said_done
from app.risk import service as ratings
from app.risk import supervision
from app.risk.batch import records_for
from app.supervision import directory, disputes, measures, warnings
from app.supervision.models import DisputeStatus, MeasureKind
from scoring import Override

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal
    from app.merchants.models import Merchant
    from app.risk.models import Rating
    from app.supervision.models import Measure

MEASURE_KINDS = tuple(k.value for k in MeasureKind)
DANGEROUS = frozenset({MeasureKind.SUSPEND_SALES, MeasureKind.DECLARE_DEFAULT})
"""Measures whose forms ask twice and are drawn in the danger colour."""


@dataclass(frozen=True)
class Action:
    """A measure the regulator may take now, and how its form asks."""

    kind: str
    danger: bool = False


def actions_for(merchant: Merchant, *, blocked: bool) -> list[Action]:
    """The forms of the measures that apply to the merchant as it stands."""
    return [
        Action(kind.value, danger=kind in DANGEROUS)
        for kind in measures.applicable(merchant, blocked=blocked)
    ]


def _chart(lang: str, rating: Rating | None, changes: Sequence[Any], onboarded: datetime) -> Markup:
    """The grade history since onboarding, up to now (causes said in the page's language)."""
    points = [
        Point(c.changed_at, c.probability, c.to_grade, note=cause_text(c.cause, lang))
        for c in changes
    ]
    if rating is not None:
        points.append(
            Point(
                rating.rated_at,
                rating.probability,
                rating.grade,
                note=cause_text(rating.cause, lang),
                current=True,
            )
        )
    svg = probability_chart(
        points,
        label=gettext(lang, "r_chart_label"),
        empty=gettext(lang, "r_chart_empty"),
        lang=lang,
        since=onboarded,
        until=utcnow(),
    )
    return Markup(svg)  # noqa: S704 - every text in it is escaped by probability_chart


def _reasons(lang: str, rating: Rating | None) -> list[dict[str, Any]]:
    if rating is None:
        return []
    found = []
    for r in rating.reasons:
        label = feature_label(str(r["feature"]), lang)
        value = feature_value(str(r["feature"]), r.get("value"), lang)
        points = f"{float(r['contribution']) * 100:.1f}"
        sentence = reason_sentence(r, lang)
        found.append(
            {
                "label": label,
                "value": value,
                "points": points,
                "record": r.get("record"),
                "sentence": sentence,
            }
        )
    return found


async def merchant_file(
    request: Request[Any, Any, Any], db: AsyncSession, me: Principal, merchant_id: uuid.UUID
) -> dict[str, Any]:
    """Everything the merchant's page shows; "not found" outside the caller's reach."""
    lang = lang_of(request)
    merchant = await measures.supervised_merchant(db, me, merchant_id)
    rating = await ratings.current(db, merchant.id)
    changes = list(await ratings.history(db, merchant.id))
    records = (await records_for(db, [merchant.id], today() + timedelta(days=1)))[merchant.id]
    indicators = [
        {
            "source": gettext(lang, f"r_src_{r.source.value}"),
            "kind": feature_label(FEATURE_OF.get((r.source.value, r.kind), r.kind), lang),
            "value": feature_value(FEATURE_OF.get((r.source.value, r.kind)), r.value, lang),
            "as_of": day(r.as_of, lang),
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
        "industry_names": await industry_names(db, lang),
        "rating": rating,
        "grade": rating.grade if rating else supervision.UNRATED,
        "colour": supervision.colour(rating.grade if rating else supervision.UNRATED),
        "overrides": [
            {"text": gettext(lang, f"r_override_{o}"), "floor": Override(o).floor}
            for o in (rating.overrides if rating else [])
        ],
        "chart": _chart(lang, rating, changes, merchant.approved_at or merchant.created_at),
        "changes": list(reversed(changes)),
        "reasons": _reasons(lang, rating),
        "indicators": indicators,
        "money": await escrow.settlement(db, merchant.id),
        "warnings": found_warnings,
        "disputes": [*open_disputes, *closed_disputes],
        "measures": list(reversed(taken)),
        "measure_text": {m.id: measure_summary(lang, m) for m in taken},
        "people": await directory.usernames(db, [m.taken_by for m in taken]),
        "actions": actions_for(merchant, blocked=bool(holding)),
        "now": utcnow(),
        "day": lambda value: day(value, lang),
        "closure": await closures.closure_of(db, merchant.id),
        "earliest": closures.earliest_closing().isoformat(),
        "earliest_emergency": closures.earliest_closing("emergency").isoformat(),
        "errors": {},
        "values": {},
    }


def _default_flash(lang: str, taken: Sequence[Measure]) -> str:
    declared = [m for m in taken if m.kind == MeasureKind.DECLARE_DEFAULT]
    summary = measure_summary(lang, declared[0]) if declared else ""
    return f"{gettext(lang, 'r_done_declare-default')} {summary}".strip()


def measure_order(data: dict[str, str]) -> measures.MeasureOrder:
    """The measure form as the use case takes it (a ratio in per cent becomes basis points)."""
    kind = data.get("kind", "")
    ratio_bp: int | None = None
    if kind == MeasureKind.RAISE_CUSTODY_RATIO:
        ratio_bp = parse_percent(data.get("custody_ratio_pct", ""))
        if ratio_bp is None:
            code = "regulator-percent-unreadable"
            raise Invalid(code, fields={"custody_ratio_pct": code})
    return measures.MeasureOrder(
        kind=kind,
        reason=data.get("reason", ""),
        ratio_bp=ratio_bp,
        confirmed=data.get("confirm") == "yes",
    )


async def _take(
    db: AsyncSession, me: Principal, merchant_id: uuid.UUID, data: dict[str, str]
) -> None:
    order = measure_order(data)
    async with db.begin():
        await measures.take(db, me, merchant_id, order)


class MerchantPages(Controller):
    """A merchant's file and the measures taken from it."""

    path = "/dashboard/merchants"
    include_in_schema = False
    guards = [SUPERVISORS]  # noqa: RUF012
    opt = {"page": True}  # noqa: RUF012 - errors render as pages (app.errors)

    @get("/{merchant_id:uuid}")
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

    @post("/{merchant_id:uuid}/measures")
    async def take_measure(
        self,
        request: Request[Any, Any, Any],
        merchant_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Take a measure; declaring default pays custody shares and opens the claim."""
        kind = data.get("kind", "")
        return await run_form(
            request,
            _take(db, me, merchant_id, data),
            done=f"/dashboard/merchants/{merchant_id}?done={kind}#measures",
            again=lambda: merchant_file(request, db, me, merchant_id),
            name="regulator/merchant.html",
            row=kind,
            data=data,
            rename={"custody_ratio_bp": "custody_ratio_pct"},
        )
