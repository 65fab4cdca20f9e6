"""The warning rules, each run inside the transaction of the change it watches.

* grade falls to D or E, or by two grades or more (a rating change);
* complaint surge: complaints of the last 7 days far above the merchant's own weekly baseline;
* sales surge, or a discount deeper than the threshold (the pattern before a vanishing);
* custody shortfall found by reconciliation;
* a new hard-override record (dishonest debtor, licence revoked, deregistration filed,
  abnormal operations list);
* the exit path: capital reduction, equity transfer and a new legal representative within
  180 days;
* a merchant that cannot be rated (its grade goes stale).

Each names its cause precisely (``cause_key``) so that nothing is raised twice for one cause.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from app.clock import today
from app.risk.queue import request_rerate
from app.settings import get_settings
from app.supervision.models import Dispute, WarningRule
from app.supervision.warnings import raise_warning
from scoring import GRADES

if TYPE_CHECKING:
    import uuid
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession


BASELINE_WEEKS = 12


async def on_rating_change(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    *,
    before: str | None,
    after: str,
    change_id: str,
    evidence: dict[str, Any],
) -> None:
    """Grade fell to D or E, or by two grades or more."""
    if after not in GRADES or (before is not None and before not in GRADES):
        return
    if before is None:
        # A first rating already at D or E is news for the regulator too.
        if after not in ("D", "E"):
            return
    else:
        drop = GRADES.index(after) - GRADES.index(before)
        if drop <= 0 or (after not in ("D", "E") and drop < 2):  # noqa: PLR2004
            return
    await raise_warning(
        session,
        merchant_id,
        WarningRule.GRADE_DROP,
        f"rating-change:{change_id}",
        f"grade fell from {before} to {after}" if before else f"first rated {after}",
        {"from": before, "to": after, **evidence},
    )


async def complaint_counts(
    session: AsyncSession, merchant_id: uuid.UUID, now: datetime
) -> tuple[int, int, float]:
    """Complaints (disputes filed) in the last 7 and 30 days, and the weekly baseline before."""
    filed = select(func.count()).where(Dispute.merchant_id == merchant_id)
    last_7 = int(
        await session.scalar(filed.where(Dispute.filed_at >= now - timedelta(days=7))) or 0
    )
    last_30 = int(
        await session.scalar(filed.where(Dispute.filed_at >= now - timedelta(days=30))) or 0
    )
    earlier = int(
        await session.scalar(
            filed.where(
                Dispute.filed_at < now - timedelta(days=7),
                Dispute.filed_at >= now - timedelta(days=7 * (BASELINE_WEEKS + 1)),
            )
        )
        or 0
    )
    return last_7, last_30, earlier / BASELINE_WEEKS


async def on_complaint(
    session: AsyncSession, merchant_id: uuid.UUID, now: datetime, *, dispute_id: str
) -> None:
    """A complaint was filed: refresh the complaint indicators, re-rate, check for a surge."""
    from app.risk.service import record_platform_figures  # noqa: PLC0415 - avoids a cycle

    last_7, last_30, baseline = await complaint_counts(session, merchant_id, now)
    await record_platform_figures(
        session,
        merchant_id,
        "complaints",
        {"count_7d": float(last_7), "count_30d": float(last_30)},
        now,
    )
    await request_rerate(session, merchant_id, "complaint filed", dispute_id)
    limits = get_settings().warnings
    if last_7 >= limits.complaint_surge_minimum and last_7 >= limits.complaint_surge_factor * max(
        baseline, 1.0
    ):
        week = today(now).isocalendar()
        await raise_warning(
            session,
            merchant_id,
            WarningRule.COMPLAINT_SURGE,
            f"week:{week.year}-W{week.week:02d}",
            f"{last_7} complaints in 7 days (weekly baseline {baseline:.1f})",
            {"last_7_days": last_7, "last_30_days": last_30, "weekly_baseline": baseline},
            once_while_open=True,
        )


async def on_sales_figures(
    session: AsyncSession, merchant_id: uuid.UUID, figures: dict[str, float], now: datetime
) -> None:
    """Today's sales snapshot: a surge or a deep discount raises a warning (once a day)."""
    limits = get_settings().warnings
    day = today(now).isoformat()
    surge = figures.get("surge_pct")
    if surge is not None and surge >= limits.sales_surge_pct:
        await raise_warning(
            session,
            merchant_id,
            WarningRule.SALES_SURGE,
            f"day:{day}",
            f"prepaid sales {surge:.0f}% above the usual",
            {"surge_pct": surge, "threshold_pct": limits.sales_surge_pct},
            once_while_open=True,
        )
    discount = figures.get("max_discount_pct")
    if discount is not None and discount > limits.deep_discount_pct:
        await raise_warning(
            session,
            merchant_id,
            WarningRule.DEEP_DISCOUNT,
            f"discount:{discount:.2f}",
            f"cards sold at {discount:.0f}% off",
            {"max_discount_pct": discount, "threshold_pct": limits.deep_discount_pct},
            once_while_open=True,
        )


OVERRIDE_KINDS = {
    ("court", "dishonest_debtor"): "listed as a dishonest debtor (失信)",
    ("registration", "licence_revoked"): "business licence revoked",
    ("registration", "deregistration_filed"): "deregistration filed",
    ("registration", "abnormal_operations"): "put on the abnormal operations list (经营异常)",
}


async def on_record(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    *,
    record_id: int,
    source: str,
    kind: str,
    value: object,
    as_of: str,
) -> None:
    """A new record that is a hard override raises a warning with the record as evidence."""
    title = OVERRIDE_KINDS.get((source, kind))
    if title is None or value is not True:
        return
    await raise_warning(
        session,
        merchant_id,
        WarningRule.HARD_OVERRIDE,
        f"record:{record_id}",
        title,
        {"record": record_id, "source": source, "kind": kind, "as_of": as_of},
    )


async def on_exit_pattern(
    session: AsyncSession, merchant_id: uuid.UUID, steps: list[dict[str, Any]]
) -> None:
    """Capital cut, equity transfer and a new legal representative within 180 days.

    The path owners take before a merchant vanishes; the three records are the evidence, and
    the same three never raise it twice.
    """
    await raise_warning(
        session,
        merchant_id,
        WarningRule.EXIT_PATTERN,
        "records:" + ",".join(sorted(str(step["record"]) for step in steps)),
        "capital reduction, equity transfer and a new legal representative within 180 days",
        {"steps": steps, "window_days": 180},
    )


async def on_rating_failure(
    session: AsyncSession, merchant_id: uuid.UUID, *, since: datetime, error: str, attempts: int
) -> None:
    """A merchant could not be rated: its grade is stale until someone mends its data."""
    await raise_warning(
        session,
        merchant_id,
        WarningRule.RATING_FAILED,
        f"failed-since:{since.isoformat()}",
        "the merchant could not be rated; its grade is out of date",
        {"error": error, "attempts": attempts, "since": since.isoformat()},
        once_while_open=True,
    )


async def on_shortfall(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    *,
    statement_id: str,
    shortfall: int,
    evidence: dict[str, Any],
) -> None:
    """Reconciliation found less in custody than the ledger holds."""
    await raise_warning(
        session,
        merchant_id,
        WarningRule.CUSTODY_SHORTFALL,
        f"statement:{statement_id}",
        f"custody shortfall of ¥{shortfall / 100:,.2f}",
        {"shortfall_fen": shortfall, **evidence},
    )
