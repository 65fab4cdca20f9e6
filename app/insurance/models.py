"""Insurers, policies (one active per merchant) with a premium schedule by grade, and claims."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.base import Base, CreatedAt, UUIDPrimaryKey, one_of
from app.clock import utcnow
from app.outbox.models import Insurer

__all__ = [
    "Claim",
    "ClaimCard",
    "ClaimKind",
    "ClaimStatus",
    "Insurer",
    "Policy",
    "PolicyStatus",
]
"""``Insurer`` is the outbox's (an insurer is where events go); kept importable from here."""


class PolicyStatus(enum.StrEnum):
    """An active policy covers new sales; an ended one still covers cards sold under it."""

    ACTIVE = "active"
    ENDED = "ended"


class Policy(UUIDPrimaryKey, CreatedAt, Base):
    """A performance-bond policy covering a merchant's prepaid cards."""

    __tablename__ = "policies"
    __table_args__ = (
        CheckConstraint(one_of("status", PolicyStatus), name="status"),
        CheckConstraint("coverage_fen > 0", name="coverage"),
        Index(
            "uq_policies_active_merchant",
            "merchant_id",
            unique=True,
            postgresql_where=text("status = 'active'"),
        ),
    )

    insurer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("insurers.id"), index=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    number: Mapped[str] = mapped_column(Text, unique=True)
    coverage_fen: Mapped[int] = mapped_column(BigInteger)
    """The most the insurer will pay on this merchant's cards."""
    status: Mapped[str] = mapped_column(String(16), default=PolicyStatus.ACTIVE)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    premium_schedule: Mapped[dict[str, Any]] = mapped_column(JSONB)
    """Annual premium rate per grade, in basis points of the insured exposure, versioned."""


class ClaimStatus(enum.StrEnum):
    """triggered → acknowledged → paid → closed."""

    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    PAID = "paid"
    CLOSED = "closed"


class ClaimKind(enum.StrEnum):
    """What a claim is for."""

    DEFAULT = "default"
    """A declared default: every open card's insured share (and every unpaid payable)."""
    REFUND_PAYABLE = "refund-payable"
    """Refund payables the merchant did not pay by their deadline."""


class Claim(UUIDPrimaryKey, Base):
    """An insurance claim: a merchant's default, or refund payables past their deadline."""

    __tablename__ = "claims"
    __table_args__ = (
        CheckConstraint(one_of("status", ClaimStatus), name="status"),
        CheckConstraint(one_of("kind", ClaimKind), name="kind"),
        CheckConstraint("total_fen >= 0", name="total"),
        Index(
            "uq_claims_default_merchant",
            "merchant_id",
            unique=True,
            postgresql_where=text("kind = 'default'"),
        ),
        Index("ix_claims_merchant", "merchant_id"),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    """A merchant defaults once; payables past their deadline may be claimed many times."""
    kind: Mapped[str] = mapped_column(String(16), default=ClaimKind.DEFAULT)
    insurer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("insurers.id"), index=True)
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id"))
    total_fen: Mapped[int] = mapped_column(BigInteger)
    cards: Mapped[int] = mapped_column(BigInteger)
    """How many lines the claim has."""
    status: Mapped[str] = mapped_column(String(16), default=ClaimStatus.TRIGGERED)
    ledger_seq: Mapped[int] = mapped_column(BigInteger)
    """The ledger entry that moved the amounts to claims (the default payout, or the
    payables' claim)."""
    triggered_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    payment_ref: Mapped[str | None] = mapped_column(Text)
    payment_seq: Mapped[int | None] = mapped_column(BigInteger)
    closed_at: Mapped[datetime | None]


class ClaimCard(Base):
    """One line of a claim: a card's insured share, or one payable, owed to the card's holder."""

    __tablename__ = "claim_cards"
    __table_args__ = (
        CheckConstraint("amount_fen >= 0", name="amount"),
        Index(
            "uq_claim_cards_line",
            "claim_id",
            "card_id",
            "payable_seq",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id"))
    card_id: Mapped[uuid.UUID]
    payable_seq: Mapped[int | None] = mapped_column(BigInteger, default=None)
    """The refund payable this line pays; None for a defaulted card's insured share."""
    outstanding_fen: Mapped[int] = mapped_column(BigInteger)
    """What the consumer is owed in all on this line's card (or payable)."""
    custody_paid_fen: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    """What the insurer pays this card's holder on this line."""
    paid_at: Mapped[datetime | None] = mapped_column(default=None)


Index("ix_claims_status", Claim.status)
