"""What refund payables tell the rest of the platform, in the transaction of the change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.events import Event

if TYPE_CHECKING:
    import uuid

    import escrow


@dataclass(frozen=True, slots=True)
class OverduePayablesClaimed(Event):
    """A merchant's payables went past their deadline and the ledger moved them to a claim.

    The claim must reach an insurer in the same transaction; a handler that cannot open it
    (no policy on record) raises, and the payables stay with the merchant.
    """

    merchant_id: uuid.UUID
    receipt: escrow.PayableClaimReceipt
