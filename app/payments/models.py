"""The provider's notifications as received: kept once each, whatever they paid."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.base import Base


class PaymentNotification(Base):
    """Every notification received, once: duplicates are recognised by the provider's id.

    It names what it paid by foreign key only (a card order or a merchant's payment of the
    refunds it owes), so the provider's adapter needs neither of the areas it pays.
    """

    __tablename__ = "payment_notifications"
    __table_args__ = (
        CheckConstraint("(order_id IS NULL) <> (payment_id IS NULL)", name="about_one_payment"),
    )

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("orders.id"), index=True)
    """A consumer's card order, or..."""
    payment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("payable_payments.id"), index=True, default=None
    )
    """...a merchant's payment of the refunds it owes."""
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime]
