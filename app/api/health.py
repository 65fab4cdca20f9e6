"""``GET /health``: whether the database answers at the schema revision the code expects."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.status_codes import HTTP_503_SERVICE_UNAVAILABLE

from app.auth.principal import public
from app.db import head_revision, ping
from app.errors import problem


class DatabaseHealth(msgspec.Struct):
    """What the health check found about PostgreSQL."""

    reachable: bool
    revision: str | None
    head: str | None
    up_to_date: bool


class Health(msgspec.Struct):
    """The service is healthy when the database answers at the newest schema revision."""

    status: str
    database: DatabaseHealth


class HealthController(Controller):
    """Liveness and readiness in one: load balancers and people read the same answer."""

    path = "/health"
    tags = ["system"]  # noqa: RUF012 - Litestar's declared attribute type

    @get(summary="Service health", guards=[public])
    async def health(self, state: State, request: Request[Any, Any, Any]) -> Response[Any]:
        """200 with the schema revision, or a 503 problem saying what is wrong."""
        reachable, revision = await ping(state.engine)
        head = head_revision()
        db = DatabaseHealth(reachable, revision, head, reachable and revision == head)
        if db.up_to_date:
            return Response(Health("ok", db))
        detail = (
            "the database does not answer"
            if not reachable
            else f"the schema is at {revision}, the code expects {head}; run `pguard db upgrade`"
        )
        return problem(
            request,
            HTTP_503_SERVICE_UNAVAILABLE,
            title="Service unavailable",
            detail=detail,
            extra={"database": msgspec.to_builtins(db)},
        )
