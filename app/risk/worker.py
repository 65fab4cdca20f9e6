"""The re-rate worker: drains the queue so that a new record or sale re-rates within seconds.

It runs inside ``pguard run`` (and can run in any number of processes). Each pass takes up
to ``batch`` queued merchants off the queue in a short transaction of its own
(``DELETE … FOR UPDATE SKIP LOCKED … RETURNING``), then rates them in a second one. The
queue rows are never held while rating, so a sale that queues its merchant (inside the
ledger's transaction) never waits for a rating. A merchant that cannot be rated is set aside
with its error and retried with backoff while the rest of its batch is rated
(:func:`app.risk.service.rate_apart`); a process that dies between the two transactions loses
those re-ratings until the nightly ``pguard scoring rerate-all``, which re-rates everyone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import text

from app.background import BackgroundTask
from app.clock import utcnow
from app.risk.service import Cause, rate_apart

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = structlog.get_logger(__name__)


_TAKE = text("""
    DELETE FROM rerate_queue
     WHERE merchant_id IN (SELECT merchant_id FROM rerate_queue
                            ORDER BY requested_at LIMIT :n FOR UPDATE SKIP LOCKED)
    RETURNING merchant_id, cause, cause_ref
""")

_RETRY = text("""
    UPDATE rating_failures SET next_attempt_at = :lease
     WHERE merchant_id IN (SELECT merchant_id FROM rating_failures
                            WHERE next_attempt_at <= :now
                            ORDER BY next_attempt_at LIMIT :n FOR UPDATE SKIP LOCKED)
    RETURNING merchant_id, cause, cause_ref
""")
"""Failed merchants due for a retry, leased for a while so that one worker retries each."""

_WAITING = text("""
    SELECT merchant_id FROM rating_failures
     WHERE merchant_id = ANY(:ids) AND next_attempt_at > :now
""")

RETRY_LEASE = timedelta(minutes=5)


async def drain_once(sessions: async_sessionmaker[AsyncSession], batch: int = 200) -> int:
    """Rate one batch of queued merchants (and failed ones due for a retry).

    Returns how many were taken from the queue. A merchant set aside after a failure is not
    rated again before its retry is due, however many new causes queue it meanwhile: the
    retry rates it from all its data.
    """
    now = utcnow()
    async with sessions() as session, session.begin():
        rows = (await session.execute(_TAKE, {"n": batch})).all()
        retries = (
            await session.execute(_RETRY, {"n": batch, "now": now, "lease": now + RETRY_LEASE})
        ).all()
        waiting = set(
            (
                await session.scalars(_WAITING, {"ids": [r.merchant_id for r in rows], "now": now})
            ).all()
        )
    causes = {m: Cause(c, r) for m, c, r in retries}
    causes |= {m: Cause(c, r) for m, c, r in rows if m not in waiting}
    await rate_apart(sessions, causes)
    return len(rows) + len(retries)


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
