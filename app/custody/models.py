"""Imported custody bank statements and what reconciling each one found."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, LargeBinary, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.base import Base, UUIDPrimaryKey
from app.clock import utcnow


class CustodyStatement(UUIDPrimaryKey, Base):
    """One statement file: its digest (imported once), counts and the full report."""

    __tablename__ = "custody_statements"

    digest: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    filename: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    imported_by: Mapped[uuid.UUID | None]
    matched: Mapped[int] = mapped_column(Integer)
    missing: Mapped[int] = mapped_column(Integer)
    unexpected: Mapped[int] = mapped_column(Integer)
    report: Mapped[dict[str, Any]] = mapped_column(JSONB)
