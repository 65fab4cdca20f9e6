"""Bearer-token authentication: sets the request's user to a Principal, or None."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from app.auth.service import resolve
from app.exceptions import NotAuthenticated

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection


class TokenAuthentication(AbstractAuthenticationMiddleware):
    """Anonymous requests pass with no user; a bad or expired token is refused outright."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        """Resolve ``Authorization: Bearer …`` to a principal."""
        header = connection.headers.get("authorization")
        if not header:
            return AuthenticationResult(user=None, auth=None)
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("use 'Authorization: Bearer <token>'")
        async with connection.app.state.sessions() as session:
            principal = await resolve(session, token.strip())
        if principal is None:
            raise NotAuthenticated("your sign-in has expired or is unknown; sign in again")
        return AuthenticationResult(user=principal, auth=token)
