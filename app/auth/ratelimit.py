"""Fixed-window rate limits kept in PostgreSQL, so every app process shares them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert

from app.auth.models import RateLimitHit
from app.clock import utcnow
from app.exceptions import RateLimited
from app.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


async def hit(session: AsyncSession, bucket: str, *, limit: int, window_seconds: int) -> None:
    """Count one attempt in ``bucket``; raise :class:`RateLimited` past ``limit``.

    Call it in a transaction of its own that commits even when the attempt then fails:
    failed attempts are the ones that must count.
    """
    now = utcnow()
    epoch = int(now.timestamp())
    start = datetime.fromtimestamp(epoch - epoch % window_seconds, tz=now.tzinfo)
    hits = await session.scalar(
        insert(RateLimitHit)
        .values(bucket=bucket, window_start=start, hits=1)
        .on_conflict_do_update(
            index_elements=[RateLimitHit.bucket, RateLimitHit.window_start],
            set_={"hits": RateLimitHit.hits + 1},
        )
        .returning(RateLimitHit.hits)
    )
    if hits is not None and hits > limit:
        retry = int((start + timedelta(seconds=window_seconds) - now).total_seconds()) + 1
        raise RateLimited("too-many-attempts", retry_after=retry)
    # old windows are of no use to anyone
    await session.execute(
        delete(RateLimitHit).where(RateLimitHit.bucket == bucket, RateLimitHit.window_start < start)
    )


async def limit_sign_in(session: AsyncSession, identity: str, client: str | None) -> None:
    """Count one sign-in attempt per identity and per client address, committed on its own.

    ``identity`` names what is being tried (``user:<name>``, ``sms:<phone hash>``...),
    ``client`` the caller's address (``None`` when unknown). Raises :class:`RateLimited`
    past either limit; the attempt is counted either way.
    """
    limits = get_settings().security
    async with session.begin():
        for bucket, limit in (
            (f"signin:{identity}", limits.sign_in_limit),
            (f"signin-ip:{client or 'unknown'}", limits.sign_in_ip_limit),
        ):
            await hit(session, bucket, limit=limit, window_seconds=limits.sign_in_window_seconds)
