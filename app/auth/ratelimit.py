"""Fixed-window rate limits kept in PostgreSQL, so every app process shares them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert

from app.auth.models import RateLimitHit
from app.clock import utcnow
from app.exceptions import RateLimited

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
        raise RateLimited(f"too many attempts; try again in {retry} seconds", retry_after=retry)
    # old windows are of no use to anyone
    await session.execute(
        delete(RateLimitHit).where(RateLimitHit.bucket == bucket, RateLimitHit.window_start < start)
    )
