"""Who is calling, and the guards that every route declares."""

from __future__ import annotations

import uuid  # noqa: TC003 - Litestar inspects Principal's fields at run time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.auth.models import Role
from app.exceptions import Forbidden, NotAuthenticated

if TYPE_CHECKING:
    from collections.abc import Callable

    from litestar.connection import ASGIConnection
    from litestar.handlers.base import BaseRouteHandler


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in caller and what it may reach."""

    role: Role
    user_id: uuid.UUID | None = None
    consumer_id: uuid.UUID | None = None
    merchant_id: uuid.UUID | None = None
    """Merchant staff: the one merchant they work for."""
    district: str | None = None
    """Regulator: their district; ``None`` means city level (every district)."""
    organisation: str | None = None
    insurer_id: uuid.UUID | None = None
    """Insurer staff: the insurer they work for."""
    organisation_id: uuid.UUID | None = None
    """Department and street-office staff: the organisation they work for."""

    def sees_district(self, district: str) -> bool:
        """Whether a regulator (or operator) may look at merchants in ``district``."""
        if self.role is Role.OPERATOR:
            return True
        return self.role is Role.REGULATOR and self.district in (None, district)


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """The caller, or ``None`` for an anonymous request."""
    user = connection.scope.get("user")
    return user if isinstance(user, Principal) else None


def requires(
    *roles: Role,
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]:
    """A guard admitting only callers signed in with one of ``roles``."""
    allowed = frozenset(roles)
    names = " or ".join(sorted(r.value for r in allowed))

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        who = principal_of(connection)
        if who is None:
            raise NotAuthenticated
        if who.role not in allowed:
            raise Forbidden("role-required", roles=names)

    return guard


def public(_: ASGIConnection[Any, Any, Any, Any], __: BaseRouteHandler) -> None:
    """Declares a route open to anyone, signed in or not."""
