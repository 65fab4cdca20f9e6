"""Structured logs: one event a line, every line of a request tagged with its request id."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import TYPE_CHECKING

import structlog
from litestar.enums import ScopeType

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    from app.settings import LogSettings

REQUEST_ID_HEADER = "x-request-id"
_SECRET_PATHS = re.compile(r"(/cards/anonymous/|/card/)[^/]+", re.IGNORECASE)
"""Paths that carry a bearer secret (an anonymous card's link, in the API and on the pages):
never written to a log. Queries are never logged at all (``?card_link=`` is one)."""


def loggable_path(path: str) -> str:
    """The request path with any secret in it replaced, and control characters escaped.

    Anywhere in the path and in any case (``/Card/…``, ``/./card/…``, ``/x/cards/anonymous/…``
    reach no page, but their log line would still carry the link); a NUL or a terminal escape
    sequence is written as a hex escape, never raw into the log.
    """
    hidden = _SECRET_PATHS.sub(r"\1[secret]", path)
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in hidden)


_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def configure_logging(settings: LogSettings) -> None:
    """Route structlog and the standard library through one renderer."""
    level = logging.getLevelName(settings.level.upper())
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if settings.json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=level, format="%(levelname)s %(name)s %(message)s")


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Tag the request with an id (the caller's, if sane) and log one line when it ends."""
    log = structlog.get_logger("pguard.http")

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message["headers"] = headers
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await app(scope, receive, send_with_id)
            finally:
                log.info(
                    "request",
                    method=scope["method"],
                    path=loggable_path(scope["path"]),
                    status=status,
                    ms=round((time.perf_counter() - started) * 1000, 2),
                )

    return middleware
