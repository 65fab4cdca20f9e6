"""The delivery worker: POSTs due outbox events to insurers until they answer 2xx.

One pass (``deliver_due``) has three steps, so that no transaction is open while we wait on
an insurer's server:

1. a short transaction takes due events with ``FOR UPDATE SKIP LOCKED`` and sets their
   lease (``locked_until``); another worker skips them until the lease runs out;
2. the events are POSTed concurrently, signed (Standard Webhooks), each within ``timeout``;
3. each outcome is recorded in a transaction of its own: the attempt, then ``delivered``
   on 2xx, or the next try after an exponential backoff.

The lease is longer than the timeout, so it outlives any delivery of a live worker. A
worker that dies mid-delivery records nothing; its events are sent again, with the same
``webhook-id``, once their lease runs out: delivery is at least once and insurers dedupe
on the id. An insurer without a webhook URL is not pushed to: its events stay pending,
costing no attempts, for it to pull (``GET /insurer/events``) or until it sets a URL.
Any number of workers may run (``pguard worker``, inside ``pguard run``, or both).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import structlog
from sqlalchemy import func, or_, select, update

from app.background import BackgroundTask
from app.clock import utcnow
from app.i18n.errors import say
from app.outbox.models import DeliveryAttempt, EventStatus, Insurer, OutboxEvent
from app.outbox.service import SECRET_FIELD, address_problem
from app.outbox.signing import sign
from app.security.pii import PiiDecryptionError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from app.security.pii import PiiCipher

log = structlog.get_logger(__name__)

USER_AGENT = "PrepaidGuard-Webhooks/1"
MAX_ERROR = 500
"""Characters of an error (or of the insurer's answer) kept with an attempt."""
"""Bytes of an insurer's answer read at most: only the start is kept for its log."""


def backoff(attempts: int, *, base: float = 1.0, cap: float = 3600.0, jitter: float = 0.1) -> float:
    """Seconds to wait after the ``attempts``-th failed try: base, 2·base, 4·base … at most cap.

    Up to ``jitter`` of the delay is taken off at random, so that the retries of many
    events that failed together (an insurer's outage) do not all arrive in one instant.
    """
    delay = min(cap, base * 2.0 ** min(max(attempts - 1, 0), 62))
    return delay * (1 - jitter * random.random())  # noqa: S311 - spreading retries, not a secret


@dataclass(frozen=True)
class _Due:
    event_id: str
    url: str
    secret_enc: bytes
    payload: dict[str, Any]
    lease: datetime
    """The ``locked_until`` this pass set: proof, when recording, that the event is still ours."""


@dataclass(frozen=True)
class Outcome:
    """What one POST came to."""

    attempted_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        """The insurer acknowledged the event."""
        return self.status_code is not None and 200 <= self.status_code < 300  # noqa: PLR2004


class DeliveryWorker(BackgroundTask):
    """A background task delivering due events; ``stop`` lets deliveries in hand finish."""

    name = "delivery-worker"

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        cipher: PiiCipher,
        *,
        interval: float = 0.25,
        lease_seconds: float = 60.0,
        timeout: float = 10.0,
        backoff_base: float = 1.0,
        backoff_cap: float = 3600.0,
        jitter: float = 0.1,
        batch: int = 20,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        if lease_seconds <= timeout:
            msg = "the lease must outlast the HTTP timeout, or two workers could send one event"
            raise ValueError(msg)
        super().__init__()
        self.sessions = sessions
        self.cipher = cipher
        self.interval = interval
        self.lease_seconds = lease_seconds
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.jitter = jitter
        self.batch = batch
        self.http = http
        self._owns_http = False

    async def _closed(self) -> None:
        """A stopped worker closes its HTTP client.

        Stopped with ``grace``, deliveries still running are cancelled, as if the process
        died: nothing is recorded for them and their events are sent again when their lease
        runs out.
        """
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this worker made it."""
        if self._owns_http and self.http is not None:
            await self.http.aclose()
            self.http = None
            self._owns_http = False

    def backoff(self, attempts: int) -> float:
        """The wait after the ``attempts``-th failed try, with this worker's settings."""
        return backoff(attempts, base=self.backoff_base, cap=self.backoff_cap, jitter=self.jitter)

    async def deliver_due(self, limit: int = 20) -> int:
        """One pass: deliver up to ``limit`` due events; return how many were tried."""
        due = await self._claim(limit)
        if due:
            results = await asyncio.gather(*(self._deliver(d) for d in due), return_exceptions=True)
            for d, result in zip(due, results, strict=True):
                if isinstance(result, BaseException):
                    if isinstance(result, asyncio.CancelledError):
                        raise result
                    log.error("recording a delivery failed", event_id=d.event_id, exc_info=result)
        return len(due)

    async def _claim(self, limit: int) -> list[_Due]:
        async with self.sessions() as session, session.begin():
            now = await _database_now(session)
            lease = now + timedelta(seconds=self.lease_seconds)
            rows = (
                await session.execute(
                    select(
                        OutboxEvent.id,
                        Insurer.webhook_url,
                        Insurer.webhook_secret_enc,
                        OutboxEvent.payload,
                    )
                    .join(Insurer, Insurer.id == OutboxEvent.insurer_id)
                    .where(
                        OutboxEvent.status == EventStatus.PENDING,
                        OutboxEvent.next_attempt_at <= now,
                        or_(OutboxEvent.locked_until.is_(None), OutboxEvent.locked_until < now),
                        Insurer.webhook_url.is_not(None),
                    )
                    .order_by(OutboxEvent.seq)
                    .limit(limit)
                    .with_for_update(of=OutboxEvent, skip_locked=True)
                )
            ).all()
            if rows:
                await session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.id.in_([r.id for r in rows]))
                    .values(locked_until=lease)
                )
        return [_Due(r.id, r.webhook_url, r.webhook_secret_enc, r.payload, lease) for r in rows]

    async def _deliver(self, due: _Due) -> None:
        outcome = await self._send(due)
        await self._record(due, outcome)

    def _client(self) -> httpx.AsyncClient:
        if self.http is None:
            self.http = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
            self._owns_http = True
        return self.http

    async def _send(self, due: _Due) -> Outcome:
        attempted_at = utcnow()
        started = time.monotonic()
        status_code: int | None = None
        error: str | None = None
        try:
            if problem := await address_problem(due.url):
                # Checked again at each delivery: the name may resolve elsewhere by now.
                return Outcome(attempted_at, 0, None, f"not sent: {say('en', problem)}")
            secret = self.cipher.decrypt(due.secret_enc, field=SECRET_FIELD)
            body = json.dumps(due.payload, separators=(",", ":"), ensure_ascii=False).encode()
            headers = {
                **sign(secret, due.event_id, body),
                "content-type": "application/json",
                "user-agent": USER_AGENT,
            }
            async with (
                asyncio.timeout(self.timeout),
                self._client().stream("POST", due.url, content=body, headers=headers) as answer,
            ):
                status_code = answer.status_code
                if not 200 <= status_code < 300:  # noqa: PLR2004
                    # The status only: an answer's body is the endpoint's, not ours to keep.
                    error = f"HTTP {status_code}"
        except TimeoutError:
            error = f"no answer within {self.timeout:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        except PiiDecryptionError:
            log.exception("an insurer's signing secret does not decrypt", event_id=due.event_id)
            error = "the signing secret is unreadable; nothing was sent"
        duration_ms = round((time.monotonic() - started) * 1000)
        return Outcome(attempted_at, duration_ms, status_code, error and error[:MAX_ERROR])

    async def _record(self, due: _Due, outcome: Outcome) -> None:
        async with self.sessions() as session, session.begin():
            session.add(
                DeliveryAttempt(
                    event_id=due.event_id,
                    attempted_at=outcome.attempted_at,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    duration_ms=outcome.duration_ms,
                )
            )
            now = await _database_now(session)
            if outcome.ok:
                # Delivered is final whoever holds the lease now.
                await session.execute(
                    update(OutboxEvent)
                    .where(
                        OutboxEvent.id == due.event_id,
                        OutboxEvent.status == EventStatus.PENDING,
                    )
                    .values(
                        status=EventStatus.DELIVERED,
                        delivered_at=now,
                        attempts=OutboxEvent.attempts + 1,
                        locked_until=None,
                        last_error=None,
                    )
                )
                return
            attempts = await session.scalar(
                select(OutboxEvent.attempts)
                .where(
                    OutboxEvent.id == due.event_id,
                    OutboxEvent.status == EventStatus.PENDING,
                    OutboxEvent.locked_until == due.lease,
                )
                .with_for_update()
            )
            if attempts is None:
                # Delivered meanwhile, or the lease ran out and another worker has the
                # event: its schedule is that worker's now. The attempt is still logged.
                return
            attempts += 1
            await session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id == due.event_id)
                .values(
                    attempts=attempts,
                    next_attempt_at=now + timedelta(seconds=self.backoff(attempts)),
                    last_error=outcome.error,
                    locked_until=None,
                )
            )
        log.info(
            "webhook not acknowledged; will retry",
            event_id=due.event_id,
            attempts=attempts,
            error=outcome.error,
        )

    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                sent = await self.deliver_due(self.batch)
                failures = 0
            except Exception:
                failures += 1
                log.exception("webhook delivery pass failed; will retry", failures=failures)
                sent = 0
            if sent:
                continue
            await self._pause(self.interval * min(2**failures, 120))


async def _database_now(session: AsyncSession) -> datetime:
    """The database's clock: workers on any host then agree on when a lease runs out."""
    now: datetime = (await session.execute(select(func.now()))).scalar_one()
    return now
