"""A task that runs in the background of an event loop until asked to stop.

Every worker (re-rating, webhook delivery, dispute escalation) is one of these: ``start`` in
the running loop, ``stop`` to finish the work in hand (or, with ``grace``, to cancel it after
that many seconds, as if the process died), ``running`` to check it is alive.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


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
