"""The payment provider the demo and the simulation pay through: the configured one, a sandbox.

Both play the bank as well as the customers: after an order is placed they sign the provider's
notification themselves (:meth:`SandboxProvider.notification`), which only the sandbox can do.
So the provider is the deployment's, chosen from its settings in the one place the app chooses
it (:func:`app.payments.configured.payment_provider`), and here alone it is required to be the
sandbox: a deployment configured otherwise is refused before anything is written.
"""

from __future__ import annotations

from app.payments.configured import payment_provider
from app.payments.sandbox import SandboxProvider
from app.settings import get_settings


class NotSandbox(RuntimeError):
    """The configured payment provider is not the sandbox (a real one, or none at all)."""


def sandbox_provider() -> SandboxProvider:
    """The configured payment provider, which must be the sandbox (see the module's words)."""
    settings = get_settings()
    provider = payment_provider(settings)
    if not isinstance(provider, SandboxProvider):
        msg = (
            f"PGUARD_PAYMENTS={settings.payments!r}: the demo and the simulation sign their own"
            " payment notifications, which only the sandbox provider takes; set"
            " PGUARD_PAYMENTS=sandbox"
        )
        raise NotSandbox(msg)
    return provider
