"""Dependencies every controller may ask for: a database session, the PII cipher, the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator  # noqa: TC003 - Litestar reads these hints at run time
from typing import Any

from litestar import Request  # noqa: TC002
from litestar.datastructures import State  # noqa: TC002
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal, principal_of
from app.auth.sms import SmsSender
from app.exceptions import NotAuthenticated
from app.payments.provider import PaymentProvider
from app.security.pii import PiiCipher


async def provide_db(state: State) -> AsyncIterator[AsyncSession]:
    """A session for the request that never commits by itself.

    Each use case opens its own transaction (``async with db.begin()``), so a failed commit
    is an error the caller sees, never swallowed.
    """
    async with state.sessions() as session:
        yield session


def provide_cipher(state: State) -> PiiCipher:
    """The deployment's personal-data cipher."""
    cipher: PiiCipher = state.cipher
    return cipher


def provide_provider(state: State) -> PaymentProvider:
    """The deployment's payment provider (``app.payments.configured``)."""
    provider: PaymentProvider = state.provider
    return provider


def provide_sms(state: State) -> SmsSender:
    """The deployment's SMS sender (``app.auth.sms``)."""
    sms: SmsSender = state.sms
    return sms


def provide_me(request: Request[Any, Any, Any]) -> Principal:
    """The signed-in caller (routes that take ``me`` also declare a role guard)."""
    who = principal_of(request)
    if who is None:
        raise NotAuthenticated
    return who


def provide_maybe_me(request: Request[Any, Any, Any]) -> Principal | None:
    """The caller if signed in, else ``None`` (routes open to anonymous buyers)."""
    return principal_of(request)


def client_address(request: Request[Any, Any, Any]) -> str | None:
    """The caller's address as the rate limits count it.

    The peer's, or the address a configured proxy forwarded (``PGUARD_TRUSTED_PROXIES``, read
    by :mod:`app.serving`).
    """
    return request.client.host if request.client else None


DEPENDENCIES = {
    "db": Provide(provide_db),
    "cipher": Provide(provide_cipher, sync_to_thread=False),
    "provider": Provide(provide_provider, sync_to_thread=False),
    "sms": Provide(provide_sms, sync_to_thread=False),
    "me": Provide(provide_me, sync_to_thread=False),
    "maybe_me": Provide(provide_maybe_me, sync_to_thread=False),
}

Db = NamedDependency[AsyncSession]
"""Ask for the request's session as ``db: Db``."""
Me = NamedDependency[Principal]
"""Ask for the signed-in caller as ``me: Me``."""
MaybeMe = NamedDependency[Principal | None]
"""Ask for the caller, if any, as ``maybe_me: MaybeMe``."""
Cipher = NamedDependency[PiiCipher]
"""Ask for the personal-data cipher as ``cipher: Cipher``."""
Provider = NamedDependency[PaymentProvider]
"""Ask for the deployment's payment provider as ``provider: Provider``."""
Sms = NamedDependency[SmsSender]
"""Ask for the deployment's SMS sender as ``sms: Sms``."""
