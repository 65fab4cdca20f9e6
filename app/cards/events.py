"""What selling cards tells the rest of the platform, in the transaction of the sale."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.events import Event

if TYPE_CHECKING:
    import uuid


@dataclass(frozen=True, slots=True)
class CardSold(Event):
    """A card was paid for and issued: the merchant's sales figures moved."""

    merchant_id: uuid.UUID
    card_id: uuid.UUID
