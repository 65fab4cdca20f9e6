"""The re-rate worker: drains the queue so that a new record or sale re-rates within seconds.

It runs inside ``pguard run`` (and can run in any number of processes). Each pass takes up
to ``batch`` queued merchants off the queue in a short transaction of its own
(``DELETE … FOR UPDATE SKIP LOCKED … RETURNING``), then rates them in a second one. The
queue rows are never held while rating, so a sale that queues its merchant (inside the
ledger's transaction) never waits for a rating. A failed rating puts the merchants back; a
process that dies between the two transactions loses those re-ratings until the nightly
``pguard scoring rerate-all``, which re-rates everyone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from sqlalchemy import text

from app.background import BackgroundTask
from app.risk.queue import request_rerate
from app.risk.service import Cause, rate

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = structlog.get_logger(__name__)


_TAKE = text("""
    DELETE FROM rerate_queue
     WHERE merchant_id IN (SELECT merchant_id FROM rerate_queue
                            ORDER BY requested_at LIMIT :n FOR UPDATE SKIP LOCKED)
    RETURNING merchant_id, cause, cause_ref
""")


async def drain_once(sessions: async_sessionmaker[AsyncSession], batch: int = 200) -> int:
    """Rate one batch of queued merchants; return how many were taken from the queue."""
    async with sessions() as session, session.begin():
        rows = (await session.execute(_TAKE, {"n": batch})).all()
    if not rows:
        return 0
    causes = {m: Cause(c, r) for m, c, r in rows}
    try:
        async with sessions() as session, session.begin():
            await rate(session, causes)
    except Exception:
        async with sessions() as session, session.begin():
            for merchant_id, cause in sorted(causes.items()):
                await request_rerate(session, merchant_id, cause.text, cause.ref)
        raise
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
