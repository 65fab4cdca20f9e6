"""What the complaint desk tells the rest of the platform, in the transaction of the filing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.events import Event

if TYPE_CHECKING:
    import uuid
    from datetime import datetime


@dataclass(frozen=True, slots=True)
class ComplaintFiled(Event):
    """A consumer filed a complaint (a dispute) about a merchant."""

    merchant_id: uuid.UUID
    dispute_id: uuid.UUID
    filed_at: datetime


@dataclass(frozen=True, slots=True)
class WarningRaised(Event):
    """The risk engine (or a rule) raised a new warning about a merchant."""

    merchant_id: uuid.UUID
    warning_id: uuid.UUID
