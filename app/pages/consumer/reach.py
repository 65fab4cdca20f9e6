"""How a page reaches a card: a signed-in consumer's own card, or an anonymous card's link."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.cards import service as cards
from app.exceptions import NotFound
from app.supervision.disputes import ConsumerSide

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal
    from app.cards.models import CardHolder


@dataclass(frozen=True)
class Reach:
    """A signed-in consumer's card id, or an anonymous link (``/card/{secret}``)."""

    who: Principal | None
    card_id: uuid.UUID | None = None
    secret: str | None = None

    @property
    def base(self) -> str:
        """The card page's path."""
        return f"/card/{self.secret}" if self.secret else f"/my/cards/{self.card_id}"

    def complaint_path(self, dispute_id: uuid.UUID) -> str:
        """A complaint's page."""
        if self.secret:
            return f"/card/{self.secret}/complaints/{dispute_id}"
        return f"/my/complaints/{dispute_id}"

    async def holder(self, session: AsyncSession, *, lock: bool = False) -> CardHolder:
        """The card, if this reach opens it (else NotFound)."""
        return await cards.holder_for(
            session, self.who, card_id=self.card_id, secret=self.secret, lock=lock
        )

    def side(self, holder: CardHolder | None = None) -> ConsumerSide:
        """Who speaks for the card in a complaint."""
        if self.secret is not None and holder is not None:
            return ConsumerSide.anonymous(holder)
        if self.who is None:
            raise NotFound("dispute-not-found")
        return ConsumerSide.of(self.who)
