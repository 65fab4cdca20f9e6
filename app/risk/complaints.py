"""Complaints counted in one place: disputes filed and 12345 calls, per merchant and window.

Every count of complaints is made here: :func:`complaint_counts` for the complaint indicators a
rating reads (``complaints/count_7d`` and ``count_30d``, refreshed with every rating and on
every new complaint), :func:`complaints_filed` for the surge rule's weekly baseline, the
regulator's dashboard and the figure a consumer sees on a merchant's page. A complaint is a
row of the ``disputes`` table, counted on the day it was filed whatever became of it, or a
12345 hotline ticket matched to the merchant, counted on the day the hotline received it
(``hotline_tickets``, ``app.cases.hotline``). The tables are read by name: the complaint desk
(``app.supervision``) and the cases depend on ratings, so ratings do not import them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import text

from app.arrays import Uuids
from scoring.platform import complaint_figures

if TYPE_CHECKING:
    import uuid
    from collections.abc import Collection
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

COMPLAINTS_SQL = """(
    SELECT merchant_id, filed_at FROM disputes
    UNION ALL
    SELECT merchant_id, received_at FROM hotline_tickets WHERE merchant_id IS NOT NULL
)"""
"""Every complaint as (merchant_id, filed_at): disputes and matched hotline tickets."""

_FILED = text(f"""
    SELECT c.merchant_id, count(*)
      FROM {COMPLAINTS_SQL} AS c
     WHERE c.merchant_id = ANY(CAST(:ids AS uuid[])) AND c.filed_at >= :since
       AND (CAST(:before AS timestamptz) IS NULL OR c.filed_at < CAST(:before AS timestamptz))
     GROUP BY c.merchant_id
""")  # noqa: S608 - the interpolated part is a constant of this module


async def complaints_filed(
    session: AsyncSession,
    merchant_ids: Collection[uuid.UUID],
    *,
    since: datetime,
    before: datetime | None = None,
) -> dict[uuid.UUID, int]:
    """Complaints filed against each merchant from ``since`` (and before ``before``, if given).

    Merchants with none are absent from the answer.
    """
    if not merchant_ids:
        return {}
    found = await session.execute(
        _FILED, {"ids": Uuids.of(merchant_ids), "since": since, "before": before}
    )
    return {merchant_id: int(count) for merchant_id, count in found}


@dataclass(frozen=True)
class ComplaintCounts:
    """A merchant's complaints of the last 7 and 30 days: its complaint indicators."""

    last_7: int = 0
    last_30: int = 0

    def figures(self) -> dict[str, float]:
        """The ``complaints`` records these counts become."""
        return complaint_figures(self.last_7, self.last_30)


COUNTS_SQL = f"""
    SELECT merchant_id, count(*) FILTER (WHERE filed_at >= :now - interval '7 days') AS last_7,
           count(*) AS last_30
      FROM {COMPLAINTS_SQL} AS complaints
     WHERE merchant_id = ANY(CAST(:ids AS uuid[])) AND filed_at >= :now - interval '30 days'
     GROUP BY merchant_id
"""  # noqa: S608 - the interpolated part is a constant of this module
"""Each merchant's complaints of the last 7 and 30 days (``:ids``, ``:now``); the batch's
sales figures read them in the same statement (:mod:`app.risk.figures`)."""
_COUNTS = text(COUNTS_SQL)


async def complaint_counts(
    session: AsyncSession, merchant_ids: Collection[uuid.UUID], now: datetime
) -> dict[uuid.UUID, ComplaintCounts]:
    """Each merchant's complaints of the last 7 and 30 days (those with none are absent).

    Both windows in one constant statement: it runs with every rating.
    """
    if not merchant_ids:
        return {}
    found = await session.execute(_COUNTS, {"ids": Uuids.of(merchant_ids), "now": now})
    return {m: ComplaintCounts(int(last_7), int(last_30)) for m, last_7, last_30 in found}


async def weekly_baseline(
    session: AsyncSession, merchant_id: uuid.UUID, now: datetime, *, weeks: int
) -> float:
    """The merchant's mean complaints a week over the ``weeks`` before the last 7 days."""
    earlier = await complaints_filed(
        session,
        [merchant_id],
        since=now - timedelta(days=7 * (weeks + 1)),
        before=now - timedelta(days=7),
    )
    return earlier.get(merchant_id, 0) / weeks
