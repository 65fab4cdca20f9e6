"""Orderly closure and card transfer (转卡): the use cases.

A merchant (or a regulator on its behalf) announces a closure or relocation at least
``PGUARD_CLOSURE_NOTICE_DAYS`` (30) ahead. From that moment it sells nothing new, and every
holder of an open card is told on the card's page and by one text per holder. Before the
date each holder keeps the card (and uses it until then), takes a refund at once, or moves
it to a successor merchant named by the regulator (or the closing merchant) on terms the
successor accepted. Moves are made in bulk by the regulator, and on the date at the latest;
every card still open then is refunded. Each card moves or is refunded in one ledger
operation keyed by the card, so an interrupted run picks up where it stopped.

A regulator's emergency transfer of a failing merchant's cards runs the same way with a
short window; its holders move their cards or wait for the default, declared when the window
closes, whose guaranteed payout takes every card left.

A card that moves gets a new id on the successor's book (the books are per merchant, and the
old card's history stays on the old one), linked both ways: ``card_transfers`` in the ledger
and ``card_holders.transferred_from``; its contract is re-issued in the successor's name.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
import structlog
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

import escrow
from app.auth.models import Role
from app.cards.issuing import contract_for
from app.cards.models import CardHolder, Contract
from app.clock import shanghai_midnight, today, utcnow
from app.closures.events import EmergencyTransferEnded
from app.closures.models import (
    Channel,
    Choice,
    Closure,
    ClosureCard,
    ClosureKind,
    ClosureStatus,
    DeliveryStatus,
    Notification,
    Outcome,
    SuccessorOffer,
)
from app.events import publish
from app.exceptions import Conflict, Forbidden, Invalid, NotFound
from app.insurance.service import CoverMove, tell_cover_moved
from app.ledger import escrow_ledger
from app.merchants import blocks
from app.merchants.models import (
    Industry,
    Merchant,
    MerchantStatus,
    Product,
    ProductStatus,
    SalesBlockKind,
)
from app.merchants.rules import cooling_off_days
from app.merchants.uscc import normalise_uscc
from app.payables.deadlines import payable_due_at
from app.settings import get_settings

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    from sqlalchemy import ColumnElement, Select
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from app.auth.principal import Principal

log = structlog.get_logger(__name__)
T = TypeVar("T")
MAX_REASON = 500
MAX_PER_UNIT = 1000
TRANSFERS = uuid.UUID("5b0e3b4e-6c1a-4d8e-9a57-0c2f4f7f1c11")
"""Namespace of the new cards' ids: a card moved again after an interruption gets the same."""
OPEN_STATUSES = (MerchantStatus.ACTIVE, MerchantStatus.SUSPENDED)


class Term(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename={"from_": "from"}):
    """One product of the closing merchant, mapped to one of the successor's."""

    from_: uuid.UUID
    to: uuid.UUID
    per_unit: int = 1
    """Units of the new card for each unit left on the old one."""


@dataclass(frozen=True, slots=True)
class Notice:
    """What a holder sees on a card of a closing merchant."""

    closure: Closure
    merchant: Merchant
    row: ClosureCard
    offers: list[tuple[SuccessorOffer, Merchant, Product, int]]
    """Accepted offers that take this card's product: the offer, the successor, the product
    the card would become, and the units it gives for each unit left."""


@dataclass(slots=True)
class Progress:
    """What a bulk run did, card by card: each card counted once."""

    moved: int = 0
    refunded: int = 0
    used_up: int = 0
    skipped: int = 0
    """Not moved because their successor no longer trades: the holder's choice was cleared."""
    moved_fen: int = 0
    refunded_fen: int = 0
    per_successor: dict[uuid.UUID, int] = field(default_factory=dict)


async def announced(session: AsyncSession, merchant_id: uuid.UUID) -> Closure | None:
    """The merchant's announced closure, if one is running."""
    return await session.scalar(
        select(Closure).where(
            Closure.merchant_id == merchant_id, Closure.status == ClosureStatus.ANNOUNCED
        )
    )


async def _merchant_for(
    session: AsyncSession, me: Principal, merchant_id: uuid.UUID | None
) -> Merchant:
    """The merchant the caller may act for, locked: its own, or one in the regulator's reach."""
    if me.role is Role.MERCHANT:
        if me.merchant_id is None or merchant_id not in (None, me.merchant_id):
            raise Forbidden("merchant-staff-only")
        merchant_id = me.merchant_id
    elif me.role not in (Role.REGULATOR, Role.OPERATOR) or merchant_id is None:
        raise Forbidden("closure-not-yours")
    merchant = await session.get(Merchant, merchant_id, with_for_update=True)
    if merchant is None or (
        me.role is not Role.MERCHANT and not me.sees_district(merchant.district)
    ):
        raise NotFound("merchant-not-found")
    return merchant


def notice_days(kind: str) -> int:
    """Days of notice a closure of ``kind`` gives: 30 in the rules; an emergency's window."""
    rules = get_settings().cards
    return (
        rules.emergency_notice_days if kind == ClosureKind.EMERGENCY else rules.closure_notice_days
    )


