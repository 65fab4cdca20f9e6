"""The names a supervisor's pages show: districts in reach, staff, a warning's possible takers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from app.auth.models import Role, User
from app.merchants.models import Merchant

if TYPE_CHECKING:
    import uuid
    from collections.abc import Iterable

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal


async def usernames(
    session: AsyncSession, user_ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, str]:
    """Staff user names, to say who did what."""
    ids = {u for u in user_ids if u is not None}
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.username).where(User.id.in_(ids)))
    return {row[0]: row[1] for row in rows.all()}


async def regulators_of(session: AsyncSession, district: str) -> list[tuple[uuid.UUID, str]]:
    """Regulators a warning of ``district`` can be given to (its own and city-level ones)."""
    rows = await session.execute(
        select(User.id, User.username)
        .where(
            User.role == Role.REGULATOR.value,
            User.disabled.is_(False),
            (User.district == district) | User.district.is_(None),
        )
        .order_by(User.username)
    )
    return [(key, name) for key, name in rows.all()]


def fixed_district(me: Principal) -> str | None:
    """A district regulator's own district (its filter is fixed); ``None`` for the city."""
    return me.district if me.role is Role.REGULATOR else None


async def districts(session: AsyncSession, me: Principal) -> list[str]:
    """The districts the caller may filter by."""
    if (own := fixed_district(me)) is not None:
        return [own]
    found = await session.scalars(select(Merchant.district).distinct().order_by(Merchant.district))
    return list(found.all())


async def merchants_in_reach(session: AsyncSession, me: Principal) -> dict[uuid.UUID, Merchant]:
    """Every merchant the caller supervises, by legal name."""
    query = select(Merchant).order_by(Merchant.legal_name)
    if (own := fixed_district(me)) is not None:
        query = query.where(Merchant.district == own)
    return {m.id: m for m in (await session.scalars(query)).all()}
