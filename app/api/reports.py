"""District reports over the API: the report as JSON, XLSX and PDF, and the dashboard's CSVs.

Each route builds one report (or dashboard table) and renders it: the JSON, the workbook, the
PDF and the page show the same figures. ``lang`` (``zh`` by default, or ``en``) says the words
of a file; the JSON gives codes and numbers only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from litestar import Controller, get
from litestar.params import FromPath, FromQuery
from litestar.response import Response

from app.auth.models import Role
from app.auth.principal import requires
from app.clock import utcnow
from app.deps import Db, Me
from app.exceptions import NotFound
from app.reports import dashboard, exports, periods
from app.reports.district import build
from app.reports.tables import Words

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal
    from app.reports.tables import Report

Lang = Literal["zh", "en"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_SUFFIX = ".csv"


def _download(data: bytes, media_type: str, name: str) -> Response[bytes]:
    return Response(
        data,
        media_type=media_type,
        headers={
            "Content-Disposition": (
                f'attachment; filename="{name.encode("ascii", "replace").decode()}";'
                f" filename*=UTF-8''{quote(name, safe='')}"
            ),
            "Cache-Control": "no-store",
        },
    )


async def _report(db: AsyncSession, me: Principal, period: str | None, where: str | None) -> Report:
    chosen = periods.parse(period) if period else periods.this_month()
    return await build(db, me, chosen, where)


class ReportController(Controller):
    """``/reports``: a district's (or the city's) monthly or quarterly report and its files."""

    path = "/reports"
    tags = ["reports"]  # noqa: RUF012
    guards = [requires(Role.REGULATOR, Role.OPERATOR)]  # noqa: RUF012

    @get("/district")
    async def report(
        self,
        db: Db,
        me: Me,
        period: FromQuery[str | None] = None,
        district: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        """The report of ``period`` (``2026-11``, ``2026-Q4``; this month by default).

        A district regulator's is her district (another is 404); the city's regulators and
        the operator get the city, or the ``district`` they name.
        """
        return exports.as_json(await _report(db, me, period, district))

    @get("/district.xlsx", media_type=XLSX)
    async def workbook(
        self,
        db: Db,
        me: Me,
        period: FromQuery[str | None] = None,
        district: FromQuery[str | None] = None,
        lang: FromQuery[Lang] = "zh",
    ) -> Response[bytes]:
        """The report as a workbook: the key figures, then a sheet a table."""
        report = await _report(db, me, period, district)
        data = exports.xlsx_bytes(report, Words(lang, report.industries))
        return _download(data, XLSX, exports.filename(report, "xlsx"))

    @get("/district.pdf", media_type="application/pdf")
    async def printout(
        self,
        db: Db,
        me: Me,
        period: FromQuery[str | None] = None,
        district: FromQuery[str | None] = None,
        lang: FromQuery[Lang] = "zh",
    ) -> Response[bytes]:
        """The report as an A4 PDF to print, with its charts."""
        report = await _report(db, me, period, district)
        data = exports.pdf_bytes(report, Words(lang, report.industries))
        return _download(data, "application/pdf", exports.filename(report, "pdf"))

    @get("/dashboard/{name:str}", media_type="text/csv")
    async def dashboard_csv(
        self,
        db: Db,
        me: Me,
        name: FromPath[str],
        district: FromQuery[str | None] = None,
        industry: FromQuery[str | None] = None,
        grade: FromQuery[list[str] | None] = None,
        lang: FromQuery[Lang] = "zh",
    ) -> Response[bytes]:
        """A dashboard table as CSV (``merchants.csv``, ``matrix.csv``, ``hot_spots.csv``).

        The dashboard's filters apply, as on the page.
        """
        if not name.endswith(CSV_SUFFIX):
            raise NotFound("report-table-not-found")
        filters = dashboard.Filters(
            district=district or None,
            industry=industry or None,
            grades=tuple(g for g in grade or [] if g),
        )
        table = await dashboard.table(db, me, name.removesuffix(CSV_SUFFIX), filters, utcnow())
        names = await dashboard.industry_names(db)
        data = exports.csv_bytes(table, Words(lang, names))
        return _download(data, "text/csv; charset=utf-8", name)