def earliest_closing(kind: str = ClosureKind.CLOSURE) -> date:
    """The first day a closure of ``kind`` filed today may take effect."""
    return today() + timedelta(days=notice_days(kind))


CHOICES = {
    ClosureKind.CLOSURE: (Choice.KEEP, Choice.REFUND, Choice.TRANSFER),
    ClosureKind.RELOCATION: (Choice.KEEP, Choice.REFUND, Choice.TRANSFER),
    ClosureKind.EMERGENCY: (Choice.TRANSFER, Choice.PAYOUT),
}
"""What a holder may choose, by kind of closure. A failing merchant's cards either move or
are paid out by the default under the guarantee (a refund would leave the failing merchant
owing its part)."""


async def file_closure(
    session: AsyncSession,
    me: Principal,
    *,
    merchant_id: uuid.UUID | None,
    kind: str,
    closes_on: date,
    reason: str,
    confirmed: bool = False,
) -> Closure:
    """Announce a closure: sales stop, every open card's holder is told and may choose.

    An emergency transfer ends in the merchant's default, which cannot be undone, so it is
    filed only ``confirmed``, as a default is declared.
    """
    fields: dict[str, str] = {}
    if kind not in set(ClosureKind):
        fields["kind"] = "closure-kind-unknown"
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        fields["reason"] = "closure-reason-required"
    days = notice_days(kind)
    earliest = earliest_closing(kind)
    if closes_on < earliest:
        fields["closes_on"] = "closure-notice-too-short"
    if kind == ClosureKind.EMERGENCY and not confirmed:
        fields["confirm"] = "closure-emergency-unconfirmed"
    if fields:
        raise Invalid("closure-invalid", fields=fields, days=days, earliest=earliest.isoformat())
    if kind == ClosureKind.EMERGENCY and me.role not in (Role.REGULATOR, Role.OPERATOR):
        raise Forbidden("closure-emergency-regulator-only")
    merchant = await _merchant_for(session, me, merchant_id)
    if merchant.status not in OPEN_STATUSES:
        raise Conflict("closure-merchant-not-trading", merchant_status=merchant.status)
    if await announced(session, merchant.id) is not None:
        raise Conflict("closure-already-announced")
    closure = Closure(
        id=uuid.uuid4(),
        merchant_id=merchant.id,
        kind=kind,
        status=ClosureStatus.ANNOUNCED,
        closes_at=shanghai_midnight(closes_on),
        reason=reason,
        filed_by=me.user_id,
        filed_role=me.role.value,
        created_at=utcnow(),
    )
    session.add(closure)
    await session.flush()
    await blocks.place(
        session,
        merchant.id,
        SalesBlockKind.CLOSING,
        {"closure_id": str(closure.id), "closes_at": closure.closes_at.isoformat()},
    )
    await enrol_open_cards(session, closure)
    return closure


async def enrol_open_cards(session: AsyncSession, closure: Closure) -> int:
    """Give every open card of the closing merchant its row and its holder the notice.

    Run when the closure is filed, when a card is issued to the merchant afterwards (an order
    paid late), and before the closing day settles the cards, so that no open card is left
    out; a card already enrolled is left as it is. Returns how many were enrolled now.
    """
    card = escrow.models.Card
    holders = (
        await session.execute(
            select(CardHolder.card_id, CardHolder.consumer_id)
            .join(
                card, (card.id == CardHolder.card_id) & (card.merchant_id == CardHolder.merchant_id)
            )
            .where(
                CardHolder.merchant_id == closure.merchant_id,
                card.status == "open",
                CardHolder.card_id.not_in(
                    select(ClosureCard.card_id).where(ClosureCard.closure_id == closure.id)
                ),
            )
        )
    ).all()
    if not holders:
        return 0
    await session.execute(
        pg_insert(ClosureCard).on_conflict_do_nothing(),
        [{"closure_id": closure.id, "card_id": c, "consumer_id": who} for c, who in holders],
    )
    now = utcnow()
    # On the card's page the notice is there from this commit; texts go out after it.
    notices = [
        {"channel": Channel.IN_APP, "card_id": c, "status": DeliveryStatus.SENT, "sent_at": now}
        for c, _ in holders
    ] + [
        {"channel": Channel.SMS, "consumer_id": who}
        for who in sorted({who for _, who in holders if who is not None})
    ]
    await session.execute(
        pg_insert(Notification).on_conflict_do_nothing(),
        [
            {
                "id": uuid.uuid4(),
                "closure_id": closure.id,
                "status": DeliveryStatus.PENDING,
                "sent_at": None,
                "attempts": 0,
                "created_at": now,
                "consumer_id": None,
                "card_id": None,
                **n,
            }
            for n in notices
        ],
    )
    return len(holders)


def _trading(successor: Merchant, closing: set[uuid.UUID]) -> bool:
    """Whether a successor can still take cards: trading, not closing itself."""
    return successor.status == MerchantStatus.ACTIVE and successor.id not in closing


