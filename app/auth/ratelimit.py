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


async def _count(session: AsyncSession, bucket: str, window_seconds: int) -> tuple[int, int]:
    """Count one attempt in ``bucket``'s current window; the hits so far and seconds left."""
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
    # old windows are of no use to anyone
    await session.execute(
        delete(RateLimitHit).where(RateLimitHit.bucket == bucket, RateLimitHit.window_start < start)
    )
    left = int((start + timedelta(seconds=window_seconds) - now).total_seconds()) + 1
    return int(hits or 0), left


async def hit(session: AsyncSession, bucket: str, *, limit: int, window_seconds: int) -> None:
    """Count one attempt in ``bucket``; raise :class:`RateLimited` past ``limit``.

    Call it in a transaction of its own that commits even when the attempt then fails:
    failed attempts are the ones that must count.
    """
    hits, left = await _count(session, bucket, window_seconds)
    if hits > limit:
        raise RateLimited("too-many-attempts", retry_after=left)


async def limit_sign_in(
    session: AsyncSession, identity: str, client: str | None, *, cap_identity: bool = False
) -> bool:
    """Count one sign-in attempt, committed on its own; return whether to take the slow path.

    ``identity`` names what is being tried (``user:<name>``, ``phone:<hash>``...), ``client``
    the caller's address (``None`` when unknown). Refused (:class:`RateLimited`) past the
    limit of this identity from this address, or of this address in all. The identity's
    attempts from everywhere are counted too, but past their limit the answer is only slower:
    a refusal there would let any stranger lock the rightful owner out. ``cap_identity``: that
    count is a hard limit instead (sending texts to a phone: each costs money and annoys its
    owner, and a stranger's requests must not flood it).
    """
    limits = get_settings().security
    window = limits.sign_in_window_seconds
    address = client or "unknown"
    async with session.begin():
        await hit(
            session,
            f"signin:{identity}|{address}",
            limit=limits.sign_in_limit,
            window_seconds=window,
        )
        await hit(
            session, f"signin-ip:{address}", limit=limits.sign_in_ip_limit, window_seconds=window
        )
        if cap_identity:
            await hit(
                session, f"signin-all:{identity}", limit=limits.sign_in_limit, window_seconds=window
            )
            return False
        everywhere, _ = await _count(session, f"signin-all:{identity}", window)
    return everywhere > limits.sign_in_account_limit


async def limit_registration(session: AsyncSession, client: str | None) -> None:
    """Count one merchant registration from ``client``'s address, committed on its own.

    Each costs an argon2 hash and an item in a regulator's queue.
    """
    limits = get_settings().security
    async with session.begin():
        await hit(
            session,
            f"register-ip:{client or 'unknown'}",
            limit=limits.registration_limit,
            window_seconds=limits.registration_window_seconds,
        )
