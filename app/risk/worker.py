"""The re-rate worker: drains the queue so that a new record or sale re-rates within seconds.

It runs inside ``pguard run`` (and can run in any number of processes): each pass takes up to
``batch`` queued merchants with ``FOR UPDATE SKIP LOCKED``, rates them and deletes their rows
in one transaction. A failure rolls the pass back and leaves the rows queued for the next one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from sqlalchemy import delete, select

from app.background import BackgroundTask
from app.risk.models import RerateRequest
from app.risk.service import Cause, rate

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = structlog.get_logger(__name__)


async def drain_once(sessions: async_sessionmaker[AsyncSession], batch: int = 200) -> int:
    """Rate one batch of queued merchants; return how many were taken from the queue."""
    async with sessions() as session, session.begin():
        rows = (
            await session.execute(
                select(RerateRequest.merchant_id, RerateRequest.cause, RerateRequest.cause_ref)
                .order_by(RerateRequest.requested_at)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not rows:
            return 0
        causes = {m: Cause(c, r) for m, c, r in rows}
        await rate(session, causes)
        await session.execute(
            delete(RerateRequest).where(RerateRequest.merchant_id.in_(list(causes)))
        )
        return len(rows)


class RerateWorker(BackgroundTask):
    """Polls the queue; ``stop`` waits for the pass in hand to finish."""

    name = "rerate-worker"

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, interval: float = 0.25
    ) -> None:
        super().__init__()
        self.sessions = sessions
        self.interval = interval

    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                taken = await drain_once(self.sessions)
                failures = 0
            except Exception:
                failures += 1
                log.exception("re-rating failed; will retry", failures=failures)
                taken = 0
            if taken:
                continue
            await self._pause(self.interval * min(2**failures, 120))