async def _closing_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these merchants have a closure announced."""
    return set(
        await session.scalars(
            select(Closure.merchant_id).where(
                Closure.merchant_id.in_(list(ids)), Closure.status == ClosureStatus.ANNOUNCED
            )
        )
    )


async def visible_closure(session: AsyncSession, me: Principal, closure_id: uuid.UUID) -> Closure:
    """A closure the caller may act on: the closing merchant's own, or in the regulator's reach."""
    closure = await session.get(Closure, closure_id)
    if closure is None:
        raise NotFound("closure-not-found")
    merchant = await session.get(Merchant, closure.merchant_id)
    assert merchant is not None  # noqa: S101 - a foreign key
    mine = me.role is Role.MERCHANT and me.merchant_id == merchant.id
    if not mine and not (
        me.role in (Role.REGULATOR, Role.OPERATOR) and me.sees_district(merchant.district)
    ):
        raise NotFound("closure-not-found")
    return closure


async def name_successor(
    session: AsyncSession,
    me: Principal,
    closure_id: uuid.UUID,
    *,
    successor_id: uuid.UUID,
    terms: Sequence[Term],
) -> SuccessorOffer:
    """Name a successor with the terms on which it takes the cards; it must accept them."""
    closure = await visible_closure(session, me, closure_id)
    if closure.status != ClosureStatus.ANNOUNCED:
        raise Conflict("closure-closed")
    closing = await session.get(Merchant, closure.merchant_id)
    successor = await session.get(Merchant, successor_id)
    if successor is None or successor.id == closure.merchant_id:
        raise Invalid("successor-invalid", fields={"successor_id": "successor-not-found"})
    if closing is None or successor.industry != closing.industry:
        raise Invalid("successor-invalid", fields={"successor_id": "successor-other-industry"})
    if successor.district != closing.district:
        raise Invalid("successor-invalid", fields={"successor_id": "successor-other-district"})
    if successor.status != MerchantStatus.ACTIVE or await announced(session, successor.id):
        raise Invalid("successor-invalid", fields={"successor_id": "successor-not-trading"})
    await _check_terms(session, closure.merchant_id, successor.id, terms)
    offer = SuccessorOffer(
        id=uuid.uuid4(),
        closure_id=closure.id,
        successor_id=successor.id,
        terms=[msgspec.to_builtins(t) for t in terms],
        named_by=me.user_id,
        created_at=utcnow(),
    )
    taken = await session.execute(
        pg_insert(SuccessorOffer)
        .values(
            id=offer.id,
            closure_id=offer.closure_id,
            successor_id=offer.successor_id,
            terms=offer.terms,
            named_by=offer.named_by,
            created_at=offer.created_at,
        )
        .on_conflict_do_nothing()
        .returning(SuccessorOffer.id)
    )
    if taken.first() is None:
        raise Conflict("successor-already-named")
    return await _required(session, SuccessorOffer, offer.id)


async def _required(session: AsyncSession, kind: type[T], key: object) -> T:
    """A row a foreign key (or this transaction) guarantees."""
    found = await session.get(kind, key) if key is not None else None
    assert found is not None  # noqa: S101 - a foreign key, or written in this transaction
    return found


async def _check_terms(
    session: AsyncSession, closing: uuid.UUID, successor: uuid.UUID, terms: Sequence[Term]
) -> None:
    """Every mapping goes from a product of the closing merchant to a like one of the successor."""
    if not terms or len({t.from_ for t in terms}) != len(terms):
        raise Invalid("successor-terms-invalid", fields={"terms": "successor-terms-each-once"})
    products = {
        p.id: p
        for p in await session.scalars(
            select(Product).where(Product.id.in_([t.from_ for t in terms] + [t.to for t in terms]))
        )
    }
    for term in terms:
        old, new = products.get(term.from_), products.get(term.to)
        if old is None or old.merchant_id != closing:
            raise Invalid(
                "successor-terms-invalid", fields={"terms": "successor-terms-not-its-product"}
            )
        if new is None or new.merchant_id != successor or new.status != ProductStatus.ACTIVE:
            raise Invalid(
                "successor-terms-invalid", fields={"terms": "successor-terms-not-successor-product"}
            )
        if old.kind != new.kind:
            raise Invalid("successor-terms-invalid", fields={"terms": "successor-terms-kind"})
        if not 1 <= term.per_unit <= MAX_PER_UNIT:
            raise Invalid(
                "successor-terms-invalid",
                fields={"terms": "successor-terms-exchange"},
                most=MAX_PER_UNIT,
            )


async def accept_offer(session: AsyncSession, me: Principal, offer_id: uuid.UUID) -> SuccessorOffer:
    """The successor accepts the terms, once; accepting again changes nothing."""
    offer = await session.get(SuccessorOffer, offer_id, with_for_update=True)
    if offer is None or me.role is not Role.MERCHANT or offer.successor_id != me.merchant_id:
        raise NotFound("successor-offer-not-found")
    if offer.accepted_at is None:
        closure = await _required(session, Closure, offer.closure_id)
        if closure.status != ClosureStatus.ANNOUNCED:
            raise Conflict("closure-closed")
        mine = await _required(session, Merchant, offer.successor_id)
        if not _trading(mine, await _closing_ids(session, [mine.id])):
            raise Conflict("successor-not-trading")
        offer.accepted_at = utcnow()
        offer.accepted_by = me.user_id
        await session.flush()
    return offer


async def notice_for(session: AsyncSession, holder: CardHolder) -> Notice | None:
    """The closure notice on a card, with the accepted offers that take its product."""
    found = (
        await session.execute(
            select(ClosureCard, Closure)
            .join(Closure, Closure.id == ClosureCard.closure_id)
            .where(ClosureCard.card_id == holder.card_id)
        )
    ).first()
    if found is None:
        return None
    row, closure = found
    merchant = await _required(session, Merchant, closure.merchant_id)
    offers = []
    accepted = (
        await session.execute(
            select(SuccessorOffer, Merchant)
            .join(Merchant, Merchant.id == SuccessorOffer.successor_id)
            .where(SuccessorOffer.closure_id == closure.id, SuccessorOffer.accepted_at.is_not(None))
            .order_by(Merchant.legal_name)
        )
    ).all()
    closing = await _closing_ids(session, [m.id for _, m in accepted])
    for offer, successor in accepted:
        term = _term_for(offer, holder.product_id)
        if term is not None and _trading(successor, closing):
            product = await _required(session, Product, term.to)
            offers.append((offer, successor, product, term.per_unit))
    return Notice(closure, merchant, row, offers)


def _term_for(offer: SuccessorOffer, product_id: uuid.UUID) -> Term | None:
    for raw in offer.terms:
        term = msgspec.convert(raw, Term)
        if term.from_ == product_id:
            return term
    return None


async def choose(
    session: AsyncSession, holder: CardHolder, choice: str, offer_id: uuid.UUID | None
) -> ClosureCard:
    """The holder's choice for a card of a closing merchant, before the date.

    A refund is made at once; a move waits for the regulator's bulk run (or the date). A
    choice may be changed until the card is refunded or moved.
    """
    notice = await notice_for(session, holder)
    if notice is None:
        raise NotFound("card-not-closing")
    # The closing day's settlement locks the closure for update: a choice either lands before
    # it, or sees the closure closed.
    closure = await session.get(
        Closure, notice.closure.id, with_for_update={"read": True}, populate_existing=True
    )
    if closure is None or closure.status != ClosureStatus.ANNOUNCED:
        raise NotFound("card-not-closing")
    row = await session.get(
        ClosureCard,
        (notice.closure.id, holder.card_id),
        with_for_update=True,
        populate_existing=True,
    )
    assert row is not None  # noqa: S101 - found above
    if row.outcome is not None:
        raise Conflict("closure-card-settled", outcome=row.outcome)
    if utcnow() >= notice.closure.closes_at:
        raise Conflict("closure-date-passed")
    _check_choice(notice.closure.kind, choice)
    offer = None
    if choice == Choice.TRANSFER:
        offer = next((o for o, _, _, _ in notice.offers if o.id == offer_id), None)
        if offer is None:
            raise Invalid("closure-choice-invalid", fields={"offer_id": "closure-offer-unknown"})
        if holder.consumer_id is None:
            raise Conflict("transfer-needs-registered-card")
    row.choice, row.offer_id, row.chosen_at = choice, offer.id if offer else None, utcnow()
    if choice == Choice.REFUND:
        await _refund(session, row, holder)
    await session.flush()
    return row


def _check_choice(kind: str, choice: str) -> None:
    """A choice this kind of closure offers, or the words saying which it does."""
    if choice in CHOICES[ClosureKind(kind)]:
        return
    if kind == ClosureKind.EMERGENCY and choice in set(Choice):
        raise Invalid(
            "closure-choice-invalid", fields={"choice": "closure-choice-not-in-emergency"}
        )
    raise Invalid("closure-choice-invalid", fields={"choice": "closure-choice-unknown"})


def _closed(refused: escrow.CardNotOpen) -> Outcome:
    """What became of a card the ledger would no longer move or refund."""
    if refused.code == "card-used-up":
        return Outcome.USED_UP
    if refused.code == "card-refunded":  # refunded on a request meanwhile
        return Outcome.REFUNDED
    raise refused


async def _refund(session: AsyncSession, row: ClosureCard, holder: CardHolder) -> int:
    """Refund the card at its outstanding amount through the refund paths; 0 if none left."""
    now = utcnow()
    row.outcome_at = now
    try:
        receipt = await escrow_ledger(session).refund(
            holder.merchant_id,
            holder.card_id,
            idempotency_key=f"closure-refund:{holder.card_id}",
            payable_due_at=payable_due_at(now),
        )
    except escrow.CardNotOpen as refused:
        row.outcome = _closed(refused)
        return 0
    row.outcome = Outcome.REFUNDED if receipt.refunded else Outcome.USED_UP
    row.refunded = receipt.refunded
    return receipt.refunded


@dataclass(frozen=True, slots=True)
class _Moved:
    """A card moved in the ledger, and the rows its new holder needs."""

    receipt: escrow.TransferReceipt
    holder: CardHolder
    contract: Contract


@dataclass(slots=True)
class _Rows:
    """The rows a batch reads once: held here, since the session keeps them only weakly."""

    session: AsyncSession
    found: dict[tuple[type[Any], object], Any] = field(default_factory=dict)

    async def get(self, kind: type[T], key: object) -> T:
        """The row of ``kind`` by its key, read once a batch."""
        if (kind, key) not in self.found:
            self.found[kind, key] = await _required(self.session, kind, key)
        found: T = self.found[kind, key]
        return found


async def _move(
    rows: _Rows, row: ClosureCard, holder: CardHolder, old_contract: bytes | None
) -> _Moved | None:
    """Move one card to the successor its holder chose; None if nothing was left to move.

    The ledger counts the new card's units under its lock; the rows of the new holder and
    its re-issued contract are returned for the batch to write together.
    """
    session = rows.session
    offer = await rows.get(SuccessorOffer, row.offer_id)
    term = _term_for(offer, holder.product_id)
    if term is None:  # the holder could only choose an offer that maps the product
        raise Conflict("closure-offer-unknown")
    successor = await rows.get(Merchant, offer.successor_id)
    product = await rows.get(Product, term.to)
    new_card = uuid.uuid5(TRANSFERS, str(holder.card_id))
    now = utcnow()
    try:
        receipt = await escrow_ledger(session).transfer(
            holder.merchant_id,
            holder.card_id,
            to_merchant_id=successor.id,
            new_card_id=new_card,
            kind=escrow.CardKind(product.kind),
            units_per_unit=term.per_unit,
            custody_ratio_bp=successor.custody_ratio_bp,
            idempotency_key=f"closure-transfer:{holder.card_id}",
        )
    except escrow.CardNotOpen as refused:
        row.outcome, row.outcome_at = _closed(refused), now
        return None
    industry = await rows.get(Industry, successor.industry)
    contract = contract_for(
        new_card,
        successor,
        product,
        price=receipt.new_card.paid,
        receipt=receipt.new_card,
        cooling_off=cooling_off_days(industry),
        expires=holder.expires_at,
        now=now,
        transferred_from={
            "card_id": str(holder.card_id),
            "merchant_id": str(holder.merchant_id),
            "contract_sha256": old_contract.hex() if old_contract else None,
            "units_left": receipt.card.units_remaining,
            "per_unit": term.per_unit,
        },
    )
    row.outcome, row.outcome_at, row.new_card_id = Outcome.TRANSFERRED, now, new_card
    new_holder = CardHolder(
        card_id=new_card,
        merchant_id=successor.id,
        product_id=product.id,
        order_id=None,
        transferred_from=holder.card_id,
        consumer_id=holder.consumer_id,
        anon_secret_hash=None,
        registered=holder.registered,
        expires_at=holder.expires_at,
    )
    return _Moved(receipt, new_holder, contract)


async def settle_cards(
    sessions: async_sessionmaker[AsyncSession],
    closure_id: uuid.UUID,
    *,
    refund_the_rest: bool = False,
    batch: int = 200,
    on_batch: Callable[[Progress, int], None] | None = None,
) -> Progress:
    """Move every card whose holder chose a successor (and refund the rest, on the date).

    Runs in batches, a transaction each, and is safe to interrupt: a card settled by an
    earlier run is skipped, and each ledger operation is keyed by its card. ``on_batch`` is
    told after each batch what has been done and how many cards are left.
    """
    progress = Progress()
    wanted = ClosureCard.choice == Choice.TRANSFER
    if refund_the_rest:
        wanted = wanted | ClosureCard.choice.is_(None) | (ClosureCard.choice != Choice.TRANSFER)
    waiting = (ClosureCard.closure_id == closure_id, ClosureCard.outcome.is_(None), wanted)
    while True:
        async with sessions() as session, session.begin():
            rows = list(
                await session.scalars(
                    select(ClosureCard)
                    .where(*waiting)
                    .order_by(ClosureCard.card_id)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            )
            if not rows:
                return progress
            await _settle_batch(session, rows, progress, refund_the_rest=refund_the_rest)
            left = int(await session.scalar(select(func.count()).where(*waiting)) or 0)
        if on_batch is not None:
            on_batch(progress, left)


async def _settle_batch(
    session: AsyncSession,
    rows: list[ClosureCard],
    progress: Progress,
    *,
    refund_the_rest: bool,
) -> None:
    """Move or refund each card of one batch, then tell the insurers how their cover moved.

    Every book the batch touches is locked first, in id order, so that two batches (two runs
    of one closure, or closures with successors in common) cannot deadlock. A card whose
    successor no longer trades (it closed or defaulted since) does not move: its holder's
    choice is cleared, and on the closing day it is refunded (or paid out, in an emergency).
    """
    cache = _Rows(session)
    offers = {o: await cache.get(SuccessorOffer, o) for o in {r.offer_id for r in rows} if o}
    successors = {
        o.successor_id: await cache.get(Merchant, o.successor_id) for o in offers.values()
    }
    closing = await _closing_ids(session, list(successors))
    live = {m for m, merchant in successors.items() if _trading(merchant, closing)}
    closure = await cache.get(Closure, rows[0].closure_id)
    await escrow_ledger(session).lock_books({closure.merchant_id, *live})
    holders = {
        h.card_id: h
        for h in await session.scalars(
            select(CardHolder).where(CardHolder.card_id.in_([r.card_id for r in rows]))
        )
    }
    contracts = dict(
        (
            await session.execute(
                select(Contract.card_id, Contract.sha256).where(Contract.card_id.in_(holders))
            )
        ).all()
    )
    moves: dict[uuid.UUID, list[CoverMove]] = {}
    written: list[_Moved] = []
    for row in rows:
        holder = holders[row.card_id]
        if row.offer_id is not None and offers[row.offer_id].successor_id not in live:
            row.choice, row.offer_id, row.chosen_at = None, None, None
            progress.skipped += 1
            if not refund_the_rest:
                continue
        if row.choice != Choice.TRANSFER:
            refunded = await _refund(session, row, holder)
            progress.refunded += bool(refunded)
            progress.refunded_fen += refunded
        elif (moved := await _move(cache, row, holder, contracts.get(row.card_id))) is not None:
            written.append(moved)
            receipt = moved.receipt
            progress.moved += 1
            progress.moved_fen += receipt.moved
            to = receipt.to_merchant_id
            progress.per_successor[to] = progress.per_successor.get(to, 0) + 1
            moves.setdefault(to, []).append(
                CoverMove(
                    row.card_id,
                    receipt.new_card.card_id,
                    receipt.released_from_cover,
                    receipt.new_card.insured_share,
                )
            )
        if row.outcome == Outcome.USED_UP:
            progress.used_up += 1
    session.add_all([m.holder for m in written])
    await session.flush()  # the holders first: a contract names its card's holder
    session.add_all([m.contract for m in written])
    await session.flush()
    if moves:
        leaving = await cache.get(Merchant, closure.merchant_id)
        for to, cover in sorted(moves.items()):
            await tell_cover_moved(session, leaving, await cache.get(Merchant, to), cover)


_RUNS: dict[uuid.UUID, asyncio.Task[Progress]] = {}
"""Bulk moves running in this process, by closure: one at a time each."""


def start_moving(sessions: async_sessionmaker[AsyncSession], closure_id: uuid.UUID) -> bool:
    """Start the bulk move in this process's background; False if one is running already.

    The caller has checked that the regulator may act on the closure. Another process may
    run one too: batches are taken with SKIP LOCKED, and each card moves once whatever runs.
    """
    running = _RUNS.get(closure_id)
    if running is not None and not running.done():
        return False
    task = asyncio.get_running_loop().create_task(settle_cards(sessions, closure_id))
    task.add_done_callback(_report)
    _RUNS[closure_id] = task
    return True


def moving(closure_id: uuid.UUID) -> bool:
    """Whether a bulk move of the closure is running in this process."""
    running = _RUNS.get(closure_id)
    return running is not None and not running.done()


def _report(task: asyncio.Task[Progress]) -> None:
    if task.cancelled():
        return
    if (failed := task.exception()) is not None:
        log.error("bulk card move failed; run it again to carry on", error=repr(failed))
    else:
        done = task.result()
        log.info("bulk card move done", moved=done.moved, moved_fen=done.moved_fen)


async def close_due(sessions: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """Close every closure whose date has come; returns how many closed.

    A closure or relocation moves the chosen cards, refunds the rest and closes the merchant.
    An emergency transfer moves the chosen cards, then the default is declared (by
    supervision, on :class:`EmergencyTransferEnded`) and pays out every card left. Each
    closure is settled on its own: one that fails is logged and tried again on the next pass,
    and the others go on.
    """
    async with sessions() as session:
        due = list(
            await session.scalars(
                select(Closure.id).where(
                    Closure.status == ClosureStatus.ANNOUNCED, Closure.closes_at <= now
                )
            )
        )
    closed = 0
    for closure_id in due:
        try:
            closed += await _close(sessions, closure_id, now)
        except Exception:  # one closure's failure must not stop the others
            log.exception(
                "closure not settled; tried again on the next pass", closure=str(closure_id)
            )
    return closed


async def _close(
    sessions: async_sessionmaker[AsyncSession], closure_id: uuid.UUID, now: datetime
) -> int:
    """Settle one closure whose day has come and close it; 0 if cards are still to settle."""
    async with sessions() as session, session.begin():
        closure = await _required(session, Closure, closure_id)
        merchant = await _required(session, Merchant, closure.merchant_id)
        defaulted = merchant.status == MerchantStatus.DEFAULTED
        if not defaulted:  # an order paid late may have issued a card since the notice
            await enrol_open_cards(session, closure)
    emergency = closure.kind == ClosureKind.EMERGENCY
    # A merchant declared in default meanwhile has had its cards paid out by the default.
    if not defaulted:
        await settle_cards(sessions, closure_id, refund_the_rest=not emergency)
    async with sessions() as session, session.begin():
        locked = await session.get(
            Closure, closure_id, with_for_update=True, populate_existing=True
        )
        if locked is None or locked.status != ClosureStatus.ANNOUNCED:
            return 0
        closure = locked
        unsettled: list[ColumnElement[bool]] = [ClosureCard.outcome.is_(None)]
        if emergency:
            unsettled.append(ClosureCard.choice == Choice.TRANSFER)
        left = await session.scalar(
            select(func.count()).where(ClosureCard.closure_id == closure_id, *unsettled)
        )
        if left and not defaulted:  # a card was locked by a choice or a bulk run: next pass
            log.info("closure waits for cards still being settled", closure=str(closure_id))
            return 0
        closure.status, closure.closed_at = ClosureStatus.CLOSED, now
        if emergency:
            await _default_the_rest(session, closure, now)
        else:
            await session.execute(
                update(Merchant)
                .where(Merchant.id == closure.merchant_id, Merchant.status.in_(OPEN_STATUSES))
                .values(status=MerchantStatus.CLOSED)
            )
    return 1


async def _default_the_rest(session: AsyncSession, closure: Closure, now: datetime) -> None:
    """End an emergency transfer: the default pays out every card that did not move."""
    merchant = await session.get(
        Merchant, closure.merchant_id, with_for_update=True, populate_existing=True
    )
    assert merchant is not None  # noqa: S101 - a foreign key
    if merchant.status != MerchantStatus.DEFAULTED:
        await publish(
            session,
            EmergencyTransferEnded(merchant.id, closure.id, closure.filed_by, closure.reason),
        )
    await session.execute(
        update(ClosureCard)
        .where(ClosureCard.closure_id == closure.id, ClosureCard.outcome.is_(None))
        .values(outcome=Outcome.PAID_OUT, outcome_at=now)
    )


@dataclass(frozen=True, slots=True)
class Tally:
    """Where a closure's cards stand: each holder's choice, and what came of each card."""

    cards: int = 0
    keep: int = 0
    refund: int = 0
    transfer: int = 0
    undecided: int = 0
    refunded: int = 0
    transferred: int = 0
    used_up: int = 0
    payout: int = 0
    paid_out: int = 0
    to_move: int = 0
    """Chosen to move, not moved yet: what the regulator's bulk run will move."""


