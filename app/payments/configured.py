"""The deployment's payment provider, chosen from settings in this one place.

Use cases take a :class:`~app.payments.provider.PaymentProvider`; the API and the pages get
it as the ``provider`` dependency, the demo and the simulation from :func:`payment_provider`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.exceptions import Conflict
from app.payments.provider import InvalidNotification
from app.payments.sandbox import SandboxProvider

if TYPE_CHECKING:
    from app.payments.provider import PaymentEvent, PaymentProvider, ProviderOrder
    from app.settings import Settings


class UnknownProvider(ValueError):
    """``PGUARD_PAYMENTS`` names a provider this build does not have (a start-up error)."""


class NoPayments:
    """``PGUARD_PAYMENTS=none``: a deployment that takes no card payments.

    Supervision, insurers and consoles work; buying a card is refused and no notification is
    believed, rather than the sandbox quietly standing in for a bank.
    """

    name = "none"

    def create_order(self, order_id: str, amount: int, description: str) -> ProviderOrder:
        """Refuse: there is nowhere to pay."""
        del order_id, amount, description
        raise Conflict("payments-disabled")

    def pay_url(self, provider_order_id: str) -> str:
        """No pay page (an order placed elsewhere is still shown, without a way to pay)."""
        del provider_order_id
        return ""

    def verify_notification(self, headers: dict[str, str], body: bytes) -> PaymentEvent:
        """Refuse: no provider signs notifications here."""
        del headers, body
        raise InvalidNotification("notification-no-provider")


def payment_provider(settings: Settings) -> PaymentProvider:
    """The provider ``PGUARD_PAYMENTS`` names: the sandbox, or none at all."""
    if settings.payments == "sandbox":
        return SandboxProvider()
    if settings.payments == "none":
        return NoPayments()
    msg = f"PGUARD_PAYMENTS={settings.payments!r}: no such payment provider ('sandbox' or 'none')"
    raise UnknownProvider(msg)
