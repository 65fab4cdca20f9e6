"""Warnings, their notes, regulator measures, and disputes with every step they took.

Each row about a merchant leads with ``merchant_id`` so that it shards with the books. A
warning is unique per (merchant, rule, cause): the same cause never raises it twice. A
dispute's statuses and owners are the workflow's (:mod:`app.supervision.dispute_rules`).
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
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.base import Base, CreatedAt, UUIDPrimaryKey, one_of
from app.clock import utcnow
from app.supervision.dispute_rules import DisputeOwner, DisputeStatus


class WarningRule(enum.StrEnum):
    """What raised a warning."""

    GRADE_DROP = "grade-drop"
    COMPLAINT_SURGE = "complaint-surge"
    SALES_SURGE = "sales-surge"
    DEEP_DISCOUNT = "deep-discount"
    CUSTODY_SHORTFALL = "custody-shortfall"
    HARD_OVERRIDE = "hard-override"
    DISPUTE_OVERDUE = "dispute-overdue"
    RATING_FAILED = "rating-failed"
    EXIT_PATTERN = "exit-pattern"


class WarningStatus(enum.StrEnum):
    """open → acknowledged → closed (with feedback)."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class Warning(UUIDPrimaryKey, Base):  # noqa: A001 - the domain's word
    """A signal for the regulator's queue, with its evidence."""

    __tablename__ = "warnings"
    __table_args__ = (
        CheckConstraint(one_of("rule", WarningRule), name="rule"),
        CheckConstraint(one_of("status", WarningStatus), name="status"),
        Index("uq_warnings_cause", "merchant_id", "rule", "cause_key", unique=True),
        Index("ix_warnings_district_status", "district", "status"),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    district: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(32))
    cause_key: Mapped[str] = mapped_column(Text)
    """What exactly raised it (a rating change, a record, a week): never raised twice."""
    title: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), default=WarningStatus.OPEN)
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[datetime | None]
    closed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None]
    feedback: Mapped[str | None] = mapped_column(Text)


class WarningNote(UUIDPrimaryKey, CreatedAt, Base):
    """A regulator's note on a warning."""

    __tablename__ = "warning_notes"

    warning_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("warnings.id"), index=True)
    author: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)


class MeasureKind(enum.StrEnum):
    """What a regulator can do to a merchant."""

    RAISE_CUSTODY_RATIO = "raise-custody-ratio"
    LIFT_CUSTODY_RATIO = "lift-custody-ratio"
    SUSPEND_SALES = "suspend-sales"
    LIFT_SUSPENSION = "lift-suspension"
    DECLARE_DEFAULT = "declare-default"
    GRADE_ACTION = "grade-action"
    """Taken by the platform itself: the district's grade actions applied to a new grade."""


class Measure(UUIDPrimaryKey, Base):
    """A measure against a merchant: what, by whom, when and why.

    ``taken_by`` is empty for the platform's own measures (grade actions following a grade).
    """

    __tablename__ = "measures"
    __table_args__ = (
        CheckConstraint(one_of("kind", MeasureKind), name="kind"),
        CheckConstraint("char_length(reason) > 0", name="reason"),
        Index("ix_measures_merchant_at", "merchant_id", "taken_at"),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)
    reason: Mapped[str] = mapped_column(Text)
    taken_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    taken_at: Mapped[datetime] = mapped_column(default=utcnow)


class GradeActionsVersion(Base):
    """A district's grade actions as a regulator set them: one row per version, never edited.

    ``actions`` maps each grade to the custody ratio of new sales and whether sales go on
    (``allowed``) or wait for a regulator's review (``review``). District ``*`` is the
    city-wide default, used where a district has set none.
    """

    __tablename__ = "grade_actions"
    __table_args__ = (
        CheckConstraint("version > 0", name="version"),
        CheckConstraint("char_length(reason) > 0", name="reason"),
        Index("uq_grade_actions_version", "district", "version", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    district: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    actions: Mapped[dict[str, Any]] = mapped_column(JSONB)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Dispute(UUIDPrimaryKey, Base):
    """A consumer's complaint about a card, and where it stands."""

    __tablename__ = "disputes"
    __table_args__ = (
        CheckConstraint(one_of("status", DisputeStatus), name="status"),
        CheckConstraint(one_of("owner", DisputeOwner), name="owner"),
        CheckConstraint("amount_asked >= 0", name="amount_asked"),
        CheckConstraint(
            "decision IS NULL OR decision IN ('refund', 'partial', 'reject')", name="decision"
        ),
        CheckConstraint("decided_amount IS NULL OR decided_amount >= 0", name="decided_amount"),
        Index("ix_disputes_merchant_filed", "merchant_id", "filed_at"),
        Index("ix_disputes_owner_deadline", "status", "deadline_at"),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    district: Mapped[str] = mapped_column(String(64))
    card_id: Mapped[uuid.UUID] = mapped_column(index=True)
    consumer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("consumers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    amount_asked: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=DisputeStatus.FILED)
    owner: Mapped[str] = mapped_column(String(16), default=DisputeOwner.MERCHANT)
    deadline_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    filed_at: Mapped[datetime] = mapped_column(default=utcnow)
    merchant_answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]
    decision: Mapped[str | None] = mapped_column(String(16))
    decided_amount: Mapped[int | None] = mapped_column(BigInteger)
    decision_text: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    refund_seq: Mapped[int | None] = mapped_column(BigInteger)
    """The ledger entry that paid the decided refund."""
    closed_at: Mapped[datetime | None]


class DisputeEvent(Base):
    """One step of a dispute: who did what, when (the dispute's timeline)."""

    __tablename__ = "dispute_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    dispute_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("disputes.id"), index=True)
    step: Mapped[str] = mapped_column(String(32))
    actor_role: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None]
    note: Mapped[str | None] = mapped_column(Text)
    """What the person who took the step wrote, as written."""
    facts: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    """What the step did, as data (:attr:`app.supervision.dispute_rules.Move.facts`)."""
    at: Mapped[datetime] = mapped_column(default=utcnow)


__all__ = [
    "Dispute",
    "DisputeEvent",
    "DisputeOwner",
    "DisputeStatus",
    "GradeActionsVersion",
    "Measure",
    "MeasureKind",
    "Warning",
    "WarningNote",
    "WarningRule",
    "WarningStatus",
]