@dataclass(frozen=True, slots=True)
class ClosureView:
    """A closure as the people running it see it: the merchant, the tally, the successors."""

    closure: Closure
    merchant: Merchant
    tally: Tally
    offers: list[tuple[SuccessorOffer, Merchant]]


async def _tallies(
    session: AsyncSession, closure_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Tally]:
    counts: dict[uuid.UUID, dict[str, int]] = {c: {} for c in closure_ids}
    for closure_id, choice, outcome, n in await session.execute(
        select(ClosureCard.closure_id, ClosureCard.choice, ClosureCard.outcome, func.count())
        .where(ClosureCard.closure_id.in_(list(closure_ids)))
        .group_by(ClosureCard.closure_id, ClosureCard.choice, ClosureCard.outcome)
    ):
        c = counts[closure_id]
        c["cards"] = c.get("cards", 0) + n
        c[choice or "undecided"] = c.get(choice or "undecided", 0) + n
        if outcome is not None:
            c[outcome] = c.get(outcome, 0) + n
        elif choice == Choice.TRANSFER:
            c["to_move"] = c.get("to_move", 0) + n
    return {closure_id: Tally(**c) for closure_id, c in counts.items()}


async def _views(session: AsyncSession, closures: Sequence[Closure]) -> list[ClosureView]:
    tallies = await _tallies(session, [c.id for c in closures])
    offers: dict[uuid.UUID, list[tuple[SuccessorOffer, Merchant]]] = {c.id: [] for c in closures}
    for offer, successor in await session.execute(
        select(SuccessorOffer, Merchant)
        .join(Merchant, Merchant.id == SuccessorOffer.successor_id)
        .where(SuccessorOffer.closure_id.in_([c.id for c in closures]))
        .order_by(SuccessorOffer.created_at)
    ):
        offers[offer.closure_id].append((offer, successor))
    merchants = {
        m.id: m
        for m in await session.scalars(
            select(Merchant).where(Merchant.id.in_([c.merchant_id for c in closures]))
        )
    }
    return [ClosureView(c, merchants[c.merchant_id], tallies[c.id], offers[c.id]) for c in closures]


