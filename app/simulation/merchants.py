"""What the district's merchants do: answer refund requests and complaints, pay what they owe.

A complaint the merchant has answered goes on to the regulator, who decides it here too: the
decision follows the answer in the same daily round.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from app.cards import service as cards
from app.cards.payments import apply_notification
from app.exceptions import AppError
from app.payables import service as payables
from app.supervision import disputes

if TYPE_CHECKING:
    from app.simulation.state import Run, Shop, SimCard


async def answers(district: Run) -> None:
    """Merchants answer yesterday's refund requests and complaints."""
    for asked, request_id, card in list(district.pending_requests):
        if asked >= district.day:
            continue
        district.pending_requests.remove((asked, request_id, card))
        shop = district.shops[card.shop - 1]
        if shop.status == "defaulted":
            continue
        accept = district.rng.random() < 0.7  # noqa: PLR2004
        async with district.sessions() as session, session.begin():
            answered = await cards.answer_refund(
                session,
                shop.owner,
                request_id,
                accept=accept,
                answer="同意退款" if accept else "卡已使用过半，按合同不退",
            )
        if accept:
            district.refunded(card, answered.refunded or 0)
            district.summary.count("accepted refund requests")
        else:
            district.summary.count("refused refund requests")
    for filed, dispute_id, card, stage in list(district.open_disputes):
        if filed >= district.day:
            continue
        shop = district.shops[card.shop - 1]
        district.open_disputes.remove((filed, dispute_id, card, stage))
        if stage == "filed" and shop.status != "defaulted":
            async with district.sessions() as session, session.begin():
                await disputes.answer(session, shop.owner, dispute_id, "我们会妥善处理")
            district.open_disputes.append((district.day, dispute_id, card, "answered"))
        elif stage == "answered":
            await _decide(district, dispute_id, card, shop)


async def _decide(district: Run, dispute_id: uuid.UUID, card: SimCard, shop: Shop) -> None:
    roll = district.rng.random()
    if card.status != "open" or shop.status == "defaulted" or roll < 0.3:  # noqa: PLR2004
        ruling = disputes.Ruling(disputes.Decision.REJECT, "证据不足")
    elif roll < 0.55:  # noqa: PLR2004
        ruling = disputes.Ruling(disputes.Decision.REFUND, "商家未履约，退还余额")
    else:
        amount = district.rng.randint(1, max(1, card.paid // 10))
        ruling = disputes.Ruling(disputes.Decision.PARTIAL, "部分补偿", amount_fen=amount)
    async with district.sessions() as session, session.begin():
        decided = await disputes.decide(session, district.regulator, dispute_id, ruling)
        await disputes.confirm(
            session, disputes.ConsumerSide.of(district.person(card.person)), dispute_id
        )
    if ruling.decision is disputes.Decision.REFUND:
        # a card used up since the complaint is refunded for nothing (its units say 0)
        district.refunded(card, decided.dispute.decided_amount or 0)
    elif ruling.decision is disputes.Decision.PARTIAL and ruling.amount_fen:
        district.owe(card, ruling.amount_fen)
    district.summary.count(f"dispute decisions ({ruling.decision.value})")


async def pay_refunds(district: Run) -> None:
    """Merchants that pay their refund debts themselves, through the provider."""
    for shop in district.shops:
        chance = {"prompt": 0.8, "late": 0.15, "never": 0.0}[shop.plan.payer]
        if shop.merchant_id not in district.owing or shop.status == "defaulted":
            continue
        if district.rng.random() >= chance:
            continue
        district.owing.discard(shop.merchant_id)
        try:
            async with district.sessions() as session, session.begin():
                started = await payables.start_payment(
                    session,
                    shop.owner,
                    district.provider,
                    f"sim-pay-{uuid.UUID(int=district.rng.getrandbits(128))}",
                )
                provider_order_id, amount = (
                    started.payment.provider_order_id,
                    started.payment.amount,
                )
        except AppError:
            continue  # owes nothing now
        headers, body = district.provider.notification(provider_order_id, amount)
        event = district.provider.verify_notification(headers, body)
        async with district.sessions() as session, session.begin():
            await apply_notification(session, event)
        district.checks.moved(shop.merchant_id)
        district.summary.count("merchant payments of refunds")
