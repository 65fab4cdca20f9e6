"""How each department and street office handles its cases: received, closed, on time, speed.

A department *receives* a task when a case is routed or handed to it, and *closes* it with
its finding; a task handed on counts as received, not closed. A street office receives the
cases on the merchants of its street and closes them when they are resolved. *On time* is
closed at or before the deadline (a street office's case: every task's); days to close are
calendar days from receipt to closing, their median over the tasks closed in the period.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

_DEPARTMENTS = text("""
    SELECT o.id, o.kind, o.code, o.name_zh, o.name_en, o.district,
           count(t.id) FILTER (WHERE t.created_at >= :since AND t.created_at < :until)
             AS received,
           coalesce(array_agg(EXTRACT(EPOCH FROM t.done_at - t.created_at) / 86400.0)
             FILTER (WHERE t.status = 'done' AND t.done_at >= :since AND t.done_at < :until),
             '{}') AS closed_days,
           count(t.id) FILTER (WHERE t.status = 'done' AND t.done_at >= :since
                                 AND t.done_at < :until AND t.done_at <= t.deadline_at)
             AS on_time,
           count(t.id) FILTER (WHERE t.status = 'open') AS open_now
      FROM organisations o
      LEFT JOIN case_tasks t ON t.organisation_id = o.id
     WHERE o.kind = 'department' AND (CAST(:district AS text) IS NULL OR o.district = :district)
     GROUP BY o.id
""")

_STREETS = text("""
    SELECT o.id, o.kind, o.code, o.name_zh, o.name_en, o.district,
           count(c.id) FILTER (WHERE c.opened_at >= :since AND c.opened_at < :until) AS received,
           coalesce(array_agg(EXTRACT(EPOCH FROM c.resolved_at - c.opened_at) / 86400.0)
             FILTER (WHERE c.resolved_at >= :since AND c.resolved_at < :until), '{}')
             AS closed_days,
           count(c.id) FILTER (WHERE c.resolved_at >= :since AND c.resolved_at < :until
             AND NOT EXISTS (SELECT 1 FROM case_tasks t WHERE t.case_id = c.id
                              AND t.status = 'done' AND t.done_at > t.deadline_at)) AS on_time,
           count(c.id) FILTER (WHERE c.status = 'open') AS open_now
      FROM organisations o
      LEFT JOIN merchants m ON m.street_id = o.id
      LEFT JOIN cases c ON c.merchant_id = m.id
     WHERE o.kind = 'street' AND (CAST(:district AS text) IS NULL OR o.district = :district)
     GROUP BY o.id
""")


@dataclass(frozen=True)
class Kpi:
    """One organisation's figures for a period."""

    code: str
    kind: str
    name_zh: str
    name_en: str
    district: str
    received: int
    closed: int
    on_time: int
    open_now: int
    median_days: float | None

    @property
    def on_time_share(self) -> float | None:
        """办结率: the share of the tasks closed in the period that were closed on time."""
        return None if not self.closed else self.on_time / self.closed


async def kpis(
    session: AsyncSession, district: str | None, since: datetime, until: datetime
) -> list[Kpi]:
    """Every department's and street office's figures in ``district`` (all for ``None``)."""
    found = []
    params = {"district": district, "since": since, "until": until}
    for query in (_DEPARTMENTS, _STREETS):
        for row in await session.execute(query, params):
            days = [float(d) for d in row.closed_days]
            found.append(
                Kpi(
                    code=row.code,
                    kind=row.kind,
                    name_zh=row.name_zh,
                    name_en=row.name_en,
                    district=row.district,
                    received=int(row.received),
                    closed=len(days),
                    on_time=int(row.on_time),
                    open_now=int(row.open_now),
                    median_days=round(statistics.median(days), 1) if days else None,
                )
            )
    return sorted(found, key=lambda k: (k.district, k.kind, k.code))
