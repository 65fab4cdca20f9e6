"""What a verified payment notification pays, decided in one place.

A consumer's card order, or a merchant's payment of the refunds it owes: for the provider's
notify endpoint, the sandbox's pay page, the demo and the simulation alike. The payment
provider's adapter (``app.payments``) knows neither; this module joins them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from app.cards.issuing import apply_payment, sandbox_order
from app.exceptions import NotFound
from app.merchants.models import Merchant, Product
from app.payables import service as payables
from app.payments.sandbox import SandboxProvider, deliver

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.cards.models import Order
    from app.payables.models import PayablePayment
    from app.payments.provider import PaymentEvent, PaymentProvider


async def apply_notification(session: AsyncSession, event: PaymentEvent) -> str:
    """Apply one verified notification to whatever it pays, exactly once; say what happened."""
    if await payables.payment_for(session, event.provider_order_id) is not None:
        return await payables.apply_payment(session, event)
    return await apply_payment(session, event)


async def receive_notification(
    db: AsyncSession, provider: PaymentProvider, headers: dict[str, str], body: bytes
) -> str:
    """The provider's notification as it arrives: verified first, then applied in a transaction.

    Anything that does not check out is refused whole (``InvalidNotification``), before a
    row is read.
    """
    event = provider.verify_notification(headers, body)
    async with db.begin():
        return await apply_notification(db, event)


def _sandbox(provider: PaymentProvider) -> SandboxProvider:
    """The sandbox's pages exist only where the sandbox takes the money (else "not found")."""
    if not isinstance(provider, SandboxProvider):
        raise NotFound("no-sandbox-provider")
    return provider


@dataclass(frozen=True)
class SandboxBill:
    """What the sandbox's pay page shows: what is paid, to whom, how much."""

    paying: Order | PayablePayment
    merchant: Merchant | None
    product: Product | None
    """The card bought; None for a merchant paying the refunds it owes."""


async def sandbox_bill(
    db: AsyncSession, provider: PaymentProvider, provider_order_id: str
) -> SandboxBill:
    """The order or merchant's payment the sandbox knows as ``provider_order_id``."""
    _sandbox(provider)
    payment = await payables.payment_for(db, provider_order_id)
    if payment is not None:  # a merchant paying the refunds it owes consumers
        return SandboxBill(payment, await db.get(Merchant, payment.merchant_id), None)
    order = await sandbox_order(db, provider_order_id)
    return SandboxBill(
        order, await db.get(Merchant, order.merchant_id), await db.get(Product, order.product_id)
    )


@dataclass(frozen=True)
class SandboxPaid:
    """What the sandbox's pay button paid, and what each of its notifications did."""

    kind: Literal["order", "payable-payment"]
    id: uuid.UUID
    outcomes: list[str]


async def pay_in_sandbox(
    db: AsyncSession,
    provider: PaymentProvider,
    provider_order_id: str,
    *,
    only_pending: bool = False,
) -> SandboxPaid:
    """The sandbox provider after someone paid at its pay page.

    The provider notifies twice, as real ones do; each notification is verified and applied
    in a transaction of its own, as ``/payments/sandbox/notify`` applies it. ``only_pending``:
    something already paid or closed is left alone (the pay button pressed again).
    """
    sandbox = _sandbox(provider)
    async with db.begin():
        payment = await payables.payment_for(db, provider_order_id)
        if payment is not None:
            kind: Literal["order", "payable-payment"] = "payable-payment"
            paid_id, amount, status = payment.id, payment.amount, payment.status
        else:
            order = await sandbox_order(db, provider_order_id)
            kind, paid_id, amount, status = "order", order.id, order.amount, order.status
    if only_pending and status != "pending":
        return SandboxPaid(kind, paid_id, [])

    async def notify(headers: dict[str, str], body: bytes) -> str:
        return await receive_notification(db, sandbox, headers, body)

    return SandboxPaid(kind, paid_id, await deliver(sandbox, provider_order_id, amount, notify))