async def closure_of(session: AsyncSession, merchant_id: uuid.UUID) -> ClosureView | None:
    """A merchant's closure: the one running, else the latest (the caller checked its reach)."""
    found = await session.scalar(
        select(Closure)
        .where(Closure.merchant_id == merchant_id)
        .order_by((Closure.status == ClosureStatus.ANNOUNCED).desc(), Closure.created_at.desc())
        .limit(1)
    )
    return None if found is None else (await _views(session, [found]))[0]


async def offers_to(
    session: AsyncSession, me: Principal
) -> list[tuple[SuccessorOffer, Closure, Merchant]]:
    """The offers naming the caller's merchant as a successor: the closure and who closes."""
    return [
        (offer, closure, closing)
        for offer, closure, closing in await session.execute(
            select(SuccessorOffer, Closure, Merchant)
            .join(Closure, Closure.id == SuccessorOffer.closure_id)
            .join(Merchant, Merchant.id == Closure.merchant_id)
            .where(SuccessorOffer.successor_id == me.merchant_id)
            .order_by(Closure.closes_at)
        )
    ]


async def supervised_closures(session: AsyncSession, me: Principal) -> list[ClosureView]:
    """The closures in the regulator's reach: running ones by date, then the last closed."""
    if me.role not in (Role.REGULATOR, Role.OPERATOR):
        return []
    query = select(Closure).join(Merchant, Merchant.id == Closure.merchant_id)
    if me.role is Role.REGULATOR and me.district is not None:
        query = query.where(Merchant.district == me.district)
    found = await session.scalars(
        query.order_by((Closure.status == ClosureStatus.ANNOUNCED).desc(), Closure.closes_at).limit(
            CLOSURES_LISTED
        )
    )
    return await _views(session, list(found))


