"""The platform's own indicators: today's sales and complaint figures, kept as records.

A rating reads them like any bureau's records. They are written as one snapshot per merchant,
kind and day, updated in place during the day; the formulas are :mod:`scoring.platform`'s,
the complaint counts :mod:`app.risk.complaints`'.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

import escrow
from app.arrays import Uuids
from app.clock import today
from app.events import publish
from app.risk.complaints import COUNTS_SQL, ComplaintCounts, complaint_counts
from app.risk.events import SalesFiguresRecorded
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

_FIGURES = text(
    """
    WITH sales AS (
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
    ), discount AS (
      SELECT merchant_id, max((units - price) * 100.0 / units) AS deepest
        FROM products
       WHERE merchant_id = ANY(:ids) AND status = 'active' AND kind = 'stored_value'
       GROUP BY merchant_id
    ), complaints AS ("""  # noqa: S608 - module constants, no input
    + COUNTS_SQL
    + "), held AS ("
    + escrow.OUTSTANDING_SQL
    + f"""), counted AS (
      SELECT DISTINCT merchant_id
        FROM indicator_records
       WHERE merchant_id = ANY(:ids) AND source = '{COMPLAINTS}'
         AND provenance = 'platform:{COMPLAINTS}'
    )
    SELECT merchant_id, sales.last_30, sales.before, sales.last_90, discount.deepest,
           counted.merchant_id IS NOT NULL AS counted_before,
           complaints.last_7 AS complaints_7, complaints.last_30 AS complaints_30,
           held.outstanding
      FROM sales FULL JOIN discount USING (merchant_id) FULL JOIN counted USING (merchant_id)
      FULL JOIN complaints USING (merchant_id) FULL JOIN held USING (merchant_id)
"""  # noqa: S608 - module constants, no input
)
"""What the platform's sales figures are computed from, for a batch in one statement: card
sales of the last 120 days, the deepest discount on sale, the complaints of the last 7 and 30
days (:data:`app.risk.complaints.COUNTS_SQL`), what consumers could ask back
(:data:`escrow.OUTSTANDING_SQL`), and whether the merchant has a complaint count on record (a
quiet week must bring it back to zero).

