"""The escalation worker: overdue dispute steps go to the regulator, on a steady beat."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from app.background import BackgroundTask
from app.clock import utcnow
from app.supervision.disputes import escalate_overdue

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = structlog.get_logger(__name__)


class EscalationWorker(BackgroundTask):
    """Runs :func:`escalate_overdue` every ``interval`` seconds; deadlines are days long."""

    name = "escalation-worker"

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, interval: float = 60) -> None:
        super().__init__()
        self.sessions = sessions
        self.interval = interval

    async def run_once(self) -> int:
        """One pass in its own transaction; returns how many disputes moved."""
        async with self.sessions() as session, session.begin():
            return await escalate_overdue(session, utcnow())

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                moved = await self.run_once()
                if moved:
                    log.info("overdue dispute steps escalated", disputes=moved)
            except Exception:
                log.exception("escalation pass failed; will retry")
            await self._pause(self.interval)
