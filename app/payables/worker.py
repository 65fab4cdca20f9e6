"""The deadline worker: payables unpaid at their deadline become claims on the policy."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from app.background import BackgroundTask
from app.clock import utcnow
from app.payables.service import claim_overdue

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = structlog.get_logger(__name__)


class PayableDeadlineWorker(BackgroundTask):
    """Runs :func:`claim_overdue` every ``interval`` seconds; deadlines are days long."""

    name = "payable-deadline-worker"

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, interval: float = 60) -> None:
        super().__init__()
        self.sessions = sessions
        self.interval = interval

    async def run_once(self) -> int:
        """One pass; returns how many claims were opened."""
        return await claim_overdue(self.sessions, utcnow())

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                opened = await self.run_once()
                if opened:
                    log.info("refund payables past their deadline claimed", claims=opened)
            except Exception:
                log.exception("deadline pass failed; will retry")
            await self._pause(self.interval)
