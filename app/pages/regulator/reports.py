"""``/dashboard/reports``: a district's monthly or quarterly report, and its downloads.

The page renders the one :class:`~app.reports.tables.Report` the API and the exports render
(:mod:`app.reports`): it only says its figures in the reader's language and draws its charts.
A period that cannot be read is said beside the picker; a district out of reach is the 404
page, as for anything else out of reach.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from litestar import Controller, Request, get
from litestar.params import FromQuery
from litestar.response import Template
from markupsafe import Markup

from app.deps import Db, Me
from app.exceptions import Invalid
from app.i18n import gettext, month
from app.pages.charts import Bar, bar_chart
from app.pages.regulator.dashboard import SUPERVISORS
from app.pages.render import lang_of, page, refusal
from app.reports import periods
from app.reports.district import GRADE_COLUMNS, build
from app.reports.tables import Kind, Words
from app.risk import supervision
from app.supervision import directory

if TYPE_CHECKING:
    from app.reports.tables import Report, Table


def _charts(report: Report, lang: str) -> dict[str, Markup]:
    """The trend over twelve months and the merchants by grade, drawn as the cockpit draws."""
    trend = report.table("trend")
    firsts = [date.fromisoformat(f"{row[0]}-01") for row in trend.rows]
    total = report.table("merchants_by_grade").total or ()
    drawn = {
        "complaints": bar_chart(
            [
                Bar(month(first, lang), int(row[1] or 0))
                for first, row in zip(firsts, trend.rows, strict=True)
            ],
            label=gettext(lang, "rp_chart_complaints"),
            lang=lang,
        ),
        "owed": bar_chart(
            [
                Bar(month(first, lang), int(row[2] or 0), "#5b6576")
                for first, row in zip(firsts, trend.rows, strict=True)
            ],
            label=gettext(lang, "r_chart_outstanding_by_month"),
            lang=lang,
            as_money=True,
        ),
        "grades": bar_chart(
            [
                Bar(g, int(total[1 + i] or 0), supervision.colour(g))
                for i, g in enumerate(GRADE_COLUMNS)
            ],
            label=gettext(lang, "rp_chart_grades"),
            lang=lang,
            codes=True,
        ),
    }
    # every text in a chart is escaped by app.pages.charts
    return {name: Markup(svg) for name, svg in drawn.items()}  # noqa: S704


def _shown(table: Table, words: Words) -> dict[str, Any]:
    """A table as the template lays it out: each cell's words, whether a figure, whether data."""

    def line(cells: tuple[Any, ...]) -> list[dict[str, Any]]:
        return [
            {
                "said": words.cell(c, v),
                "num": c.kind.numeric,
                "data": c.kind in (Kind.TEXT, Kind.GRADE),
                "key": c.key,
                "value": "" if v is None else v,
            }
            for c, v in zip(table.columns, cells, strict=True)
        ]

    return {
        "key": table.key,
        "title": words.title(table),
        "headers": [(words.header(c), c.kind.numeric) for c in table.columns],
        "rows": [line(row) for row in table.rows],
        "total": None if table.total is None else line(table.total)[1:],
    }


def _view(report: Report, lang: str) -> dict[str, Any]:
    words = Words(lang, report.industries)
    query = {"period": report.period.code, "lang": lang}
    if report.district is not None:
        query["district"] = report.district
    return {
        "district": report.district,
        "period_said": words.period(report.period),
        "before_said": words.period(report.period.year_before()),
        "as_of": report.as_of,
        "figures": [
            {
                "key": f.key,
                "label": words(f"rp_fig_{f.key}"),
                "value": "" if f.value is None else f.value,
                "said": words.said(f.kind, f.value),
                "before": words.said(f.kind, f.year_before),
                "change": words.said(Kind.CHANGE, f.change_bp),
            }
            for f in report.figures
        ],
        "tables": [_shown(t, words) for t in report.tables if t.key != "trend"],
        "trend": _shown(report.table("trend"), words),
        "charts": _charts(report, lang),
        "query": urlencode(query),
    }


class ReportPages(Controller):
    """The report page: for regulators (their district, or the city) and operators."""

    path = "/dashboard/reports"
    include_in_schema = False
    guards = [SUPERVISORS]  # noqa: RUF012
    opt = {"page": True}  # noqa: RUF012 - errors render as pages (app.errors)

    @get("/")
    async def report(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        me: Me,
        period: FromQuery[str | None] = None,
        district: FromQuery[str | None] = None,
    ) -> Template:
        """The report of the period picked (this month at first), with its downloads."""
        lang = lang_of(request)
        errors: dict[str, str] = {}
        shown: dict[str, Any] | None = None
        try:
            chosen = periods.parse(period) if period else periods.this_month()
        except Invalid as exc:
            errors = refusal(exc, lang, default_field="period")
        else:
            shown = _view(await build(db, me, chosen, district), lang)
        words = Words(lang, {})
        choices = periods.recent()
        fixed = directory.fixed_district(me)
        return page(
            request,
            "regulator/reports.html",
            report=shown,
            errors=errors,
            period=period or periods.this_month().code,
            months=[(p.code, words.period(p)) for p in choices if p.kind == "month"],
            quarters=[(p.code, words.period(p)) for p in choices if p.kind == "quarter"],
            district=fixed or district or "",
            district_fixed=fixed,
            districts=await directory.districts(db, me),
        )
