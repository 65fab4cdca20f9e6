"""What the app needs of a payment provider (WeChat Pay, Alipay, UnionPay, or the sandbox).

Create an order, verify the provider's signed asynchronous notification, and refund. The
notification is the only proof of payment: the order page never marks an order paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from app.exceptions import AppError

if TYPE_CHECKING:
    from datetime import datetime


@dataclass(frozen=True)
class ProviderOrder:
    """The provider's handle on an order, and where the consumer goes to pay."""

    provider: str
    provider_order_id: str
    pay_url: str


@dataclass(frozen=True)
class PaymentEvent:
    """A verified notification: one provider event about one order."""

    provider: str
    event_id: str
    provider_order_id: str
    status: Literal["SUCCESS", "CLOSED"]
    amount: int
    occurred_at: datetime
    payload: dict[str, object]


class InvalidNotification(AppError):
    """A notification whose signature, timestamp or body does not check out (400).

    Raised with the code of what is wrong (``notification-signature-too-old``...).
    """

    code = "invalid-notification"


@runtime_checkable
class PaymentProvider(Protocol):
    """The adapter each provider implements.

    Checkable at run time: Litestar checks the injected ``provider`` dependency against it.
    """

    name: str

    def create_order(self, order_id: str, amount: int, description: str) -> ProviderOrder:
        """Register an order of ``amount`` fen with the provider."""
        ...

    def pay_url(self, provider_order_id: str) -> str:
        """Where the consumer pays an order the provider knows."""
        ...

    def verify_notification(self, headers: dict[str, str], body: bytes) -> PaymentEvent:
        """Check the signature and parse the event; raise :class:`InvalidNotification`."""
        ...
