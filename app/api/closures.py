"""Orderly closure and card transfer over the API.

The closing merchant (or its regulator) files the closure; the regulator names successors and
runs the bulk move; a successor accepts its terms; each holder chooses for each card.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from app.auth.models import Role
from app.auth.principal import requires
from app.cards.holding import holder_for
from app.closures import service
from app.deps import Db, Me
from app.exceptions import NotFound

if TYPE_CHECKING:
    from app.closures.models import Closure, ClosureCard, SuccessorOffer


class ClosureIn(msgspec.Struct, forbid_unknown_fields=True):
    """A closure or relocation, its date (Shanghai calendar) and why."""

    kind: str
    closes_on: date
    reason: str
    merchant_id: uuid.UUID | None = None
    """The merchant, when a regulator files on its behalf."""
    confirm_default: bool = False
    """An emergency transfer ends in the merchant's default: the regulator confirms it."""


class ClosureOut(msgspec.Struct):
    """An announced (or closed) closure."""

    id: uuid.UUID
    merchant_id: uuid.UUID
    kind: str
    status: str
    closes_at: datetime
    reason: str
    filed_role: str


class SuccessorIn(msgspec.Struct, forbid_unknown_fields=True):
    """A successor of the same industry and how the closing merchant's products map to its."""

    successor_id: uuid.UUID
    terms: list[service.Term]


class OfferOut(msgspec.Struct):
    """A successor named for a closure, and whether it accepted its terms."""

    id: uuid.UUID
    closure_id: uuid.UUID
    successor_id: uuid.UUID
    terms: list[service.Term]
    accepted_at: datetime | None


class ProgressOut(msgspec.Struct):
    """What a bulk move did."""

    moved: int
    moved_fen: int
    used_up: int


class ChoiceIn(msgspec.Struct, forbid_unknown_fields=True):
    """``keep``, ``refund`` or ``transfer`` (with the successor's offer)."""

    choice: str
    offer_id: uuid.UUID | None = None


class SuccessorChoiceOut(msgspec.Struct):
    """A successor the holder may move the card to, and the card it would become."""

    offer_id: uuid.UUID
    successor_id: uuid.UUID
    successor_name: str
    product_name: str
    per_unit: int


class NoticeOut(msgspec.Struct):
    """A card's closure notice: the date, the holder's choice and what came of it."""

    closure: ClosureOut
    merchant_name: str
    choice: str | None
    offer_id: uuid.UUID | None
    outcome: str | None
    refunded: int | None
    new_card_id: uuid.UUID | None
    successors: list[SuccessorChoiceOut]


def closure_out(c: Closure) -> ClosureOut:
    """The API view of a closure."""
    return ClosureOut(
        id=c.id,
        merchant_id=c.merchant_id,
        kind=c.kind,
        status=c.status,
        closes_at=c.closes_at,
        reason=c.reason,
        filed_role=c.filed_role,
    )


def offer_out(o: SuccessorOffer) -> OfferOut:
    """The API view of a successor's offer."""
    return OfferOut(
        id=o.id,
        closure_id=o.closure_id,
        successor_id=o.successor_id,
        terms=[msgspec.convert(t, service.Term) for t in o.terms],
        accepted_at=o.accepted_at,
    )


def notice_out(n: service.Notice) -> NoticeOut:
    """The API view of a card's closure notice."""
    row: ClosureCard = n.row
    return NoticeOut(
        closure=closure_out(n.closure),
        merchant_name=n.merchant.legal_name,
        choice=row.choice,
        offer_id=row.offer_id,
        outcome=row.outcome,
        refunded=row.refunded,
        new_card_id=row.new_card_id,
        successors=[
            SuccessorChoiceOut(
                offer_id=offer.id,
                successor_id=successor.id,
                successor_name=successor.legal_name,
                product_name=product.name,
                per_unit=per_unit,
            )
            for offer, successor, product, per_unit in n.offers
        ],
    )


class ClosureController(Controller):
    """Filing a closure, naming successors, accepting, and the bulk move."""

    path = "/closures"
    tags = ["closures"]  # noqa: RUF012

    @post("/", status_code=HTTP_201_CREATED, guards=[requires(Role.MERCHANT, Role.REGULATOR)])
    async def file(self, db: Db, me: Me, data: JSONBody[ClosureIn]) -> ClosureOut:
        """Announce a closure: sales stop and every holder is told (30 days ahead at least)."""
        async with db.begin():
            closure = await service.file_closure(
                db,
                me,
                merchant_id=data.merchant_id,
                kind=data.kind,
                closes_on=data.closes_on,
                reason=data.reason,
                confirmed=data.confirm_default,
            )
        return closure_out(closure)

    @post(
        "/{closure_id:uuid}/successors",
        status_code=HTTP_201_CREATED,
        guards=[requires(Role.MERCHANT, Role.REGULATOR)],
    )
    async def name_successor(
        self, db: Db, me: Me, closure_id: FromPath[uuid.UUID], data: JSONBody[SuccessorIn]
    ) -> OfferOut:
        """Name a successor and its terms; it takes the cards once it accepts."""
        async with db.begin():
            offer = await service.name_successor(
                db, me, closure_id, successor_id=data.successor_id, terms=data.terms
            )
        return offer_out(offer)

    @post(
        "/offers/{offer_id:uuid}/accept",
        status_code=HTTP_200_OK,
        guards=[requires(Role.MERCHANT)],
    )
    async def accept(self, db: Db, me: Me, offer_id: FromPath[uuid.UUID]) -> OfferOut:
        """The successor accepts the terms it was named on."""
        async with db.begin():
            offer = await service.accept_offer(db, me, offer_id)
        return offer_out(offer)

    @post(
        "/{closure_id:uuid}/transfers",
        status_code=HTTP_200_OK,
        guards=[requires(Role.REGULATOR)],
    )
    async def move(
        self, db: Db, me: Me, state: State, closure_id: FromPath[uuid.UUID]
    ) -> ProgressOut:
        """Move every card whose holder chose a successor; safe to repeat after a failure."""
        async with db.begin():
            await service.visible_closure(db, me, closure_id)
        done = await service.settle_cards(state.sessions, closure_id)
        return ProgressOut(moved=done.moved, moved_fen=done.moved_fen, used_up=done.used_up)


class CardClosureController(Controller):
    """A holder's view of a closing merchant's card, and the choice for it."""

    path = "/me/cards/{card_id:uuid}/closure"
    tags = ["cards"]  # noqa: RUF012
    guards = [requires(Role.CONSUMER)]  # noqa: RUF012

    @get("/")
    async def notice(self, db: Db, me: Me, card_id: FromPath[uuid.UUID]) -> NoticeOut:
        """The notice on the card, with the successors that take it."""
        holder = await holder_for(db, me, card_id=card_id)
        found = await service.notice_for(db, holder)
        if found is None:
            raise NotFound("card-not-closing")
        return notice_out(found)

    @post("/", status_code=HTTP_200_OK)
    async def choose(
        self, db: Db, me: Me, card_id: FromPath[uuid.UUID], data: JSONBody[ChoiceIn]
    ) -> NoticeOut:
        """Keep, refund now, or move to a successor; may be changed until settled."""
        async with db.begin():
            holder = await holder_for(db, me, card_id=card_id, lock=True)
            await service.choose(db, holder, data.choice, data.offer_id)
        found = await service.notice_for(db, holder)
        assert found is not None  # noqa: S101 - chosen just now
        return notice_out(found)
