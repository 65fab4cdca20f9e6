"""A merchant's payment of the refunds it owes, through the payment provider."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.base import Base, CreatedAt, UUIDPrimaryKey, one_of


class PaymentStatus(enum.StrEnum):
    """pending → paid (the provider's signed notification) or failed (closed unpaid)."""

    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"


class PayablePayment(UUIDPrimaryKey, CreatedAt, Base):
    """A merchant paying what it owes consumers, as it would pay any bill at the provider.

    The money pays the merchant's payables, earliest deadline first, when the provider's
    notification arrives. What arrives beyond what is still owed then (the rest was withheld
    from a sale or claimed meanwhile) is owed back to the merchant: ``excess_fen``.
    """

    __tablename__ = "payable_payments"
    __table_args__ = (
        CheckConstraint(one_of("status", PaymentStatus), name="status"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("settled_fen >= 0 AND excess_fen >= 0", name="split"),
        UniqueConstraint("merchant_id", "idempotency_key", name="uq_payable_payments_key"),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=PaymentStatus.PENDING)
    provider: Mapped[str] = mapped_column(String(32))
    provider_order_id: Mapped[str] = mapped_column(Text, unique=True)
    idempotency_key: Mapped[str] = mapped_column(Text)
    settled_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    """What the payment settled of the merchant's payables."""
    excess_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    """What arrived beyond what was owed: to be paid back to the merchant."""
    ledger_seq: Mapped[int | None] = mapped_column(BigInteger, default=None)
    paid_at: Mapped[datetime | None] = mapped_column(default=None)
