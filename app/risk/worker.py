"""The re-rate worker: drains the queue so that a new record or sale re-rates within seconds.

It runs inside ``pguard run`` (and can run in any number of processes): each pass takes up to
``batch`` queued merchants with ``FOR UPDATE SKIP LOCKED``, rates them and deletes their rows
in one transaction. A failure rolls the pass back and leaves the rows queued for the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import delete, select

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


class RerateWorker:
    """A background task polling the queue; ``stop`` waits for the pass in hand to finish."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, interval: float = 0.25
    ) -> None:
        self.sessions = sessions
        self.interval = interval
        self._task: asyncio.Task[Any] | None = None
        self._stopping = asyncio.Event()

    @property
    def running(self) -> bool:
        """Whether the polling task is alive."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Begin polling in the running event loop."""
        self._stopping.clear()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="rerate-worker")

    async def stop(self) -> None:
        """Stop after the current pass."""
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

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
            delay = self.interval * min(2**failures, 120)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
