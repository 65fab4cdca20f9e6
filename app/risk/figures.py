"""The platform's own indicators: today's sales and complaint figures, kept as records.

A rating reads them like any bureau's records. They are written as one snapshot per merchant,
kind and day, updated in place during the day; the formulas are :mod:`scoring.platform`'s,
the complaint counts :mod:`app.risk.complaints`'.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import any_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

import escrow
from app.arrays import uuids
from app.clock import today
from app.events import publish
from app.risk.complaints import ComplaintCounts, complaint_counts
from app.risk.events import SalesFiguresRecorded
from app.risk.models import IndicatorRecord
from scoring import Indicator, Source
from scoring.intake import fingerprint, stored_value
from scoring.platform import discount_pct, outstanding_to_revenue, surge_pct

if TYPE_CHECKING:
    import uuid
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

COMPLAINTS = "complaints"
SALES = "sales"

_SALES = text("""
    SELECT merchant_id,
           coalesce(sum(amount) FILTER (WHERE paid_at >= :now - interval '30 days'), 0)::bigint
             AS last_30,
           coalesce(sum(amount) FILTER (WHERE paid_at < :now - interval '30 days'), 0)::bigint
             AS before,
           coalesce(sum(amount) FILTER (WHERE paid_at >= :now - interval '90 days'), 0)::bigint
             AS last_90
      FROM orders
     WHERE merchant_id = ANY(:ids) AND status = 'paid'
       AND paid_at >= :now - interval '120 days'
     GROUP BY merchant_id
""")
"""Sums of fen are whole numbers: cast back from ``numeric`` so Python sees ints, not Decimals."""

_DISCOUNT = text("""
    SELECT merchant_id, max((units - price) * 100.0 / units) AS deepest
      FROM products
     WHERE merchant_id = ANY(:ids) AND status = 'active' AND kind = 'stored_value'
     GROUP BY merchant_id
""")


async def refresh_sales(
    session: AsyncSession, merchant_ids: Sequence[uuid.UUID], now: datetime
) -> int:
    """Today's platform sales indicators for these merchants, from orders, products and ledger.

    * ``surge_pct``: card sales of the last 30 days against the monthly mean of the 90 before;
    * ``max_discount_pct``: the deepest discount of a stored-value card now on sale;
    * ``outstanding_to_revenue``: unredeemed balances against the last 90 days' card sales.

    A figure with nothing to compare against is left out (missing), never written as zero
    (:mod:`scoring.platform`). The complaint counts are refreshed too, so a quiet week brings
    them back to zero. One query per figure for the whole batch; each merchant's sales
    snapshot is published (:class:`SalesFiguresRecorded`) as it is written. Returns how many
    snapshot records were written.
    """
    ids = list(merchant_ids)
    figures: dict[tuple[uuid.UUID, str], float] = {}
    sales = (await session.execute(_SALES, {"ids": ids, "now": now})).all()
    for merchant_id, last_30, before, _ in sales:
        if (surge := surge_pct(last_30, before)) is not None:
            figures[merchant_id, "surge_pct"] = surge
    for merchant_id, deepest in await session.execute(_DISCOUNT, {"ids": ids}):
        figures[merchant_id, "max_discount_pct"] = discount_pct(deepest)
    revenue = {m: int(last_90) for m, _, _, last_90 in sales}
    for merchant_id, held in (await escrow.outstanding(session, ids)).items():
        ratio = outstanding_to_revenue(held, revenue.get(merchant_id, 0))
        if ratio is not None:
            figures[merchant_id, "outstanding_to_revenue"] = ratio
    written = await _refresh_complaints(session, ids, now)
    by_merchant: dict[uuid.UUID, dict[str, float]] = {}
    for (merchant_id, kind), value in figures.items():
        by_merchant.setdefault(merchant_id, {})[kind] = value
    for merchant_id, values in sorted(by_merchant.items()):
        written += await record_platform_figures(session, merchant_id, SALES, values, now)
        await publish(session, SalesFiguresRecorded(merchant_id, values, now))
    return written


async def _refresh_complaints(
    session: AsyncSession, merchant_ids: list[uuid.UUID], now: datetime
) -> int:
    """Complaint counts for merchants with recent complaints or an earlier count to bring down.

    The source condition lets ``ix_indicator_records_latest`` find the earlier counts; by
    provenance alone PostgreSQL reads every record of the batch's merchants.
    """
    counts = await complaint_counts(session, merchant_ids, now)
    counted_before = set(
        await session.scalars(
            select(IndicatorRecord.merchant_id)
            .where(
                IndicatorRecord.merchant_id == any_(uuids(merchant_ids)),
                IndicatorRecord.source == COMPLAINTS,
                IndicatorRecord.provenance == f"platform:{COMPLAINTS}",
            )
            .distinct()
        )
    )
    written = 0
    for merchant_id in sorted(counts.keys() | counted_before):
        found = counts.get(merchant_id, ComplaintCounts())
        written += await record_platform_figures(
            session, merchant_id, COMPLAINTS, found.figures(), now
        )
    return written


async def record_complaints(
    session: AsyncSession, merchant_id: uuid.UUID, now: datetime
) -> ComplaintCounts:
    """Refresh one merchant's complaint indicators now (a complaint was just filed)."""
    counts = (await complaint_counts(session, [merchant_id], now)).get(
        merchant_id, ComplaintCounts()
    )
    await record_platform_figures(session, merchant_id, COMPLAINTS, counts.figures(), now)
    return counts


async def record_platform_figures(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    source: str,
    figures: Mapping[str, float],
    now: datetime,
) -> int:
    """Write today's snapshot of figures the platform computes itself (sales, complaints).

    One record per merchant, kind and day, updated in place during the day (its fingerprint
    leaves the value out); provenance ``platform:<source>``.
    """
    if not figures:
        return 0
    as_of = today(now)
    provenance = f"platform:{source}"
    rows = []
    for kind, value in figures.items():
        record = Indicator(str(merchant_id), Source(source), kind, value, as_of, provenance)
        rows.append(
            {
                "merchant_id": merchant_id,
                "source": source,
                "kind": kind,
                "value": stored_value(value),
                "as_of": as_of,
                "provenance": provenance,
                "fingerprint": fingerprint(record, snapshot=True),
                "received_at": now,
            }
        )
    stmt = pg_insert(IndicatorRecord).values(rows)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["merchant_id", "fingerprint"],
            set_={"value": stmt.excluded.value, "received_at": stmt.excluded.received_at},
        )
    )
    return len(rows)
