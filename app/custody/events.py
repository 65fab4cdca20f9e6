"""What reconciling the custody bank's statement tells the rest of the platform."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.events import Event

if TYPE_CHECKING:
    import uuid
    from collections.abc import Mapping


@dataclass(frozen=True, slots=True)
class ShortfallFound(Event):
    """A statement shows less in the merchant's custody account than the ledger holds."""

    merchant_id: uuid.UUID
    statement_id: str
    shortfall_fen: int
    evidence: Mapping[str, Any] = field(default_factory=dict)
    """The statement's file name and the days it covers."""
