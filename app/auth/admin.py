"""Creating staff accounts (operators run this; merchants get theirs by registering)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sqlalchemy import select

from app.auth.models import STAFF_USERNAME, Role, User
from app.exceptions import Conflict, Invalid
from app.security.passwords import MIN_LENGTH, hash_password

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.ext.asyncio import AsyncSession


async def create_staff(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: Role,
    district: str | None = None,
    organisation: str | None = None,
    insurer_id: uuid.UUID | None = None,
    organisation_id: uuid.UUID | None = None,
) -> User:
    """A regulator (district ``None`` = city level), insurer, operator or department account.

    A department's staff work for one organisation (a department or street office).
    """
    username = username.strip().lower()
    if role in {Role.CONSUMER, Role.MERCHANT}:
        raise Invalid("staff-role-not-created-here", role=role.value)
    if not STAFF_USERNAME.match(username):
        raise Invalid("staff-username-format")
    if role is Role.DEPARTMENT and organisation_id is None:
        raise Invalid("department-staff-organisation")
    if len(password) < MIN_LENGTH:
        raise Invalid("staff-password-too-short", min=MIN_LENGTH)
    if await session.scalar(select(User.id).where(User.username == username)):
        raise Conflict("staff-username-taken", username=username)
    user = User(
        username=username,
        password_hash=await asyncio.to_thread(hash_password, password),
        role=role,
        district=district if role is Role.REGULATOR else None,
        organisation=organisation,
        insurer_id=insurer_id if role is Role.INSURER else None,
        organisation_id=organisation_id if role is Role.DEPARTMENT else None,
    )
    session.add(user)
    await session.flush()
    return user
