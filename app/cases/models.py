"""Departments and streets, cases, each department's task on a case, and every hand-over.

A case names exactly one subject (a dispute, a warning or a hotline ticket) and each subject
has at most one case. A department holds at most one open task on a case. ``case_events`` is
append-only: who routed, handed over, found and confirmed what, and when.
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
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.base import Base, CreatedAt, UUIDPrimaryKey, one_of
from app.clock import utcnow


class OrgKind(enum.StrEnum):
    """A department of the district government, or a street office (街道)."""

    DEPARTMENT = "department"
    STREET = "street"


class Organisation(UUIDPrimaryKey, Base):
    """A department or street office of a district; its staff sign in with role ``department``."""

    __tablename__ = "organisations"
    __table_args__ = (
        CheckConstraint(one_of("kind", OrgKind), name="kind"),
        UniqueConstraint("district", "code", name="uq_organisations_district_code"),
    )

    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(32))
    """Stable within the district: ``commerce``, ``market``, ``health``, ``street-hubin``..."""
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    district: Mapped[str] = mapped_column(String(64))


class Subject(enum.StrEnum):
    """What a case is about."""

    DISPUTE = "dispute"
    WARNING = "warning"
    HOTLINE = "hotline"


class CaseStatus(enum.StrEnum):
    """open → resolved (every task done) → confirmed (the consumer answered)."""

    OPEN = "open"
    RESOLVED = "resolved"
    CONFIRMED = "confirmed"


class HotlineTicket(Base):
    """A 12345 work order as the hotline sent it; imported once, by its ticket id."""

    __tablename__ = "hotline_tickets"

    ticket_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime]
    caller_phone_enc: Mapped[bytes]
    caller_phone_hash: Mapped[bytes] = mapped_column(LargeBinary, index=True)
    merchant_code: Mapped[str | None] = mapped_column(String(18))
    merchant_name: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    merchant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("merchants.id"), index=True)
    """Matched by credit code at import, or by a regulator when only a name was given."""
    district: Mapped[str | None] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    import_origin: Mapped[str] = mapped_column(Text)


class Case(UUIDPrimaryKey, Base):
    """One matter for the district's departments, about one subject."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(one_of("subject", Subject), name="subject"),
        CheckConstraint(one_of("status", CaseStatus), name="status"),
        CheckConstraint("num_nonnulls(dispute_id, warning_id, ticket_id) = 1", name="one_subject"),
        Index("uq_cases_dispute", "dispute_id", unique=True),
        Index("uq_cases_warning", "warning_id", unique=True),
        Index("uq_cases_ticket", "ticket_id", unique=True),
        Index("ix_cases_district_status", "district", "status"),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"), index=True)
    district: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(16))
    dispute_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("disputes.id"))
    warning_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("warnings.id"))
    ticket_id: Mapped[str | None] = mapped_column(ForeignKey("hotline_tickets.ticket_id"))
    summary: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.OPEN)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    opened_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    satisfied: Mapped[bool | None]
    """The consumer's answer to the outcome: satisfied or not."""
    consumer_comment: Mapped[str | None] = mapped_column(Text)


class TaskStatus(enum.StrEnum):
    """open → done (with a finding), or handed_over to another department."""

    OPEN = "open"
    DONE = "done"
    HANDED_OVER = "handed_over"


class Finding(enum.StrEnum):
    """What a department found; a penalty becomes an indicator record of the merchant."""

    PENALTY = "penalty"
    ORDER_TO_CORRECT = "order-to-correct"
    REFUND_ARRANGED = "refund-arranged"
    NO_VIOLATION = "no-violation"


class CaseTask(UUIDPrimaryKey, CreatedAt, Base):
    """One department's part of a case: what to do, who does it, by when, what it found."""

    __tablename__ = "case_tasks"
    __table_args__ = (
        CheckConstraint(one_of("status", TaskStatus), name="status"),
        CheckConstraint(f"finding IS NULL OR {one_of('finding', Finding)}", name="finding"),
        CheckConstraint("(status = 'done') = (finding IS NOT NULL)", name="done_has_finding"),
        CheckConstraint(
            "finding <> 'penalty' OR (penalty_fen > 0 AND document_no IS NOT NULL)",
            name="penalty_documented",
        ),
        Index(
            "uq_case_tasks_open",
            "case_id",
            "organisation_id",
            unique=True,
            postgresql_where=text("status = 'open'"),
        ),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    task: Mapped[str] = mapped_column(Text)
    lead: Mapped[bool]
    """The department leading a joint handling (the first routed); the others assist."""
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    deadline_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.OPEN)
    finding: Mapped[str | None] = mapped_column(String(24))
    finding_text: Mapped[str | None] = mapped_column(Text)
    penalty_fen: Mapped[int | None] = mapped_column(BigInteger)
    document_no: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None]
    done_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class CaseEvent(Base):
    """One step of a case, kept for good: routed, taken, handed over, found, resolved..."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    task_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("case_tasks.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(24))
    actor_role: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None]
    """A staff user, or the consumer confirming (ids of two tables: no foreign key)."""
    facts: Mapped[dict[str, Any]] = mapped_column(JSONB)
    """What the step said: departments from and to, deadline, finding, note (as entered)."""
