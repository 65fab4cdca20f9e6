"""What rating and ingestion tell the rest of the platform, in the transaction that did it.

``app.risk`` publishes these and knows nothing of who listens: the warning rules and the
grade actions (``app.supervision.handlers``) react in the same transaction, so a warning or a
new custody ratio exists exactly when the rating or record that caused it does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.events import Event

if TYPE_CHECKING:
    import uuid
    from collections.abc import Mapping
    from datetime import datetime


@dataclass(frozen=True, slots=True)
class RatingChanged(Event):
    """A merchant's grade changed (or it was rated for the first time); kept in its history."""

    merchant_id: uuid.UUID
    before: str | None
    after: str
    change_id: str
    """The grade-history row (``rating_changes.id``) that records the change."""
    evidence: Mapping[str, Any] = field(default_factory=dict)
    """Probability, cause and model version, as a warning cites them."""


@dataclass(frozen=True, slots=True)
class GradeRevised(Event):
    """A rating moved the grade or brought hard overrides the merchant did not have before.

    Published after every :class:`RatingChanged` of the same batch, merchant by merchant, each
    one followed by the merchant's :class:`ExitPatternFound` when the exit path is new.
    """

    merchant_id: uuid.UUID
    before: str | None
    grade: str
    cause: str
    new_overrides: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ExitPatternFound(Event):
    """Capital cut, equity transfer and a new legal representative within the exit window."""

    merchant_id: uuid.UUID
    steps: tuple[Mapping[str, Any], ...]
    """The records that make up the path, as evidence cites them."""


@dataclass(frozen=True, slots=True)
class SalesFiguresRecorded(Event):
    """Today's snapshot of a merchant's prepaid sales figures was written (surge, discount...)."""

    merchant_id: uuid.UUID
    figures: Mapping[str, float]
    at: datetime


@dataclass(frozen=True, slots=True)
class RatingFailed(Event):
    """A merchant could not be rated and was set aside; its grade is stale until mended."""

    merchant_id: uuid.UUID
    since: datetime
    error: str
    attempts: int


@dataclass(frozen=True, slots=True)
class RecordIngested(Event):
    """A new indicator record was stored (a duplicate of one held is not new)."""

    merchant_id: uuid.UUID
    record_id: int
    source: str
    kind: str
    value: object
    as_of: str
    """The record's date, ISO format, as evidence cites it."""
