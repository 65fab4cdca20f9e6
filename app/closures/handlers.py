"""What closures react to: a card issued to a merchant that has announced its closure.

An order placed before the notice may be paid after it; the card it issues is enrolled in
the closure in the sale's own transaction, and its holder told, like every other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.cards.events import CardSold
from app.closures.service import announced, enrol_open_cards
from app.events import handles

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


@handles(CardSold)
async def enrol_a_card_sold_late(session: AsyncSession, event: CardSold) -> None:
    """A card issued to a closing merchant joins its closure."""
    closure = await announced(session, event.merchant_id)
    if closure is not None:
        await enrol_open_cards(session, closure)
