"""Every error of the JSON API is documented as what it is: RFC 9457 problem details.

Litestar documents only the validation 400, as ``application/json``; the API also answers
401, 403, 404, 409, 413, 415, 422, 429 and 503, always as ``application/problem+json`` with a
stable ``type`` (``/problems/<code>``) whose words the catalogues hold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec

from app.errors import PROBLEM_JSON

if TYPE_CHECKING:
    from litestar import Litestar


class FieldProblem(msgspec.Struct):
    """What is wrong with one field of the request."""

    field: str
    message: str
    code: str | None = None


class Problem(msgspec.Struct):
    """RFC 9457 problem details; an error's parameters (amounts, limits) come beside these."""

    type: str
    """``/problems/<code>``: the stable code; its words are in the catalogues."""
    title: str
    status: int
    detail: str | None = None
    """What went wrong, in English; a page shows the same code in the reader's language."""
    instance: str | None = None
    request_id: str | None = None
    """Quote it to support: every log line of the request carries it."""
    errors: list[FieldProblem] | None = None


_PROBLEMS = {
    400: "The request cannot be read (malformed JSON, a wrong type, a code that is not ours)",
    401: "Sign-in required, or it expired (or, signing in, a wrong password or code)",
    403: "Not the caller's to do, or a cross-site request",
    404: "No such thing, or not the caller's to see",
    409: "A conflict with the current state (a duplicate, a reused idempotency key)",
    413: "The body is too large",
    415: "The body is not JSON",
    422: "The request breaks a rule; nothing was written",
    429: "Too many attempts; Retry-After says when to try again",
    503: "A service it needs is down (the database failing over); retry with the same key",
}


def _spec(description: str) -> ResponseSpec:
    return ResponseSpec(
        Problem, description=description, media_type=PROBLEM_JSON, generate_examples=False
    )


def document_problems(app: Litestar) -> None:
    """Add the problem responses to every API operation of ``app``'s OpenAPI document."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if not isinstance(handler, HTTPRouteHandler) or handler.opt.get("page"):
                continue
            if not handler.include_in_schema:
                continue
            documented: dict[int, Any] = {code: _spec(text) for code, text in _PROBLEMS.items()}
            handler.responses = {**documented, **(handler.responses or {})}
