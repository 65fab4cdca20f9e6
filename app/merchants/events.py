"""What onboarding tells the rest of the platform, in the transaction of the change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.events import Event

if TYPE_CHECKING:
    import uuid


@dataclass(frozen=True, slots=True)
class MerchantRegistered(Event):
    """A merchant registered (pending approval); with no records yet, it is rated from nothing."""

    merchant_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class MerchantActivated(Event):
    """An approved merchant is about to open its escrow book and sell under ``policy_ref``.

    A handler that finds the activation unsafe (no insurer registered the declared policy)
    refuses it by raising: the whole activation then rolls back.
    """

    merchant_id: uuid.UUID
    policy_ref: str
