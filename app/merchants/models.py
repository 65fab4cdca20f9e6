"""Merchants, their industries and their card products."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.base import Base, CreatedAt, UUIDPrimaryKey, one_of


class MerchantStatus(enum.StrEnum):
    """pending → approved → active; suspended, defaulted and closed are set by regulators."""

    PENDING = "pending"
    APPROVED = "approved"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DEFAULTED = "defaulted"
    CLOSED = "closed"


class ProductStatus(enum.StrEnum):
    """A retired product is no longer sold; cards already sold are unaffected."""

    ACTIVE = "active"
    RETIRED = "retired"


class Industry(Base):
    """A configured industry and its cooling-off period (seeded by migration)."""

    __tablename__ = "industries"
    __table_args__ = (CheckConstraint("cooling_off_days >= 0", name="cooling_off_days"),)

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    cooling_off_days: Mapped[int] = mapped_column(Integer)


class Merchant(UUIDPrimaryKey, CreatedAt, Base):
    """A merchant; its id is also its escrow book's id."""

    __tablename__ = "merchants"
    __table_args__ = (
        CheckConstraint(one_of("status", MerchantStatus), name="status"),
        CheckConstraint("custody_ratio_bp BETWEEN 0 AND 10000", name="ratio"),
        CheckConstraint("char_length(uscc) = 18", name="uscc"),
        CheckConstraint(
            "ratio_floor_bp IS NULL OR ratio_floor_bp BETWEEN 0 AND 10000", name="floor"
        ),
    )

    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    legal_name: Mapped[str] = mapped_column(Text)
    industry: Mapped[str] = mapped_column(ForeignKey("industries.code"))
    district: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(Text)
    custody_bank: Mapped[str | None] = mapped_column(Text)
    custody_account_enc: Mapped[bytes | None]
    """Custody bank account number, encrypted (see ``app.security.pii``)."""
    policy_ref: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=MerchantStatus.PENDING)
    custody_ratio_bp: Mapped[int] = mapped_column(Integer, default=3000)
    """Custody ratio for new sales; cards keep the ratio they were sold with. It follows the
    grade (the district's grade actions) and never falls below ``ratio_floor_bp``."""
    ratio_floor_bp: Mapped[int | None] = mapped_column(Integer, default=None)
    """A regulator's raised ratio: the grade may raise the ratio above it, never below."""
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[uuid.UUID | None]
    street_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id"), default=None
    )
    """The street office (街道) of the merchant's address, where its warnings are routed."""


class SalesBlockKind(enum.StrEnum):
    """Why a merchant that is otherwise active may not sell new cards."""

    CUSTODY_SHORTFALL = "custody-shortfall"
    """Reconciliation found less in custody than the ledger holds."""
    POLICY_ENDED = "policy-ended"
    """Its insurance policy ended: new cards would have no insured share."""
    GRADE_REVIEW = "grade-review"
    """Its grade's action says no new sales until a regulator reviews it (E by default)."""
    HARD_STOP = "hard-stop"
    """Its licence was revoked or it filed for deregistration."""
    CLOSING = "closing"
    """It announced a closure or relocation: its cards are being settled. Never lifted."""


class SalesBlock(UUIDPrimaryKey, Base):
    """A reason the merchant may not sell, from when it was placed until a regulator lifts it.

    Several can hold at once (one of each kind); each is lifted with a reason, and kept.
    """

    __tablename__ = "sales_blocks"
    __table_args__ = (
        CheckConstraint(one_of("kind", SalesBlockKind), name="kind"),
        CheckConstraint("(lifted_at IS NULL) = (lift_reason IS NULL)", name="lifted_with_reason"),
        Index(
            "uq_sales_blocks_active",
            "merchant_id",
            "kind",
            unique=True,
            postgresql_where=text("lifted_at IS NULL"),
        ),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    kind: Mapped[str] = mapped_column(String(32))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB)
    """What placed it (a statement, a policy, a rating change), with its figures."""
    placed_at: Mapped[datetime]
    lifted_at: Mapped[datetime | None] = mapped_column(default=None)
    lifted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)
    lift_reason: Mapped[str | None] = mapped_column(Text, default=None)


class Product(UUIDPrimaryKey, CreatedAt, Base):
    """A card a merchant sells: stored value (face in fen) or a number of sessions."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("kind IN ('stored_value', 'sessions')", name="kind"),
        CheckConstraint(one_of("status", ProductStatus), name="status"),
        CheckConstraint("price > 0", name="price"),
        CheckConstraint("units > 0", name="units"),
        CheckConstraint("kind <> 'stored_value' OR price <= units", name="price_within_face"),
        CheckConstraint("validity_days IS NULL OR validity_days > 0", name="validity"),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    price: Mapped[int] = mapped_column(BigInteger)
    """What the consumer pays, in fen."""
    units: Mapped[int] = mapped_column(BigInteger)
    """Face value in fen (stored value) or number of sessions."""
    validity_days: Mapped[int | None] = mapped_column(Integer)
    """None: does not expire (registered cards)."""
    anonymous: Mapped[bool] = mapped_column(Boolean)
    """Sold without real name (then price ≤ the anonymous limit and validity ≥ 3 years)."""
    terms: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=ProductStatus.ACTIVE)
