"""Drift between two days: the same merchants scored as known on each, compared by PSI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
from sqlalchemy import select

from app.exceptions import Invalid
from app.merchants.models import Merchant
from app.risk.batch import records_for
from app.risk.service import MODELS
from app.risk.supervision import reach
from scoring import FEATURES, drift_report

if TYPE_CHECKING:
    import uuid
    from datetime import date

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal
    from scoring.rating import Rater
    from scoring.rating import Rating as Scored


async def _scored(
    session: AsyncSession, rater: Rater, ids: list[uuid.UUID], at: date
) -> list[Scored]:
    records = await records_for(session, ids, at)
    by_key = {str(m): r for m, r in records.items()}
    return await anyio.to_thread.run_sync(lambda: rater.rate(by_key, at))


async def report(
    session: AsyncSession, me: Principal, expected: date, actual: date, *, district: str | None
) -> dict[str, Any]:
    """PSI of the score and every feature, ``expected`` day against ``actual`` day."""
    if expected >= actual:
        raise Invalid("drift-days-out-of-order", fields={"expected": "drift-expected-too-late"})
    rater = await MODELS.active(session)
    if rater is None:
        raise Invalid("drift-no-active-model")
    query = select(Merchant.id).order_by(Merchant.id)
    if (where := reach(me, district)) is not None:
        query = query.where(Merchant.district == where)
    ids = list((await session.scalars(query)).all())
    if not ids:
        raise Invalid("drift-no-merchants")
    before = await _scored(session, rater, ids, expected)
    after = await _scored(session, rater, ids, actual)
    result = drift_report(
        [b.probability for b in before],
        [a.probability for a in after],
        [b.features() for b in before],
        [a.features() for a in after],
        FEATURES,
    )
    return {
        "expected": expected.isoformat(),
        "actual": actual.isoformat(),
        "model_version": rater.model_version,
        "merchants": len(ids),
        **result.to_dict(),
    }
