"""Declarative base of the application's own tables (the escrow tables have theirs)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.clock import utcnow
from escrow.models import NAMING

if TYPE_CHECKING:
    import enum


class Base(DeclarativeBase):
    """Application tables; same constraint naming as the escrow tables."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: DateTime(timezone=True)}  # noqa: RUF012


def one_of(column: str, values: type[enum.StrEnum]) -> str:
    """A CHECK expression keeping ``column`` within an enum's values."""
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class UUIDPrimaryKey:
    """A random UUID primary key, made by the application (no sequence to shard)."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class CreatedAt:
    """When the row was written."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
