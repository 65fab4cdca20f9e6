"""Rows a card's foreign keys guarantee: loaded by key, their absence reported as the bug it is."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


async def required(session: AsyncSession, model: type[T], key: object) -> T:
    """The row of ``model`` with primary key ``key``, which a foreign key promises exists."""
    found = await session.get(model, key)
    if found is None:
        msg = f"{model.__name__} {key} is missing"
        raise LookupError(msg)
    return found