async def closure_view(session: AsyncSession, me: Principal, closure_id: uuid.UUID) -> ClosureView:
    """One closure the caller may see, with its tally and successors."""
    return (await _views(session, [await visible_closure(session, me, closure_id)]))[0]


CLOSURES_LISTED = 200
"""Closures a regulator's list shows: the running ones first, by date."""
CANDIDATES_LISTED = 100
"""Candidates a form lists by name; any other is named by its unified social credit code."""


def _candidates(closing: Merchant) -> Select[Merchant]:
    return select(Merchant).where(
        Merchant.industry == closing.industry,
        Merchant.district == closing.district,
        Merchant.status == MerchantStatus.ACTIVE,
        Merchant.id != closing.id,
    )


async def successor_candidates(session: AsyncSession, closing: Merchant) -> list[Merchant]:
    """Merchants that could take the cards over: same industry and district, trading.

    The first :data:`CANDIDATES_LISTED` by name; :func:`successor_candidate` finds any.
    """
    found = await session.scalars(
        _candidates(closing).order_by(Merchant.legal_name).limit(CANDIDATES_LISTED)
    )
    return list(found)


async def successor_candidate(
    session: AsyncSession,
    closing: Merchant,
    *,
    merchant_id: uuid.UUID | None = None,
    uscc: str | None = None,
) -> Merchant | None:
    """The candidate named by id or by unified social credit code, if it is one."""
    if merchant_id is not None:
        query = _candidates(closing).where(Merchant.id == merchant_id)
    elif uscc:
        query = _candidates(closing).where(Merchant.uscc == normalise_uscc(uscc))
    else:
        return None
    return await session.scalar(query)


