"""The platform's QR signing keys; private halves sealed under the master key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from app.base import Base, CreatedAt


class QrKey(CreatedAt, Base):
    """One Ed25519 key: active keys sign and verify; revoked keys verify nothing."""

    __tablename__ = "qr_keys"
    __table_args__ = (CheckConstraint("status IN ('active', 'revoked')", name="status"),)

    kid: Mapped[str] = mapped_column(String(32), primary_key=True)
    public_key: Mapped[bytes]
    private_key_sealed: Mapped[bytes]
    status: Mapped[str] = mapped_column(String(16), default="active")
    revoked_at: Mapped[datetime | None]
