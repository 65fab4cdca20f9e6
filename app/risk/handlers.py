"""What ratings react to: a sale or a new merchant queues the merchant for re-rating.

Each handler runs in the transaction of the change, so the queue row commits with the sale or
the registration (:mod:`app.risk.queue`); the re-rate worker does the rating soon after.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.cards.events import CardSold
from app.events import handles
from app.merchants.events import MerchantRegistered
from app.risk.queue import request_rerate

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


@handles(CardSold)
async def rerate_after_sale(session: AsyncSession, event: CardSold) -> None:
    """A sale moves the merchant's sales figures (surge, balances owed)."""
    await request_rerate(session, event.merchant_id, "card sold", str(event.card_id))


@handles(MerchantRegistered)
async def rate_new_merchant(session: AsyncSession, event: MerchantRegistered) -> None:
    """Rated from the start: with no records yet, every source counts as missing."""
    await request_rerate(session, event.merchant_id, "registered")
