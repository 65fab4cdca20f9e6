"""Bearer-token authentication: sets the request's user to a Principal, or None."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from app.auth.service import resolve
from app.exceptions import NotAuthenticated

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection


SESSION_COOKIE = "pguard_session"
"""Pages carry the same token in an HttpOnly, SameSite=Strict cookie (``app.pages``)."""


class TokenAuthentication(AbstractAuthenticationMiddleware):
    """Anonymous requests pass with no user; a bad or expired token is refused outright.

    The API takes ``Authorization: Bearer``; pages take the session cookie. An expired cookie
    makes the visitor anonymous (the page then asks to sign in) rather than an error.
    """

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        """Resolve ``Authorization: Bearer …``, or the pages' session cookie, to a principal."""
        header = connection.headers.get("authorization")
        if not header:
            cookie = connection.cookies.get(SESSION_COOKIE)
            if not cookie:
                return AuthenticationResult(user=None, auth=None)
            async with connection.app.state.sessions() as session:
                principal = await resolve(session, cookie)
            return AuthenticationResult(user=principal, auth=cookie if principal else None)
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("bearer-token-required")
        async with connection.app.state.sessions() as session:
            principal = await resolve(session, token.strip())
        if principal is None:
            raise NotAuthenticated("sign-in-expired")
        return AuthenticationResult(user=principal, auth=token)
