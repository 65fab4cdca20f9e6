"""The escalation worker: overdue dispute steps go to the regulator, on a steady beat."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import structlog

from app.base import utcnow
from app.supervision.disputes import escalate_overdue

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = structlog.get_logger(__name__)


class EscalationWorker:
    """Runs :func:`escalate_overdue` every ``interval`` seconds; deadlines are days long."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, interval: float = 60) -> None:
        self.sessions = sessions
        self.interval = interval
        self._task: asyncio.Task[Any] | None = None
        self._stopping = asyncio.Event()

    @property
    def running(self) -> bool:
        """Whether the task is alive."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Begin in the running event loop."""
        self._stopping.clear()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="escalation-worker")

    async def stop(self) -> None:
        """Stop after the pass in hand."""
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

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
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval)
