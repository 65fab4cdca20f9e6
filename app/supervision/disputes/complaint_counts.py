"""How many complaints a merchant had, as consumers and regulators are shown the figure.

A complaint is a dispute filed, counted on the day it was filed whatever became of it; the
counting itself is :mod:`app.risk.complaints`'s, where the ratings' complaint indicators are
counted too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from app.clock import utcnow
from app.risk.complaints import complaints_filed

if TYPE_CHECKING:
    import uuid
    from collections.abc import Collection
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

PUBLIC_COMPLAINT_WINDOW = timedelta(days=365)
"""The complaints a consumer is shown about a merchant: those filed in the last year."""


async def complaints_last_year(session: AsyncSession, merchant_id: uuid.UUID) -> int:
    """Complaints filed against the merchant in the last year, as consumers are shown them."""
    found = await complaints_filed(session, [merchant_id], since=utcnow() - PUBLIC_COMPLAINT_WINDOW)
    return found.get(merchant_id, 0)


async def complaints_since(
    session: AsyncSession, merchant_ids: Collection[uuid.UUID], since: datetime
) -> dict[uuid.UUID, int]:
    """Complaints filed per merchant since ``since`` (merchants with none are absent)."""
    return await complaints_filed(session, merchant_ids, since=since)
