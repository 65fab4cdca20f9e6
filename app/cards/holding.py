"""Holding a card: whose it is, what it holds, what protects it, what happened to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

import escrow
from app.cards.models import CardHolder, Contract
from app.cards.rows import required
from app.exceptions import NotFound
from app.ledger import escrow_ledger
from app.merchants.models import Merchant, Product
from app.payables.service import PayableView, payables_of
from app.security.tokens import digest

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal


async def holder_for(
    session: AsyncSession,
    who: Principal | None,
    *,
    card_id: uuid.UUID | None = None,
    secret: str | None = None,
    lock: bool = False,
) -> CardHolder:
    """The card if it is the caller's: a signed-in consumer's own, or the anonymous link's."""
    query = select(CardHolder)
    if secret is not None:
        query = query.where(CardHolder.anon_secret_hash == digest(secret))
    elif card_id is not None and who is not None and who.consumer_id is not None:
        query = query.where(
            CardHolder.card_id == card_id, CardHolder.consumer_id == who.consumer_id
        )
    else:
        raise NotFound("card-not-found")
    holder = await session.scalar(query.with_for_update() if lock else query)
    if holder is None:
        raise NotFound("card-not-found")
    return holder


async def consumer_cards(session: AsyncSession, consumer_id: uuid.UUID) -> list[CardHolder]:
    """A consumer's cards, newest first."""
    found = await session.scalars(
        select(CardHolder)
        .where(CardHolder.consumer_id == consumer_id)
        .order_by(CardHolder.created_at.desc())
    )
    return list(found.all())


@dataclass(frozen=True)
class CardRow:
    """One card in a consumer's list: who sold it, what it is, what is left."""

    holder: CardHolder
    merchant: Merchant
    product: Product
    balance: escrow.CardBalance


async def cards_of(session: AsyncSession, consumer_id: uuid.UUID) -> list[CardRow]:
    """Every card a consumer holds, newest first, with its balance from the ledger."""
    holders = await consumer_cards(session, consumer_id)
    merchants = {
        m.id: m
        for m in await session.scalars(
            select(Merchant).where(Merchant.id.in_({h.merchant_id for h in holders}))
        )
    }
    products = {
        p.id: p
        for p in await session.scalars(
            select(Product).where(Product.id.in_({h.product_id for h in holders}))
        )
    }
    ledger = escrow_ledger(session)
    return [
        CardRow(
            h,
            merchants[h.merchant_id],
            products[h.product_id],
            await ledger.card(h.merchant_id, h.card_id),
        )
        for h in holders
    ]


async def product_of(session: AsyncSession, holder: CardHolder) -> Product:
    """The product a card was bought as (its kind says what its units count)."""
    return await required(session, Product, holder.product_id)


@dataclass(frozen=True)
class CardView:
    """Everything a holder sees about a card."""

    holder: CardHolder
    merchant: Merchant
    product: Product
    balance: escrow.CardBalance
    history: list[escrow.CardEvent]
    contract: dict[str, Any]
    contract_sha256: str
    refunds: list[PayableView]
    """What the merchant owes this card's holder after refunds, and who paid what of it."""


async def card_view(session: AsyncSession, holder: CardHolder) -> CardView:
    """Balance from the ledger, history from its entries, and the contract."""
    merchant = await required(session, Merchant, holder.merchant_id)
    product = await required(session, Product, holder.product_id)
    contract = await required(session, Contract, holder.card_id)
    ledger = escrow_ledger(session)
    return CardView(
        holder=holder,
        merchant=merchant,
        product=product,
        balance=await ledger.card(holder.merchant_id, holder.card_id),
        history=await escrow.card_history(session, holder.merchant_id, holder.card_id),
        contract=contract.content,
        contract_sha256=contract.sha256.hex(),
        refunds=await payables_of(session, [holder.merchant_id], card_id=holder.card_id),
    )
