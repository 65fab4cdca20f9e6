"""Merchants, their industries and their card products."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String, Text
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
    """Custody ratio for new sales; cards keep the ratio they were sold with."""
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[uuid.UUID | None]
    sales_blocked: Mapped[str | None] = mapped_column(Text, default=None)
    """Why new sales are blocked while the merchant stays active (a custody shortfall)."""


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
