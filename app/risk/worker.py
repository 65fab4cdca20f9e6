"""The re-rate worker: drains the queue so that a new record or sale re-rates within seconds.

It runs inside ``pguard run`` (and can run in any number of processes). Each pass takes up
to ``batch`` queued merchants off the queue in a short transaction of its own
(``DELETE … FOR UPDATE SKIP LOCKED … RETURNING``), then rates them in a second one. The
queue rows are never held while rating, so a sale that queues its merchant (inside the
ledger's transaction) never waits for a rating. A merchant that cannot be rated is set aside
with its error and retried with backoff while the rest of its batch is rated
(:func:`app.risk.service.rate_apart`); a process that dies between the two transactions loses
those re-ratings until the nightly ``pguard scoring rerate-all``, which re-rates everyone.

An idle worker does not poll: it LISTENs on ``rerate_queue`` (a trigger NOTIFYs at the commit
of every transaction that queues a merchant) on a connection of its own, and looks at the
queue again when told, or after ``fallback`` seconds in case a notification was lost (the
listening connection broke, the database failed over). Without a listening connection it
polls every ``interval`` seconds, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import TYPE_CHECKING

import psycopg
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.background import BackgroundTask
from app.clock import utcnow
from app.db import libpq_url
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


CHANNEL = "rerate_queue"
"""What the queue's trigger NOTIFYs (migration 0010)."""


class RerateWorker(BackgroundTask):
    """Drains the queue when told (LISTEN), else every ``interval``.

    ``stop`` waits for the pass in hand to finish.
    """

    name = "rerate-worker"

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        interval: float = 0.25,
        fallback: float = 5.0,
    ) -> None:
        super().__init__()
        self.sessions = sessions
        self.interval = interval
        self.fallback = max(fallback, interval)
        self._listener: psycopg.AsyncConnection[tuple[object, ...]] | None = None

    async def _listen(self) -> psycopg.AsyncConnection[tuple[object, ...]] | None:
        """The listening connection, (re)opened as needed; ``None`` if it cannot be had now."""
        if self._listener is not None and not self._listener.closed:
            return self._listener
        bind = self.sessions.kw.get("bind")
        if not isinstance(bind, AsyncEngine):
            return None
        try:
            url = libpq_url(bind.url.render_as_string(hide_password=False))
            self._listener = await psycopg.AsyncConnection.connect(url, autocommit=True)
            await self._listener.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as exc:
            log.warning("cannot listen for queued re-ratings; polling", error=str(exc))
            await self._closed()
            return None
        return self._listener

    async def _wait(self, seconds: float) -> None:
        """Until a notification, a stop, or ``fallback`` seconds; without a listener, poll."""
        listener = await self._listen()
        if listener is None:
            await self._pause(seconds)
            return

        async def notified() -> None:
            async for _ in listener.notifies(timeout=max(seconds, self.fallback), stop_after=1):
                return

        waiting = asyncio.ensure_future(notified())
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if waiting.done() and (error := waiting.exception()) is not None:
                log.warning("listening for queued re-ratings failed", error=str(error))
                await self._closed()
        finally:
            for task in (waiting, stopping):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, psycopg.Error):
                        await task
            if not waiting.done() or waiting.cancelled():
                await self._closed()  # a cancelled wait leaves the connection mid-read

    async def _closed(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(psycopg.Error):
                await self._listener.close()
            self._listener = None

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
            if failures:
                await self._pause(self.interval * min(2**failures, 120))
            else:
                await self._wait(self.interval)
