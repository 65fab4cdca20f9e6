"""``/dashboard``: the merchants in reach by grade, riskiest first, with the filtered totals."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from litestar import Controller, Request, get
from litestar.params import FromQuery
from litestar.response import Template
from markupsafe import Markup

import escrow
from app.auth.models import Role
from app.auth.principal import requires
from app.clock import utcnow
from app.deps import Db, Me
from app.exceptions import Invalid
from app.i18n import gettext, month, probability
from app.insurance.service import insured_exposure
from app.merchants.service import industries
from app.pages.charts import Bar, bar_chart
from app.pages.render import lang_of, page, refusal
from app.reports import dashboard as tables
from app.reports.tables import Words
from app.risk import supervision
from app.supervision import cockpit, directory
from app.supervision.disputes import complaints_since
from scoring import GRADES

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.merchants.models import Merchant
    from app.risk.models import Rating

SUPERVISORS = requires(Role.REGULATOR, Role.OPERATOR)
MAX_ROWS = 500
"""Merchants listed (and totalled) at most: the riskiest first; narrower filters show the rest."""
COMPLAINT_DAYS = 30


async def industry_names(db: AsyncSession, lang: str) -> dict[str, str]:
    """Each industry's name in the page's language, by its code."""
    return {i.code: i.name_en if lang == "en" else i.name_zh for i in await industries(db)}


def _charts(
    lang: str, graded: Counter[str], held: Counter[str], agenda: cockpit.Agenda
) -> dict[str, Markup]:
    """The cockpit's charts, drawn on the server.

    Merchants and outstanding money by grade (the filtered set); complaints and money owed to
    consumers month by month (the whole reach).
    """
    grades = (*GRADES, supervision.UNRATED)
    drawn = {
        "merchants": bar_chart(
            [Bar(g, graded.get(g, 0), supervision.colour(g)) for g in grades],
            label=gettext(lang, "r_chart_merchants_by_grade"),
            lang=lang,
            codes=True,
        ),
        "outstanding": bar_chart(
            [Bar(g, held.get(g, 0), supervision.colour(g)) for g in grades],
            label=gettext(lang, "r_chart_outstanding_by_grade"),
            lang=lang,
            as_money=True,
            codes=True,
        ),
        "complaints": bar_chart(
            [Bar(month(first, lang), n) for first, n in agenda.complaints_by_month],
            label=gettext(lang, "r_chart_complaints_by_month"),
            lang=lang,
        ),
        "owed": bar_chart(
            [Bar(month(first, lang), fen, "#5b6576") for first, fen in agenda.outstanding_by_month],
            label=gettext(lang, "r_chart_outstanding_by_month"),
            lang=lang,
            as_money=True,
        ),
    }
    # every text in a chart is escaped by app.pages.charts
    return {name: Markup(svg) for name, svg in drawn.items()}  # noqa: S704


class DashboardPages(Controller):
    """The dashboard: for regulators (their district) and operators (every district)."""

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
        filters = tables.Filters(district or None, industry or None, tuple(wanted_grades))
        matrix = hot = None
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
            matrix = tables.grid(await tables.matrix(db, me, filters, utcnow()))
            hot = await tables.hot_spots(db, me, filters, utcnow())
        except Invalid as exc:
            errors = refusal(exc, lang)
        truncated = len(rows) > MAX_ROWS
        rows = rows[:MAX_ROWS]
        ids = [m.id for m, _ in rows]
        held = await escrow.outstanding(db, ids)
        cover = await insured_exposure(db, ids)
        complaints = await complaints_since(db, ids, utcnow() - timedelta(days=COMPLAINT_DAYS))
        outstanding = sum(held.values())
        insured = sum(cover.values())
        graded = Counter(r.grade if r else supervision.UNRATED for _, r in rows)
        held_by_grade: Counter[str] = Counter()
        for m, r in rows:
            held_by_grade[r.grade if r else supervision.UNRATED] += held.get(m.id, 0)
        fixed = directory.fixed_district(me)
        agenda = await cockpit.agenda(db, me, utcnow())
        return page(
            request,
            "regulator/dashboard.html",
            agenda=agenda,
            charts=_charts(lang, graded, held_by_grade, agenda),
            rows=[
                {
                    "merchant": m,
                    "grade": r.grade if r else supervision.UNRATED,
                    "colour": supervision.colour(r.grade if r else supervision.UNRATED),
                    "probability": probability(r.probability if r else None, lang),
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
            truncated=truncated,
            max_rows=MAX_ROWS,
            grades=[*GRADES, supervision.UNRATED],
            wanted_grades=[g.strip().upper() for g in wanted_grades],
            district=fixed or district or "",
            district_fixed=fixed,
            districts=await directory.districts(db, me),
            industry=industry or "",
            industry_names=await industry_names(db, lang),
            errors=errors,
            matrix=matrix,
            hot=hot,
            words=Words(lang, await tables.industry_names(db)),
            csv_query=urlencode(
                [
                    ("district", fixed or district or ""),
                    ("industry", industry or ""),
                    ("lang", lang),
                    *(("grade", g) for g in wanted_grades),
                ]
            ),
        )
