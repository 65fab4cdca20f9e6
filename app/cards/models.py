"""Orders, who holds each card, contracts, redemption codes, refunds.

Balances live in the escrow ledger; these tables hold what the web of people around a card
needs: who bought it, what they agreed to, and the codes and requests that move it.
"""

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
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.base import Base, CreatedAt, UUIDPrimaryKey, one_of


class OrderStatus(enum.StrEnum):
    """pending until the provider's signed notification says paid (final) or failed."""

    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    REFUND_DUE = "refund_due"
    """Paid at the provider after the merchant was declared in default or closed: no card is
    issued (its book is frozen) and the payment is owed back to the buyer."""


class RefundStatus(enum.StrEnum):
    """A request outside cooling-off waits for the merchant's answer."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REFUSED = "refused"


class Order(UUIDPrimaryKey, CreatedAt, Base):
    """A consumer's order for one card; paid exactly once, issuing exactly one card."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(one_of("status", OrderStatus), name="status"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint(
            "consumer_id IS NOT NULL OR anon_secret_hash IS NOT NULL", name="has_holder"
        ),
        UniqueConstraint("idempotency_scope", "idempotency_key", name="uq_orders_idempotency"),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"), index=True)
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"))
    consumer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("consumers.id"), index=True)
    anon_secret_hash: Mapped[bytes | None] = mapped_column(unique=True)
    """SHA-256 of the secret card link of an anonymous buyer."""
    amount: Mapped[int] = mapped_column(BigInteger)
    custody_ratio_bp: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.PENDING)
    provider: Mapped[str] = mapped_column(String(32))
    provider_order_id: Mapped[str] = mapped_column(Text, unique=True)
    idempotency_scope: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(Text)
    request_hash: Mapped[bytes]
    card_id: Mapped[uuid.UUID | None] = mapped_column(unique=True)
    real_name_enc: Mapped[bytes | None]
    id_number_enc: Mapped[bytes | None]
    paid_at: Mapped[datetime | None]


class CardHolder(CreatedAt, Base):
    """Who holds an escrow card, under which product, until when."""

    __tablename__ = "card_holders"

    card_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"), index=True)
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"))
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("orders.id"), unique=True)
    """The order that bought it; None for a card that came from a closing merchant."""
    transferred_from: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("card_holders.card_id"), unique=True
    )
    """The closing merchant's card this one took over (its history stays there)."""
    consumer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("consumers.id"), index=True)
    anon_secret_hash: Mapped[bytes | None] = mapped_column(unique=True)
    registered: Mapped[bool] = mapped_column(Boolean)
    expires_at: Mapped[datetime | None]
    """None: never expires. An expired card with a balance is reactivated, never forfeited."""


class Contract(CreatedAt, Base):
    """What the consumer agreed to at purchase, frozen, with its SHA-256."""

    __tablename__ = "contracts"

    card_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("card_holders.card_id"), primary_key=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"), index=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sha256: Mapped[bytes]


class RedemptionCode(UUIDPrimaryKey, CreatedAt, Base):
    """A consent code shown on the consumer's card: one use, one merchant, two minutes."""

    __tablename__ = "redemption_codes"
    __table_args__ = (
        Index("ix_redemption_codes_merchant_digits", "merchant_id", "digits"),
        CheckConstraint(
            "used_units IS NULL OR (used_units > 0 AND used_units <= max_units"
            " AND used_at IS NOT NULL)",
            name="used_units",
        ),
    )

    card_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("card_holders.card_id"), index=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    digits: Mapped[str] = mapped_column(String(6))
    nonce: Mapped[str] = mapped_column(Text, unique=True)
    max_units: Mapped[int] = mapped_column(BigInteger)
    """The most the holder consented to: the merchant may redeem up to this, once."""
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_key: Mapped[str | None] = mapped_column(Text)
    """The idempotency key of the redemption that used the code (a retry replays it)."""
    used_units: Mapped[int | None] = mapped_column(BigInteger)
    """What the merchant redeemed with it (at most ``max_units``): the holder's screen says it."""


class RefundRequest(UUIDPrimaryKey, CreatedAt, Base):
    """A consumer's refund request outside cooling-off, answered by the merchant."""

    __tablename__ = "refund_requests"
    __table_args__ = (
        CheckConstraint(one_of("status", RefundStatus), name="status"),
        UniqueConstraint("card_id", "idempotency_key", name="uq_refund_requests_key"),
    )

    card_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("card_holders.card_id"), index=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=RefundStatus.PENDING)
    answer: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[uuid.UUID | None]
    refunded: Mapped[int | None] = mapped_column(BigInteger)
    """Amount paid back when accepted, in fen."""
