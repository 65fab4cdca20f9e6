"""Ratings: the active model, rating merchants from their records, grade changes and their causes.

A rating reads, per merchant, the latest record of each (source, kind) dated before the scoring
day (tomorrow in Shanghai: what is known by today counts), plus today's snapshot of the
platform's own sales. The model is loaded from PostgreSQL, so every process rates with the
same active model; a process reloads it only when the active version changes.

Ratings of one merchant are serialised by a transaction-level advisory lock, so two raters can
never both record the same grade change. What a rating changes is published as events
(:mod:`app.risk.events`) in the rating's transaction; the areas that react (warnings, grade
actions) handle them there, unknown to this module.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio
import structlog
from sqlalchemy import any_, delete, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.arrays import Uuids, uuids
from app.clock import today, utcnow
from app.events import publish
from app.exceptions import Conflict, NotFound
from app.merchants.models import Merchant
from app.risk.batch import read_sets, write
from app.risk.events import ExitPatternFound, GradeRevised, RatingChanged, RatingFailed
from app.risk.figures import refresh_sales
from app.risk.models import Rating, RatingChange, RatingFailure, ScoringModel
from app.risk.queue import request_all
from scoring import GRADES, Indicator, Override
from scoring.rating import Rater
from scoring.store import loads

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, Sequence
    from datetime import date

    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from app.risk.batch import Held
    from scoring.rating import Assessment
    from scoring.table import Schema

    Read = Callable[[AsyncSession, Sequence[uuid.UUID], date, Schema], Awaitable[Held]]

log = structlog.get_logger(__name__)

BATCH = 1000

_LOCK = text("""
    WITH locked AS (
      SELECT count(pg_advisory_xact_lock(hashtext('rating'), key))
        FROM (SELECT DISTINCT hashtext(m::text) AS key
                FROM unnest(CAST(:ids AS uuid[])) AS m ORDER BY key) AS sorted
    )
    SELECT (SELECT version FROM scoring_models WHERE active),
           set_config('plan_cache_mode', :plans, true)
      FROM locked
""")
"""One statement taking every merchant's rating lock, then reading the active model's version.

Ordering by key (not by merchant id) keeps two batches from deadlocking when two merchants'
ids hash to the same key. The version comes in the same round trip: a rating of one merchant
is a handful of statements, and each costs about as much as the work it does.

