"""A task that runs in the background of an event loop until asked to stop.

Every worker (re-rating, webhook delivery, dispute escalation) is one of these: ``start`` in
the running loop, ``stop`` to finish the work in hand (or, with ``grace``, to cancel it after
that many seconds, as if the process died), ``running`` to check it is alive.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = structlog.get_logger(__name__)


class BackgroundTask:
    """Subclasses implement :meth:`_run`, looping until :attr:`_stopping` is set."""

    name = "background-task"

    def __init__(self) -> None:
        self._task: asyncio.Task[Any] | None = None
        self._stopping = asyncio.Event()

    @property
    def running(self) -> bool:
        """Whether the task is alive."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Begin in the running event loop."""
        self._stopping.clear()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self, *, grace: float | None = None) -> None:
        """Stop after the work in hand; with ``grace``, cancel what still runs after it."""
        self._stopping.set()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=grace)
            if not done:
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._closed()

    async def _closed(self) -> None:
        """Release what the task holds, after it stopped."""

    async def _pause(self, seconds: float) -> None:
        """Wait ``seconds``, or less if asked to stop meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _run(self) -> None:
        raise NotImplementedError


class PeriodicTask(BackgroundTask):
    """Runs :meth:`run_once` every ``interval`` seconds, for work whose deadlines are days long.

    A failed pass is logged and tried again at the next beat; a pass that did something says
    how much (``did``).
    """

    did = "pass done"
    """What the log line says when a pass did something."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, interval: float = 60) -> None:
        super().__init__()
        self.sessions = sessions
        self.interval = interval

    async def run_once(self) -> int:
        """One pass; returns how many things it did."""
        raise NotImplementedError

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                done = await self.run_once()
                if done:
                    log.info(self.did, worker=self.name, count=done)
            except Exception:
                log.exception("pass failed; will retry", worker=self.name)
            await self._pause(self.interval)