The earlier counts are found in ``ix_indicator_records_platform_complaints``, a partial index
of the platform's own complaint records (its condition written as constants, so that generic
plans use it too); through the records' main index PostgreSQL would read every complaint
record of the batch from the table to check its provenance. Sums of fen are whole
numbers: cast back from ``numeric`` so Python sees ints, not Decimals."""


async def refresh_sales(
    session: AsyncSession, merchant_ids: Sequence[uuid.UUID], now: datetime
) -> int:
    """Today's platform sales indicators for these merchants, from orders, products and ledger.

    * ``surge_pct``: card sales of the last 30 days against the monthly mean of the 90 before;
    * ``max_discount_pct``: the deepest discount of a stored-value card now on sale;
    * ``outstanding_to_revenue``: unredeemed balances against the last 90 days' card sales.

    A figure with nothing to compare against is left out (missing), never written as zero
    (:mod:`scoring.platform`). The complaint counts are refreshed too, so a quiet week brings
    them back to zero. A batch costs two statements, whatever its size: the figures above
    with the complaint counts and the ledger's outstanding balances, and one upsert of every
    snapshot record; each merchant's sales snapshot is then published
    (:class:`SalesFiguresRecorded`). Returns how many snapshot records were written.
    """
    ids = Uuids.of(merchant_ids)
    found = _Found.of((await session.execute(_FIGURES, {"ids": ids, "now": now})).all())
    sales, revenue, counts = found.sales, found.revenue, found.counts
    counted_before = found.counted_before
    for merchant_id, held in found.outstanding.items():
        ratio = outstanding_to_revenue(held, revenue.get(merchant_id, 0))
        if ratio is not None:
            sales.setdefault(merchant_id, {})["outstanding_to_revenue"] = ratio
    rows = [
        row
        for merchant_id in sorted(counts.keys() | counted_before)
        for row in _snapshot(
            merchant_id, COMPLAINTS, counts.get(merchant_id, ComplaintCounts()).figures(), now
        )
    ]
    rows += [row for m in sorted(sales) for row in _snapshot(m, SALES, sales[m], now)]
    await _upsert(session, rows, now)
    for merchant_id in sorted(sales):
        await publish(session, SalesFiguresRecorded(merchant_id, sales[merchant_id], now))
    return len(rows)


@dataclass
class _Found:
    """What ``_FIGURES`` found, per merchant."""

    sales: dict[uuid.UUID, dict[str, float]] = field(default_factory=dict)
    revenue: dict[uuid.UUID, int] = field(default_factory=dict)
    counts: dict[uuid.UUID, ComplaintCounts] = field(default_factory=dict)
    counted_before: set[uuid.UUID] = field(default_factory=set)
    outstanding: dict[uuid.UUID, int] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: Sequence[Any]) -> _Found:
        found = cls()
        for merchant_id, last_30, before, last_90, deepest, counted, *complaints, held in rows:
            last_7d, last_30d = complaints
            if held is not None:
                found.outstanding[merchant_id] = int(held)
            if last_30d is not None:
                found.counts[merchant_id] = ComplaintCounts(int(last_7d), int(last_30d))
            figures: dict[str, float] = {}
            if last_30 is not None:
                found.revenue[merchant_id] = int(last_90)
                if (surge := surge_pct(last_30, before)) is not None:
                    figures["surge_pct"] = surge
            if deepest is not None:
                figures["max_discount_pct"] = discount_pct(deepest)
            if counted:
                found.counted_before.add(merchant_id)
            if figures:
                found.sales[merchant_id] = figures
        return found


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
    rows = _snapshot(merchant_id, source, figures, now)
    await _upsert(session, rows, now)
    return len(rows)


def _snapshot(
    merchant_id: uuid.UUID, source: str, figures: Mapping[str, float], now: datetime
) -> list[tuple[Any, ...]]:
    """The records of one merchant's snapshot of one source, as ``_UPSERT`` takes them."""
    as_of = today(now)
    provenance = f"platform:{source}"
    rows = []
    for kind, value in figures.items():
        record = Indicator(str(merchant_id), Source(source), kind, value, as_of, provenance)
        shown = json.dumps(stored_value(value))
        rows.append(
            (
                merchant_id,
                source,
                kind,
                shown,
                as_of,
                provenance,
                fingerprint(record, snapshot=True),
            )
        )
    return rows


_UPSERT = text("""
    INSERT INTO indicator_records (merchant_id, source, kind, value, as_of, provenance,
                                   fingerprint, received_at)
    SELECT merchant_id, source, kind, value, as_of, provenance, fingerprint, :now
      FROM unnest(CAST(:merchant_id AS uuid[]), CAST(:source AS text[]), CAST(:kind AS text[]),
                  CAST(:value AS jsonb[]), CAST(:as_of AS date[]), CAST(:provenance AS text[]),
                  CAST(:fingerprint AS bytea[]))
           AS r(merchant_id, source, kind, value, as_of, provenance, fingerprint)
    ON CONFLICT (merchant_id, fingerprint)
    DO UPDATE SET value = excluded.value, received_at = excluded.received_at
""")
"""Snapshot records in, or today's updated in place: one statement and seven array parameters,
however many merchants (a multi-row VALUES would run into PostgreSQL's 65,535 parameters)."""


async def _upsert(session: AsyncSession, rows: list[tuple[Any, ...]], now: datetime) -> None:
    if not rows:
        return
    columns = ("merchant_id", "source", "kind", "value", "as_of", "provenance", "fingerprint")
    params: dict[str, Any] = {
        name: list(values) for name, values in zip(columns, zip(*rows, strict=True), strict=True)
    }
    await session.execute(_UPSERT, {**params, "now": now})