For a few merchants the rest of the transaction reuses generic plans of the rating's prepared
statements (``plan_cache_mode``, transaction-local): planning the read and the write afresh
each time costs more than running them for one merchant. A batch keeps custom plans, made
for its thousand ids."""


@dataclass(frozen=True)
class Cause:
    """Why a merchant is being re-rated: shown in its grade history."""

    text: str
    ref: str | None = None


class _Models:
    """The active model of this process, reloaded only when the active version changes."""

    def __init__(self) -> None:
        self.rater: Rater | None = None
        self.lock = asyncio.Lock()

    async def active(self, session: AsyncSession) -> Rater | None:
        version = await session.scalar(select(ScoringModel.version).where(ScoringModel.active))
        return await self.of_version(session, version)

    async def of_version(self, session: AsyncSession, version: str | None) -> Rater | None:
        """The rater of ``version`` (the active one, just read), loaded only if it changed."""
        if version is None:
            return None
        if self.rater is not None and self.rater.model_version == version:
            return self.rater
        async with self.lock:
            if self.rater is None or self.rater.model_version != version:
                data = await session.scalar(
                    select(ScoringModel.file).where(ScoringModel.version == version)
                )
                if data is None:  # pragma: no cover - the version was just read
                    return None
                saved = await anyio.to_thread.run_sync(
                    lambda: loads(data, origin=f"model {version} in the database")
                )
                self.rater = Rater(saved)
            return self.rater


MODELS = _Models()


async def add_model(
    session: AsyncSession, data: bytes, *, activate: bool, by: uuid.UUID | None
) -> tuple[str, int]:
    """Store a model file (checked as the loader checks it); activating queues every merchant.

    Returns the model's version and how many merchants were queued for re-rating.
    """
    saved = await anyio.to_thread.run_sync(lambda: loads(data, origin="the model file"))
    Rater(saved)  # refuses a model that cannot rate merchants, before anything is stored
    summary = {"training": saved.training, "metrics": saved.metrics}
    await session.execute(
        pg_insert(ScoringModel)
        .values(
            version=saved.model_version,
            file=data,
            sha256=saved.sha256,
            summary=summary,
            active=False,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing()
    )
    stored = await session.scalar(
        select(ScoringModel.sha256).where(ScoringModel.version == saved.model_version)
    )
    if stored != saved.sha256:
        raise Conflict("model-version-taken", version=saved.model_version)
    if not activate:
        return saved.model_version, 0
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('scoring_models'))"))
    await session.execute(update(ScoringModel).where(ScoringModel.active).values(active=False))
    await session.execute(
        update(ScoringModel)
        .where(ScoringModel.version == saved.model_version)
        .values(active=True, activated_at=utcnow(), activated_by=by)
    )
    queued = await request_all(session, f"model {saved.model_version} activated")
    return saved.model_version, queued


IN_THREAD = 200
"""From this many merchants the arithmetic runs on a worker thread; below, inline is quicker."""


async def rate(
    session: AsyncSession,
    causes: Mapping[uuid.UUID, Cause],
    *,
    now: datetime | None = None,
    with_sales: bool = True,
    read: Read = read_sets,
) -> int:
    """Re-rate the merchants in ``causes`` in the caller's transaction; return how many.

    Nothing is rated (0) while no model is active: a merchant then shows as not rated.
    ``read`` builds the feature matrix (:mod:`app.risk.batch`); both readers rate alike.
    """
    if not causes:
        return 0
    ids = Uuids(sorted(causes))
    plans = "force_generic_plan" if len(ids) < IN_THREAD else "force_custom_plan"
    version = await session.scalar(_LOCK, {"ids": ids, "plans": plans})
    rater = await MODELS.of_version(session, version)
    if rater is None:
        return 0
    now = now or utcnow()
    if with_sales:
        await refresh_sales(session, ids, now)
    at = today(now) + timedelta(days=1)
    held = await read(session, ids, at, rater.schema)
    if len(ids) >= IN_THREAD:
        assessed = await anyio.to_thread.run_sync(
            lambda: rater.assess(held.features, held.exit_path)
        )
    else:
        assessed = rater.assess(held.features, held.exit_path)
    causes_shown = [causes[m].text for m in ids]
    previous = await write(session, rater, held, assessed, causes_shown, at=at, now=now)
    await _publish_changes(session, rater, held, assessed, causes, previous, now)
    return len(ids)


async def _publish_changes(
    session: AsyncSession,
    rater: Rater,
    held: Held,
    assessed: Assessment,
    causes: Mapping[uuid.UUID, Cause],
    previous: Sequence[tuple[str | None, frozenset[str]]],
    now: datetime,
) -> None:
    """Record each grade change, and publish what changed for the areas that react."""
    ids = held.ids
    changes: list[dict[str, Any]] = []
    followed: list[tuple[uuid.UUID, str | None, str, set[str]]] = []
    grades = [GRADES[b] for b in assessed.band.tolist()]
    for i, merchant_id in enumerate(ids):
        before, held_overrides = previous[i]
        new_overrides = {o.value for o in assessed.overrides[i]} - held_overrides
        if before != grades[i] or new_overrides:
            followed.append((merchant_id, before, grades[i], new_overrides))
        if before != grades[i]:
            changes.append(
                {
                    "merchant_id": merchant_id,
                    "from_grade": before,
                    "to_grade": grades[i],
                    "probability": float(assessed.probability[i]),
                    "model_version": rater.model_version,
                    "cause": causes[merchant_id].text,
                    "cause_ref": causes[merchant_id].ref,
                    "changed_at": now,
                }
            )
    if changes:
        stored = await session.execute(
            pg_insert(RatingChange)
            .values(changes)
            .returning(RatingChange.id, RatingChange.merchant_id)
        )
        change_ids = {m: i for i, m in stored.all()}
        for change in changes:
            await publish(
                session,
                RatingChanged(
                    change["merchant_id"],
                    before=change["from_grade"],
                    after=change["to_grade"],
                    change_id=str(change_ids[change["merchant_id"]]),
                    evidence={
                        "probability": change["probability"],
                        "cause": change["cause"],
                        "model_version": change["model_version"],
                    },
                ),
            )
    for merchant_id, before, grade, new_overrides in followed:
        await publish(
            session,
            GradeRevised(
                merchant_id,
                before=before,
                grade=grade,
                cause=causes[merchant_id].text,
                new_overrides=frozenset(new_overrides),
            ),
        )
        if Override.EXIT_PATTERN in new_overrides:
            steps = held.exit_steps[merchant_id]
            await publish(session, ExitPatternFound(merchant_id, tuple(_cited(r) for r in steps)))


def _cited(record: Indicator) -> dict[str, Any]:
    """A record as a warning's evidence cites it."""
    return {
        "record": record.ref,
        "source": record.source.value,
        "kind": record.kind,
        "value": record.value,
        "as_of": record.as_of.isoformat(),
        "provenance": record.provenance,
    }


LANES = 2
"""Batches of the nightly re-rating in flight at once: while one waits on PostgreSQL, the
other's arithmetic runs, and the server works on two batches with its two backends."""


