"""What the district's consumers do each day: buy cards, use them, ask refunds, complain.

Each act goes through the use case a consumer's phone would call; a card is paid as the
provider pays it, by a signed sandbox notification.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from app.cards import service as cards
from app.cards.models import Order
from app.cards.payments import apply_notification
from app.exceptions import AppError
from app.simulation.state import SimCard, SimulationBroke
from app.supervision import disputes

if TYPE_CHECKING:
    from app.simulation.state import Run, Shop

USE_CHANCE = 0.02
"""Each open card is used on a given day with this chance."""
SESSIONS_AT_MOST = 100
"""A card of at most this many units counts sessions (others count fen of face value)."""


async def sales(district: Run) -> None:
    """Each selling shop sells a Poisson number of cards at its counter code."""
    for shop in district.shops:
        if shop.status != "active":
            continue
        count = district.poisson(shop.plan.sales_per_day)
        for _ in range(count):
            await _sell(district, shop)


async def _sell(district: Run, shop: Shop) -> None:
    person = district.rng.randrange(len(district.people))
    product_id, price, units = district.rng.choice(shop.products)
    merchant_id, kid, signature = shop.counter
    try:
        async with district.sessions() as session, session.begin():
            made = await cards.create_order(
                session,
                district.person(person),
                cards.OrderRequest(merchant_id, kid, signature, product_id),
                f"sim-{uuid.UUID(int=district.rng.getrandbits(128))}",
                district.provider,
                district.cipher,
            )
            order_id, provider_order_id = made.order.id, made.order.provider_order_id
    except AppError:  # held for review, blocked, or stopped: the counter says so
        district.summary.refused_sales += 1
        return
    headers, body = district.provider.notification(provider_order_id, price)
    event = district.provider.verify_notification(headers, body)
    async with district.sessions() as session, session.begin():
        outcome = await apply_notification(session, event)
        order = await session.get(Order, order_id)
        card_id = order.card_id if order else None
    if outcome != "issued" or card_id is None:
        raise SimulationBroke(district.world.seed, district.day, f"a paid order gave {outcome}")
    card = SimCard(card_id, shop.plan.number, person, price, units, bought_day=district.day)
    district.cards.append(card)
    district.open_cards.append(card)
    district.checks.sold(shop.merchant_id)
    district.summary.count("sales")


async def uses(district: Run) -> None:
    """Some open cards are used: the holder shows a one-time code, the merchant redeems."""
    for card in list(district.open_cards):
        if card.status != "open" or district.rng.random() > USE_CHANCE:
            continue
        shop = district.shops[card.shop - 1]
        if shop.status not in ("active", "held"):
            continue
        left = card.units_total - card.units_used
        if card.units_total <= SESSIONS_AT_MOST:  # a few sessions at a time
            units = min(left, district.rng.randint(1, 3))
        else:  # a fifth to a half of the face value, or what is left
            units = min(left, district.rng.randint(card.units_total // 5, card.units_total // 2))
        async with district.sessions() as session, session.begin():
            holder = await cards.holder_for(
                session, district.person(card.person), card_id=card.card_id
            )
            code = await cards.issue_redemption_code(session, holder, units)
            await cards.redeem(
                session,
                shop.owner,
                token=code.token,
                digits=None,
                units=units,
                idempotency_key=f"sim-use-{uuid.UUID(int=district.rng.getrandbits(128))}",
            )
        card.units_used += units
        if card.used_up:
            district.open_cards.remove(card)  # used up: nothing left to use or refund
        district.checks.used(card, shop.merchant_id)
        district.summary.count("redemptions")


async def refunds(district: Run) -> None:
    """Some holders ask for a refund: fresh cards in their cooling-off days more often."""
    for card in list(district.open_cards):
        if card.status != "open":
            continue
        shop = district.shops[card.shop - 1]
        if shop.status == "defaulted":
            continue
        fresh = district.day - card.bought_day <= 3 and card.units_used == 0  # noqa: PLR2004
        if (fresh and district.rng.random() < 0.02) or district.rng.random() < 0.001:  # noqa: PLR2004
            await _ask_refund(district, card)


async def _ask_refund(district: Run, card: SimCard) -> None:
    try:
        async with district.sessions() as session, session.begin():
            holder = await cards.holder_for(
                session, district.person(card.person), card_id=card.card_id, lock=True
            )
            outcome = await cards.request_refund(
                session, holder, "不想要了", f"sim-refund-{card.card_id}-{district.day}"
            )
    except AppError:  # a request for this card is already waiting for the merchant
        district.summary.count("refund requests refused at once")
        return
    if outcome.refund is not None:
        district.refunded(card, outcome.refund.refunded)
        district.summary.count("cooling-off refunds")
    elif outcome.request is not None:
        district.pending_requests.append((district.day, outcome.request.id, card))
        district.summary.count("refund requests")


async def complaints(district: Run) -> None:
    """Some holders complain, more often about a merchant in trouble; one at a time per card."""
    disputing = {card.card_id for _, _, card, _ in district.open_disputes}
    for card in district.open_cards:
        shop = district.shops[card.shop - 1]
        if shop.status == "defaulted" or card.card_id in disputing:
            continue  # one open complaint per card
        rate = 0.0008 if shop.plan.fate == "steady" else 0.004
        if district.rng.random() > rate:
            continue
        async with district.sessions() as session, session.begin():
            holder = await cards.holder_for(
                session, district.person(card.person), card_id=card.card_id, lock=True
            )
            filed = await disputes.file_complaint(
                session,
                holder,
                disputes.Complaint(
                    kind=disputes.DisputeKind("quality"),
                    text="服务缩水，多次预约不到",
                    amount_asked=min(card.paid, 10_000),
                ),
            )
        district.open_disputes.append((district.day, filed.view.dispute.id, card, "filed"))
        district.checks.news(shop.merchant_id)
        district.summary.count("complaints")
