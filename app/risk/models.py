"""Indicator records, imports, model files, current ratings, grade changes and the re-rate queue.

Every table that is about one merchant leads with ``merchant_id``, so it shards with the books.
Indicator records are facts as received: append-only, deduplicated by a fingerprint of the
whole record, so importing the same data twice changes nothing. The one exception is the
platform's own daily sales snapshot, which is recomputed during its day (its fingerprint
leaves the value out, so the day's row is updated in place).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.base import Base, CreatedAt, UUIDPrimaryKey
from app.clock import utcnow
from scoring import GRADES, Source

SOURCES = ", ".join(f"'{s.value}'" for s in Source)
GRADE_CHECK = ", ".join(f"'{g}'" for g in GRADES)


class IndicatorImport(UUIDPrimaryKey, CreatedAt, Base):
    """One batch of indicator records as received (a CSV file or an API call) and its report.

    The digest of the batch is unique: the same file imported again is recognised and its
    first report returned, with nothing written.
    """

    __tablename__ = "indicator_imports"
    __table_args__ = (CheckConstraint("channel IN ('csv', 'api')", name="channel"),)

    channel: Mapped[str] = mapped_column(String(8))
    origin: Mapped[str] = mapped_column(Text)
    """The file name, or who called the API."""
    digest: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    imported_by: Mapped[uuid.UUID | None]
    accepted: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    unknown: Mapped[int] = mapped_column(Integer)
    """Rows whose (valid) code names no merchant on the platform."""
    malformed: Mapped[int] = mapped_column(Integer)
    report: Mapped[dict[str, Any]] = mapped_column(JSONB)


class IndicatorRecord(Base):
    """One fact about one merchant from one source, as of a date, with its provenance."""

    __tablename__ = "indicator_records"
    __table_args__ = (
        CheckConstraint(f"source IN ({SOURCES})", name="source"),
        Index(
            "ix_indicator_records_latest",
            "merchant_id",
            "source",
            "kind",
            "as_of",
            "id",
            postgresql_include=["value"],
        ),
        Index(
            "ix_indicator_records_exit_steps",
            "merchant_id",
            "as_of",
            postgresql_where=text(
                "source = 'registration'"
                " AND kind IN ('capital_change', 'equity_transfer', 'legal_representative_change')"
            ),
        ),
        Index(
            "ix_indicator_records_platform_complaints",
            "merchant_id",
            postgresql_where=text("source = 'complaints' AND provenance = 'platform:complaints'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    source: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSONB)
    """A number, true/false or a category, as the catalogue says for the kind."""
    as_of: Mapped[date] = mapped_column(Date)
    provenance: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary)
    import_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("indicator_imports.id"))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


Index(
    "uq_indicator_records_merchant_fingerprint",
    IndicatorRecord.merchant_id,
    IndicatorRecord.fingerprint,
    unique=True,
)


class ScoringModel(CreatedAt, Base):
    """A model file as saved by ``pguard scoring train``; at most one is active."""

    __tablename__ = "scoring_models"
    __table_args__ = (
        Index("uq_scoring_models_active", "active", unique=True, postgresql_where=text("active")),
    )

    version: Mapped[str] = mapped_column(Text, primary_key=True)
    file: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    summary: Mapped[dict[str, Any]] = mapped_column(JSONB)
    """Training data summary and metrics, from the file's manifest."""
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    activated_at: Mapped[datetime | None]
    activated_by: Mapped[uuid.UUID | None]


class Rating(Base):
    """A merchant's current rating; its grade changes are kept in :class:`RatingChange`."""

    __tablename__ = "ratings"
    __table_args__ = (
        CheckConstraint(f"grade IN ({GRADE_CHECK})", name="grade"),
        CheckConstraint(f"model_grade IN ({GRADE_CHECK})", name="model_grade"),
        CheckConstraint("probability BETWEEN 0 AND 1", name="probability"),
        {"postgresql_with": {"fillfactor": 70}},
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    probability: Mapped[float] = mapped_column(Float)
    reference_probability: Mapped[float] = mapped_column(Float)
    grade: Mapped[str] = mapped_column(String(1), index=True)
    model_grade: Mapped[str] = mapped_column(String(1))
    overrides: Mapped[list[str]] = mapped_column(JSONB)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    """Top reasons, each with the record that supplied its value."""
    contributions: Mapped[list[float]] = mapped_column(ARRAY(Float))
    """Every feature's share of ``probability - reference_probability``, in the order of
    ``scoring.FEATURES``, which every live model reads in that order)."""
    model_version: Mapped[str] = mapped_column(Text)
    cut_points_version: Mapped[str] = mapped_column(Text)
    scored_for: Mapped[date] = mapped_column(Date)
    """Records dated before this day were used."""
    rated_at: Mapped[datetime] = mapped_column(default=utcnow)
    cause: Mapped[str] = mapped_column(Text)
    basis: Mapped[bytes | None] = mapped_column(LargeBinary)
    """A digest of what the reasons were built from (:func:`app.risk.batch.bases`); a
    re-rating with the same digest keeps the stored reasons."""


class RecordStamp(Base):
    """How often a merchant's records have changed, kept by triggers on ``indicator_records``.

    ``version`` counts the statements that inserted, updated or deleted its records;
    ``newest_as_of`` is the latest date any of them carried. No foreign key: a record's insert
    must not also lock its merchant.
    """

    __tablename__ = "record_stamps"

    merchant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    newest_as_of: Mapped[date]


class RatingInputs(Base):
    """What the last read of a merchant's records gave a rating, kept until they change.

    ``held`` is the catalogue's values (a category by its place in the catalogue) followed by
    the ids of the records they came from, as NumPy lays them out (:mod:`app.risk.batch`):
    a cache for the re-rating, not a record of anything.
    """

    __tablename__ = "rating_inputs"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    """The merchant's :class:`RecordStamp` version when it was read (0: no records)."""
    read_for: Mapped[date]
    """The scoring day it was read for: records dated before it."""
    held: Mapped[bytes] = mapped_column(LargeBinary)


class RatingChange(Base):
    """A merchant's grade changed (or it was first rated): when, to what, and why."""

    __tablename__ = "rating_changes"
    __table_args__ = (Index("ix_rating_changes_merchant_at", "merchant_id", "changed_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    from_grade: Mapped[str | None] = mapped_column(String(1))
    to_grade: Mapped[str] = mapped_column(String(1))
    probability: Mapped[float] = mapped_column(Float)
    model_version: Mapped[str] = mapped_column(Text)
    cause: Mapped[str] = mapped_column(Text)
    cause_ref: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class RerateRequest(Base):
    """A merchant waiting to be re-rated, written in the same transaction as its cause."""

    __tablename__ = "rerate_queue"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    cause: Mapped[str] = mapped_column(Text)
    cause_ref: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)


class RatingFailure(Base):
    """A merchant that could not be rated, set aside so that it stops nobody else.

    Kept with its error until a retry rates it; retries back off (``next_attempt_at``). The
    operator sees the list (``GET /ratings/failures``) and a warning is raised for each.
    """

    __tablename__ = "rating_failures"
    __table_args__ = (
        CheckConstraint("attempts > 0", name="attempts"),
        Index("ix_rating_failures_next", "next_attempt_at"),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    error: Mapped[str] = mapped_column(Text)
    """The last error, as the rater raised it."""
    attempts: Mapped[int] = mapped_column(Integer)
    cause: Mapped[str] = mapped_column(Text)
    """Why it was being re-rated when it first failed (kept for the retry)."""
    cause_ref: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime]
    """When it first failed."""
    last_failed_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
