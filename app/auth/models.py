"""Who can sign in: staff users (password), consumers (phone + SMS code), their tokens."""

from __future__ import annotations

import enum
import re
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.base import Base, CreatedAt, UUIDPrimaryKey


class Role(enum.StrEnum):
    """Every route declares which of these may call it."""

    CONSUMER = "consumer"
    MERCHANT = "merchant"
    REGULATOR = "regulator"
    INSURER = "insurer"
    OPERATOR = "operator"
    DEPARTMENT = "department"
    """Staff of a district department or street office: sees only cases routed to it."""


USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
"""A merchant owner's sign-in name, chosen at registration: never with an ``@``."""
STAFF_USERNAME = re.compile(r"^(?=.{3,64}$)[a-z0-9][a-z0-9._-]*@[a-z0-9][a-z0-9.-]*$")
"""A regulator's, insurer's or operator's name: ``name@organisation``. The two forms never
meet, so the registration form's "this user name is taken" can only ever name a merchant's
owner: it tells nobody which staff accounts exist."""
"""A user name: 3 to 64 lower-case letters, digits, dots and dashes (staff and merchants)."""


class User(UUIDPrimaryKey, CreatedAt, Base):
    """A staff account: merchant staff, regulator, insurer or operator."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ('merchant', 'regulator', 'insurer', 'operator', 'department')", name="role"
        ),
        CheckConstraint("role <> 'merchant' OR merchant_id IS NOT NULL", name="merchant_staff"),
        CheckConstraint(
            "role <> 'department' OR organisation_id IS NOT NULL", name="department_staff"
        ),
    )

    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    merchant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("merchants.id"), index=True)
    district: Mapped[str | None] = mapped_column(String(64))
    """A regulator's district; ``None`` for a city-level regulator who sees every district."""
    organisation: Mapped[str | None] = mapped_column(Text)
    """An insurer's or operator's organisation name."""
    insurer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("insurers.id"), default=None)
    """An insurer's staff: the insurer they work for."""
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id"), default=None
    )
    """A department's or street office's staff: the organisation they work for."""
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class Consumer(UUIDPrimaryKey, CreatedAt, Base):
    """A consumer, known by phone; personal data only encrypted (``app.security.pii``)."""

    __tablename__ = "consumers"

    phone_hash: Mapped[bytes] = mapped_column(unique=True)
    phone_enc: Mapped[bytes]
    real_name_enc: Mapped[bytes | None]
    id_number_enc: Mapped[bytes | None]
    id_number_hash: Mapped[bytes | None] = mapped_column(index=True)
    """Real name, needed for registered cards and for purchases of ¥10,000 or more."""


class AuthToken(CreatedAt, Base):
    """A sign-in; only the token's SHA-256 is stored."""

    __tablename__ = "auth_tokens"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (consumer_id IS NULL)", name="one_subject"),
    )

    token_hash: Mapped[bytes] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    consumer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("consumers.id"), index=True)
    expires_at: Mapped[datetime]


class OtpCode(UUIDPrimaryKey, CreatedAt, Base):
    """An SMS sign-in code; hashed, short-lived, a few attempts, used once."""

    __tablename__ = "otp_codes"

    phone_hash: Mapped[bytes] = mapped_column(index=True)
    code_hash: Mapped[bytes]
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None]


class RateLimitHit(Base):
    """Fixed-window counters shared by every app process (PostgreSQL is the only state)."""

    __tablename__ = "rate_limit_hits"

    bucket: Mapped[str] = mapped_column(Text, primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)


class SandboxSms(Base):
    """Messages the sandbox SMS sender 'sent': read by tests and shown in development only."""

    __tablename__ = "sandbox_sms"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    phone_hash: Mapped[bytes] = mapped_column(index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
