"""The outbox: insurers, and the events for them written in the transaction that caused them.

A worker delivers each event until the insurer answers 2xx, with exponential backoff between
attempts; every attempt is kept. ``locked_until`` is a lease: a worker takes an event with
``FOR UPDATE SKIP LOCKED`` and sets it, so two workers never deliver the same event at once,
and an event whose worker died is taken again when the lease runs out.
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
    Identity,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.base import Base, CreatedAt, UUIDPrimaryKey, one_of
from app.clock import utcnow


class Insurer(UUIDPrimaryKey, CreatedAt, Base):
    """An insurance company and where it wants its events delivered."""

    __tablename__ = "insurers"

    name: Mapped[str] = mapped_column(Text, unique=True)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_secret_enc: Mapped[bytes]
    """The Standard Webhooks signing secret, encrypted (``app.security.pii``)."""


class EventStatus(enum.StrEnum):
    """pending until the insurer answers 2xx."""

    PENDING = "pending"
    DELIVERED = "delivered"


class OutboxEvent(Base):
    """One event for one insurer (Standard Webhooks: ``id``, ``type``, ``timestamp``, data)."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        CheckConstraint(one_of("status", EventStatus), name="status"),
        Index("ix_outbox_events_due", "status", "next_attempt_at"),
        Index("ix_outbox_events_insurer_seq", "insurer_id", "seq"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    """``msg_`` and a random suffix: the webhook-id, stable across retries."""
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)
    """Order of writing; the insurer pulls events after a sequence number."""
    insurer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("insurers.id"))
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=EventStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class DeliveryAttempt(Base):
    """One try at delivering an event, and what the insurer's endpoint answered."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("outbox_events.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
