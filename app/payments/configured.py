"""The deployment's payment provider, chosen from settings in this one place.

Use cases take a :class:`~app.payments.provider.PaymentProvider`; the API and the pages get
it as the ``provider`` dependency, the demo and the simulation from :func:`payment_provider`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.payments.sandbox import SandboxProvider

if TYPE_CHECKING:
    from app.payments.provider import PaymentProvider
    from app.settings import Settings


class UnknownProvider(ValueError):
    """``PGUARD_PAYMENTS`` names a provider this build does not have."""


def payment_provider(settings: Settings) -> PaymentProvider:
    """The provider ``PGUARD_PAYMENTS`` names; only the sandbox exists so far."""
    if settings.payments == "sandbox":
        return SandboxProvider()
    msg = f"PGUARD_PAYMENTS={settings.payments!r}: no such payment provider (only 'sandbox')"
    raise UnknownProvider(msg)
