"""The dashboard's tables, each also a CSV: merchants, the district × industry matrix, hot spots.

Every table honours the dashboard's filters (district, industry, grades) within the caller's
reach, through the same use cases the merchant list reads (:func:`app.risk.supervision.
rated_merchants`), so a CSV holds what the page shows. Hot spots are industries whose
complaints rose: filed in the last 30 days against the 30 days before.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

import escrow
from app.exceptions import NotFound
from app.merchants.service import industries
from app.reports.tables import Cell, Column, Kind, Table, change_bp
from app.risk import supervision
from app.risk.complaints import complaints_filed

if TYPE_CHECKING:
    import uuid
    from collections.abc import Sequence
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal
    from app.merchants.models import Merchant
    from app.risk.models import Rating

MAX_MERCHANTS = 10_000
"""The merchants a CSV lists at most, riskiest first (the page shows the first 500)."""
WINDOW = timedelta(days=30)
"""Complaints are counted over the last 30 days, and hot spots compare the 30 before."""
TABLES = ("merchants", "matrix", "hot_spots")
"""The dashboard's tables, by the name of their CSV file."""


@dataclass(frozen=True)
class Filters:
    """The dashboard's filters, as the page's form and the CSV links carry them."""

    district: str | None = None
    industry: str | None = None
    grades: tuple[str, ...] = ()


async def industry_names(session: AsyncSession) -> dict[str, tuple[str, str]]:
    """Each industry's names (Chinese, English), by code."""
    return {i.code: (i.name_zh, i.name_en) for i in await industries(session)}


async def _rows(
    session: AsyncSession, me: Principal, filters: Filters, limit: int
) -> Sequence[tuple[Merchant, Rating | None]]:
    return await supervision.rated_merchants(
        session,
        me,
        grades=supervision.check_grades(filters.grades),
        district=filters.district,
        industry=filters.industry,
        limit=limit,
        offset=0,
    )


async def merchants(
    session: AsyncSession, me: Principal, filters: Filters, limit: int = MAX_MERCHANTS
) -> Table:
    """The merchants of the filtered set, worst grade first, with what they owe consumers."""
    rows = await _rows(session, me, filters, limit)
    held = await escrow.outstanding(session, [m.id for m, _ in rows])
    return Table(
        "merchants",
        (
            Column("merchant", Kind.TEXT),
            Column("uscc", Kind.TEXT),
            Column("grade", Kind.GRADE),
            Column("probability", Kind.PROBABILITY),
            Column("outstanding_fen", Kind.FEN),
            Column("status", Kind.CODE, "r_mstatus_"),
            Column("district", Kind.TEXT),
            Column("industry", Kind.INDUSTRY),
        ),
        tuple(
            (
                m.legal_name,
                m.uscc,
                r.grade if r else supervision.UNRATED,
                r.probability if r else None,
                held.get(m.id, 0),
                m.status,
                m.district,
                m.industry,
            )
            for m, r in rows
        ),
        (None, None, None, None, sum(held.values()), None, None, None),
    )


async def matrix(session: AsyncSession, me: Principal, filters: Filters, now: datetime) -> Table:
    """Merchants, money owed and complaints of the last 30 days per district and industry.

    One row a (district, industry) pair that has merchants; the page lays it out as a grid.
    """
    rows = await _rows(session, me, filters, MAX_MERCHANTS)
    ids = [m.id for m, _ in rows]
    held = await escrow.outstanding(session, ids)
    complaints = await complaints_filed(session, ids, since=now - WINDOW)
    cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for m, _ in rows:
        cell = cells[m.district, m.industry]
        cell[0] += 1
        cell[1] += held.get(m.id, 0)
        cell[2] += complaints.get(m.id, 0)
    found: tuple[tuple[Cell, ...], ...] = tuple((d, i, *cells[d, i]) for d, i in sorted(cells))
    return Table(
        "matrix",
        (
            Column("district", Kind.TEXT),
            Column("industry", Kind.INDUSTRY),
            Column("merchants", Kind.COUNT),
            Column("outstanding_fen", Kind.FEN),
            Column("complaints_30d", Kind.COUNT),
        ),
        found,
        (None, None, *(sum(int(row[i] or 0) for row in found) for i in (2, 3, 4))),
    )


async def hot_spots(session: AsyncSession, me: Principal, filters: Filters, now: datetime) -> Table:
    """Industries whose complaints rose: the last 30 days against the 30 before, most first."""
    rows = await _rows(session, me, filters, MAX_MERCHANTS)
    industry_of: dict[uuid.UUID, str] = {m.id: m.industry for m, _ in rows}
    ids = list(industry_of)
    recent = await complaints_filed(session, ids, since=now - WINDOW)
    earlier = await complaints_filed(session, ids, since=now - 2 * WINDOW, before=now - WINDOW)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for merchant_id, n in recent.items():
        counts[industry_of[merchant_id]][0] += n
    for merchant_id, n in earlier.items():
        counts[industry_of[merchant_id]][1] += n
    rising = sorted(
        ((code, now_n, then_n) for code, (now_n, then_n) in counts.items() if now_n > then_n),
        key=lambda row: (row[2] - row[1], row[0]),
    )
    return Table(
        "hot_spots",
        (
            Column("industry", Kind.INDUSTRY),
            Column("complaints_30d", Kind.COUNT),
            Column("complaints_before", Kind.COUNT),
            Column("complaints_change", Kind.CHANGE),
        ),
        tuple((code, n, m, change_bp(n, m)) for code, n, m in rising),
    )


async def table(
    session: AsyncSession, me: Principal, name: str, filters: Filters, now: datetime
) -> Table:
    """The dashboard's table ``name`` (:data:`TABLES`); another name is not found."""
    if name == "merchants":
        return await merchants(session, me, filters)
    if name == "matrix":
        return await matrix(session, me, filters, now)
    if name == "hot_spots":
        return await hot_spots(session, me, filters, now)
    raise NotFound("report-table-not-found")


@dataclass(frozen=True)
class Grid:
    """The matrix laid out: districts down, industries across, each cell's figures."""

    districts: list[str]
    industries: list[str]
    cells: dict[tuple[str, str], tuple[Cell, ...]] = field(default_factory=dict)
    by_district: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Merchants and money owed, per district."""
    by_industry: dict[str, tuple[int, int]] = field(default_factory=dict)
    total: tuple[int, int] = (0, 0)


def grid(found: Table) -> Grid:
    """The matrix table as a grid (merchants and money owed per cell, row and column)."""
    districts = sorted({str(row[0]) for row in found.rows})
    industries = sorted({str(row[1]) for row in found.rows})
    by_district: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_industry: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    cells: dict[tuple[str, str], tuple[Cell, ...]] = {}
    for row in found.rows:
        district, industry = str(row[0]), str(row[1])
        count, fen = int(row[2] or 0), int(row[3] or 0)
        cells[district, industry] = row[2:]
        for sums in (by_district[district], by_industry[industry]):
            sums[0] += count
            sums[1] += fen
    return Grid(
        districts,
        industries,
        cells,
        {k: (v[0], v[1]) for k, v in by_district.items()},
        {k: (v[0], v[1]) for k, v in by_industry.items()},
        (sum(v[0] for v in by_district.values()), sum(v[1] for v in by_district.values())),
    )
