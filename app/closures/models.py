"""A merchant's orderly exit: the notice, the holders' choices, successors and messages.

A closure is announced at least the notice period ahead; every open card gets a row saying
what its holder chose (keep until the date, refund now, move to a successor) and what came
of it. Successors are named with the terms on which they take the cards over, and accept
them once. Every message to a holder is kept with its delivery status.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.base import Base, CreatedAt, UUIDPrimaryKey, one_of


class ClosureKind(enum.StrEnum):
    """Closing for good, moving away (the cards cannot follow the counter), or failing."""

    CLOSURE = "closure"
    RELOCATION = "relocation"
    EMERGENCY = "emergency"
    """A regulator's emergency transfer of a failing merchant's cards: a short window to move
    them to a successor, then the default, whose guaranteed payout takes the rest."""


class ClosureStatus(enum.StrEnum):
    """announced (sales stopped, holders choosing) until the date, then closed."""

    ANNOUNCED = "announced"
    CLOSED = "closed"


class Choice(enum.StrEnum):
    """What a holder chose for a card before the closing date."""

    KEEP = "keep"
    """Use it until the date; what is left then is refunded."""
    REFUND = "refund"
    """Refunded at once, at its outstanding amount."""
    TRANSFER = "transfer"
    """Moved to a successor merchant on the successor's accepted terms."""
    PAYOUT = "payout"
    """An emergency transfer's other way: the guaranteed payout when the default is declared."""


class Outcome(enum.StrEnum):
    """What became of a card of a closing merchant."""

    REFUNDED = "refunded"
    TRANSFERRED = "transferred"
    USED_UP = "used_up"
    """Nothing was left on it at the date."""
    PAID_OUT = "paid_out"
    """Paid out by the default that ended an emergency transfer (custody, then the insurer)."""


class Channel(enum.StrEnum):
    """How a holder is told: on the card's page, and by text message to the phone on file."""

    IN_APP = "in_app"
    SMS = "sms"


class DeliveryStatus(enum.StrEnum):
    """pending until the gateway took it (sent) or refused it for good (failed)."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Closure(UUIDPrimaryKey, CreatedAt, Base):
    """A merchant's announced closure or relocation, with its date and reason."""

    __tablename__ = "closures"
    __table_args__ = (
        CheckConstraint(one_of("kind", ClosureKind), name="kind"),
        CheckConstraint(one_of("status", ClosureStatus), name="status"),
        CheckConstraint("closes_at > created_at", name="ahead"),
        Index(
            "uq_closures_one_announced",
            "merchant_id",
            unique=True,
            postgresql_where=text("status = 'announced'"),
        ),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=ClosureStatus.ANNOUNCED)
    closes_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    filed_by: Mapped[uuid.UUID | None]
    filed_role: Mapped[str] = mapped_column(String(16))
    closed_at: Mapped[datetime | None]


class SuccessorOffer(UUIDPrimaryKey, CreatedAt, Base):
    """A successor merchant named to take the cards over, and the terms it accepted.

    ``terms`` maps products: ``[{"from": product id, "to": product id, "per_unit": n}]``, a
    unit left on the old card becoming ``n`` units of the new one (1 session = 1 session; a
    fen of face value = a fen).
    """

    __tablename__ = "successor_offers"
    __table_args__ = (UniqueConstraint("closure_id", "successor_id", name="uq_successor_offers"),)

    closure_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("closures.id"), index=True)
    successor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"), index=True)
    terms: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    named_by: Mapped[uuid.UUID | None]
    accepted_at: Mapped[datetime | None]
    accepted_by: Mapped[uuid.UUID | None]


class ClosureCard(Base):
    """One open card of a closing merchant: its holder's choice and what came of it."""

    __tablename__ = "closure_cards"
    __table_args__ = (
        CheckConstraint(f"choice IS NULL OR {one_of('choice', Choice)}", name="choice"),
        CheckConstraint(f"outcome IS NULL OR {one_of('outcome', Outcome)}", name="outcome"),
        CheckConstraint("(choice = 'transfer') = (offer_id IS NOT NULL)", name="transfer_offer"),
        CheckConstraint("(outcome = 'transferred') = (new_card_id IS NOT NULL)", name="new_card"),
    )

    closure_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("closures.id"), primary_key=True)
    card_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("card_holders.card_id"), primary_key=True, unique=True
    )
    consumer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("consumers.id"))
    choice: Mapped[str | None] = mapped_column(String(16))
    offer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("successor_offers.id"))
    chosen_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))
    outcome_at: Mapped[datetime | None]
    refunded: Mapped[int | None] = mapped_column(BigInteger)
    new_card_id: Mapped[uuid.UUID | None]


class Notification(UUIDPrimaryKey, CreatedAt, Base):
    """A message to a holder about a closure: on a card's page, or one text per holder."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(one_of("channel", Channel), name="channel"),
        CheckConstraint(one_of("status", DeliveryStatus), name="status"),
        CheckConstraint(
            "channel <> 'sms' OR (consumer_id IS NOT NULL AND card_id IS NULL)", name="sms_holder"
        ),
        CheckConstraint("channel <> 'in_app' OR card_id IS NOT NULL", name="in_app_card"),
        UniqueConstraint(
            "closure_id",
            "channel",
            "consumer_id",
            "card_id",
            name="uq_notifications",
            postgresql_nulls_not_distinct=True,
        ),
        Index(
            "ix_notifications_pending", "created_at", postgresql_where=text("status = 'pending'")
        ),
    )

    closure_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("closures.id"), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    consumer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("consumers.id"), index=True)
    card_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("card_holders.card_id"), index=True
    )
    status: Mapped[str] = mapped_column(String(8), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime | None]
    provider_ref: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
