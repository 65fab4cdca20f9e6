"""What a closure tells the rest of the platform, in the transaction that settles it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.events import Event

if TYPE_CHECKING:
    import uuid


@dataclass(frozen=True, slots=True)
class EmergencyTransferEnded(Event):
    """A failing merchant's transfer window closed: what did not move is to be paid out.

    The regulator who opened the window decided the default then; supervision declares it now,
    in the same transaction, so custody pays and the insurer's claim opens at once.
    """

    merchant_id: uuid.UUID
    closure_id: uuid.UUID
    decided_by: uuid.UUID | None
    reason: str
