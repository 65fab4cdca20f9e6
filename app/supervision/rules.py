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
The areas whose changes these rules watch publish events; :mod:`app.supervision.handlers`
calls the rules. What counts as news (a grade drop, a complaint surge) is decided by
:mod:`scoring.alerts`, pure; these functions gather the facts and raise the warning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.clock import today
from app.risk.complaints import weekly_baseline
from app.risk.figures import record_complaints
from app.risk.queue import request_rerate
from app.settings import get_settings
from app.supervision.models import WarningRule
from app.supervision.warnings import raise_warning
from scoring.alerts import complaint_surge, grade_fell

if TYPE_CHECKING:
    import uuid
    from collections.abc import Mapping, Sequence
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
    evidence: Mapping[str, Any],
) -> None:
    """Grade fell to D or E, or by two grades or more (a first rating at D or E too)."""
    if not grade_fell(before, after):
        return
    await raise_warning(
        session,
        merchant_id,
        WarningRule.GRADE_DROP,
        f"rating-change:{change_id}",
        {"from": before, "to": after, **evidence},
    )


async def on_complaint(
    session: AsyncSession, merchant_id: uuid.UUID, now: datetime, *, dispute_id: str
) -> None:
    """A complaint was filed: refresh the complaint indicators, re-rate, check for a surge."""
    counts = await record_complaints(session, merchant_id, now)
    await request_rerate(session, merchant_id, "complaint filed", dispute_id)
    baseline = await weekly_baseline(session, merchant_id, now, weeks=BASELINE_WEEKS)
    limits = get_settings().warnings
    if complaint_surge(
        counts.last_7,
        baseline,
        minimum=limits.complaint_surge_minimum,
        factor=limits.complaint_surge_factor,
    ):
        week = today(now).isocalendar()
        await raise_warning(
            session,
            merchant_id,
            WarningRule.COMPLAINT_SURGE,
            f"week:{week.year}-W{week.week:02d}",
            {
                "last_7_days": counts.last_7,
                "last_30_days": counts.last_30,
                "weekly_baseline": baseline,
            },
            once_while_open=True,
        )


async def on_sales_figures(
    session: AsyncSession, merchant_id: uuid.UUID, figures: Mapping[str, float], now: datetime
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
            {"max_discount_pct": discount, "threshold_pct": limits.deep_discount_pct},
            once_while_open=True,
        )


OVERRIDE_KINDS = frozenset(
    {
        ("court", "dishonest_debtor"),
        ("registration", "licence_revoked"),
        ("registration", "deregistration_filed"),
        ("registration", "abnormal_operations"),
    }
)
"""Records that override the rating: each raises a warning of its own."""


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
    if (source, kind) not in OVERRIDE_KINDS or value is not True:
        return
    await raise_warning(
        session,
        merchant_id,
        WarningRule.HARD_OVERRIDE,
        f"record:{record_id}",
        {"record": record_id, "source": source, "kind": kind, "as_of": as_of},
    )


async def on_exit_pattern(
    session: AsyncSession, merchant_id: uuid.UUID, steps: Sequence[Mapping[str, Any]]
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
        {"steps": [dict(step) for step in steps], "window_days": 180},
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
        {"error": error, "attempts": attempts, "since": since.isoformat()},
        once_while_open=True,
    )


async def on_shortfall(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    *,
    statement_id: str,
    shortfall: int,
    evidence: Mapping[str, Any],
) -> None:
    """Reconciliation found less in custody than the ledger holds."""
    await raise_warning(
        session,
        merchant_id,
        WarningRule.CUSTODY_SHORTFALL,
        f"statement:{statement_id}",
        {"shortfall_fen": shortfall, **evidence},
    )
