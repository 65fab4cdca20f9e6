"""Every resolution pack handed out: who took the consumers' personal data, and which pack."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.base import Base, UUIDPrimaryKey


class ResolutionPack(UUIDPrimaryKey, Base):
    """One pack as it was built: the merchant, who asked, and the digest of its manifest.

    Append-only. The pack itself is not kept: it holds personal data, and it can be built
    again; the manifest's digest tells which pack a copy in someone's hands is.
    """

    __tablename__ = "resolution_packs"
    __table_args__ = (
        CheckConstraint("role IN ('regulator', 'insurer', 'operator')", name="role"),
        CheckConstraint("octet_length(manifest_sha256) = 32", name="manifest_sha256"),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    """The staff member; empty for the operator's command line."""
    built_at: Mapped[datetime]
    cards: Mapped[int] = mapped_column(BigInteger)
    owed_fen: Mapped[int] = mapped_column(BigInteger)
    entries: Mapped[int] = mapped_column(BigInteger)
    """The book's entry count the pack's ledger proof names."""
    manifest_sha256: Mapped[bytes]
    kid: Mapped[str] = mapped_column(String(32))
