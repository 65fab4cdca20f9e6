"""What a verified payment notification pays, decided in one place.

A consumer's card order, or a merchant's payment of the refunds it owes: for the provider's
notify endpoint and the sandbox's pay page alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from app.cards import service as cards
from app.payables import service as payables
from app.payments.sandbox import SandboxProvider, deliver

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.payments.provider import PaymentEvent


async def apply_notification(session: AsyncSession, event: PaymentEvent) -> str:
    """Apply one verified notification to whatever it pays, exactly once; say what happened."""
    if await payables.payment_for(session, event.provider_order_id) is not None:
        return await payables.apply_payment(session, event)
    return await cards.apply_payment(session, event)


@dataclass(frozen=True)
class SandboxPaid:
    """What the sandbox's pay button paid, and what each of its notifications did."""

    kind: Literal["order", "payable-payment"]
    id: uuid.UUID
    outcomes: list[str]


async def pay_in_sandbox(
    db: AsyncSession, provider_order_id: str, *, only_pending: bool = False
) -> SandboxPaid:
    """The sandbox provider after someone paid at its pay page.

    The provider notifies twice, as real ones do; each notification is verified and applied
    in a transaction of its own, as ``/payments/sandbox/notify`` applies it. ``only_pending``:
    something already paid or closed is left alone (the pay button pressed again).
    """
    async with db.begin():
        payment = await payables.payment_for(db, provider_order_id)
        if payment is not None:
            kind: Literal["order", "payable-payment"] = "payable-payment"
            paid_id, amount, status = payment.id, payment.amount, payment.status
        else:
            order = await cards.sandbox_order(db, provider_order_id)
            kind, paid_id, amount, status = "order", order.id, order.amount, order.status
    if only_pending and status != "pending":
        return SandboxPaid(kind, paid_id, [])
    provider = SandboxProvider()

    async def notify(headers: dict[str, str], body: bytes) -> str:
        event = provider.verify_notification(headers, body)
        async with db.begin():
            return await apply_notification(db, event)

    return SandboxPaid(kind, paid_id, await deliver(provider, provider_order_id, amount, notify))