async def came_from(session: AsyncSession, holder: CardHolder) -> Merchant | None:
    """The closing merchant a card was taken over from, if it was."""
    if holder.transferred_from is None:
        return None
    old = await session.get(CardHolder, holder.transferred_from)
    return None if old is None else await session.get(Merchant, old.merchant_id)


async def waiting_choices(session: AsyncSession, consumer_id: uuid.UUID) -> set[uuid.UUID]:
    """The consumer's cards of closing merchants on which nothing is settled yet."""
    return set(
        await session.scalars(
            select(ClosureCard.card_id)
            .join(Closure, Closure.id == ClosureCard.closure_id)
            .where(
                ClosureCard.consumer_id == consumer_id,
                ClosureCard.outcome.is_(None),
                Closure.status == ClosureStatus.ANNOUNCED,
            )
        )
    )


async def mapping_choices(
    session: AsyncSession, closure: Closure, successor_id: uuid.UUID
) -> list[tuple[Product, list[Product]]]:
    """Each product the closure's cards were sold as, with the successor's like products.

    What a form naming the successor offers to map: a product to one of the same kind.
    """
    sold = list(
        await session.scalars(
            select(Product)
            .where(
                Product.id.in_(
                    select(CardHolder.product_id)
                    .join(ClosureCard, ClosureCard.card_id == CardHolder.card_id)
                    .where(ClosureCard.closure_id == closure.id)
                )
            )
            .order_by(Product.name)
        )
    )
    theirs = list(
        await session.scalars(
            select(Product)
            .where(Product.merchant_id == successor_id, Product.status == ProductStatus.ACTIVE)
            .order_by(Product.name)
        )
    )
    return [(p, [t for t in theirs if t.kind == p.kind]) for p in sold]