async def rerate_all(
    sessions: async_sessionmaker[AsyncSession],
    *,
    cause: str = "scheduled re-rating",
    batch: int = BATCH,
    lanes: int = LANES,
) -> int:
    """Re-rate every merchant, one transaction per batch; return how many were rated.

    Up to ``lanes`` batches are rated at once, each in its own transaction. Batches hold
    different merchants, and each takes its merchants' rating locks in key order, so they
    neither wait for nor deadlock with each other. A merchant that cannot be rated is set
    aside (:func:`rate_apart`); the rest are rated.
    """
    free = asyncio.Semaphore(lanes)

    async def lane(ids: list[uuid.UUID]) -> int:
        try:
            return await rate_apart(sessions, {m: Cause(cause) for m in ids})
        finally:
            free.release()

    rated: list[asyncio.Task[int]] = []
    after = uuid.UUID(int=0)
    async with asyncio.TaskGroup() as group:
        while True:
            await free.acquire()
            async with sessions() as session:
                ids = list(
                    (
                        await session.scalars(
                            select(Merchant.id)
                            .where(Merchant.id > after)
                            .order_by(Merchant.id)
                            .limit(batch)
                        )
                    ).all()
                )
            if not ids:
                free.release()
                break
            rated.append(group.create_task(lane(ids)))
            after = ids[-1]
    return sum(task.result() for task in rated)


FIRST_RETRY = timedelta(minutes=1)
LAST_RETRY = timedelta(hours=6)
"""Retries of a failed merchant wait 1, 2, 4 ... minutes, at most six hours."""
MAX_ERROR_LENGTH = 2000


async def rate_apart(
    sessions: async_sessionmaker[AsyncSession], causes: Mapping[uuid.UUID, Cause]
) -> int:
    """Rate a batch in one transaction; if that fails, each merchant in one of its own.

    Whatever makes one merchant fail must not stop the others: a merchant that fails alone is
    set aside with its error (:func:`set_aside`) and retried later with backoff. A merchant
    rated here loses any earlier failure. Returns how many were rated.
    """
    if not causes:
        return 0
    try:
        async with sessions() as session, session.begin():
            done = await rate(session, causes)
            await _clear_failures(session, list(causes))
    except Exception:  # noqa: BLE001 - whatever it was, find the merchant it belongs to
        log.warning("a re-rating batch failed; rating its merchants one by one", size=len(causes))
    else:
        return done
    done = 0
    for merchant_id, cause in sorted(causes.items()):
        try:
            async with sessions() as session, session.begin():
                done += await rate(session, {merchant_id: cause})
                await _clear_failures(session, [merchant_id])
        except Exception as exc:
            log.exception("merchant set aside: it cannot be rated", merchant_id=str(merchant_id))
            async with sessions() as session, session.begin():
                await set_aside(session, merchant_id, cause, exc)
    return done


async def _clear_failures(session: AsyncSession, merchant_ids: list[uuid.UUID]) -> None:
    await session.execute(
        delete(RatingFailure).where(RatingFailure.merchant_id == any_(uuids(merchant_ids)))
    )


def retry_delay(attempts: int) -> timedelta:
    """How long a merchant that failed ``attempts`` times waits before the next try."""
    delay: timedelta = FIRST_RETRY * 2 ** min(attempts - 1, 20)
    return min(delay, LAST_RETRY)


async def set_aside(
    session: AsyncSession, merchant_id: uuid.UUID, cause: Cause, exc: BaseException
) -> RatingFailure:
    """Keep the merchant's failure (visible to the operator) and raise a warning about it."""
    now = utcnow()
    error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
    failure = await session.get(RatingFailure, merchant_id, with_for_update=True)
    if failure is None:
        failure = RatingFailure(
            merchant_id=merchant_id,
            error=error,
            attempts=1,
            cause=cause.text,
            cause_ref=cause.ref,
            failed_at=now,
            last_failed_at=now,
            next_attempt_at=now + retry_delay(1),
        )
        session.add(failure)
    else:
        failure.error = error
        failure.attempts += 1
        failure.last_failed_at = now
        failure.next_attempt_at = now + retry_delay(failure.attempts)
    await session.flush()
    await publish(
        session,
        RatingFailed(merchant_id, since=failure.failed_at, error=error, attempts=failure.attempts),
    )
    return failure


async def failures(session: AsyncSession) -> Sequence[RatingFailure]:
    """Every merchant set aside, oldest failure first."""
    return (await session.scalars(select(RatingFailure).order_by(RatingFailure.failed_at))).all()


async def current(session: AsyncSession, merchant_id: uuid.UUID) -> Rating | None:
    """The merchant's current rating, if it has been rated."""
    return await session.get(Rating, merchant_id)


async def history(session: AsyncSession, merchant_id: uuid.UUID) -> Sequence[RatingChange]:
    """Every grade change of the merchant, oldest first."""
    return (
        await session.scalars(
            select(RatingChange)
            .where(RatingChange.merchant_id == merchant_id)
            .order_by(RatingChange.changed_at, RatingChange.id)
        )
    ).all()


async def grades_of(
    session: AsyncSession, merchant_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Current grades of several merchants (not rated ones are absent)."""
    if not merchant_ids:
        return {}
    rows = await session.execute(
        select(Rating.merchant_id, Rating.grade).where(Rating.merchant_id.in_(merchant_ids))
    )
    return dict(rows.all())


def require(rating: Rating | None) -> Rating:
    """The rating, or :class:`NotFound` (``merchant-not-rated``)."""
    if rating is None:
        raise NotFound("merchant-not-rated")
    return rating
