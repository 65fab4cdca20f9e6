"""What every request must show before a handler runs.

* A state-changing request that a browser could have been tricked into sending must come
  from this site: every page form, and every API call that the session cookie authorises
  (an API call with a bearer token cannot be forged by another site: no browser adds it).
  The page's ``SameSite=Strict`` cookie is the first lock; this is the second.
* The JSON API reads JSON only: a body of another type (a form, ``text/plain``, multipart,
  none said) is refused with 415 instead of being parsed as JSON, so a cross-site form cannot
  pass for an API call.
* A JSON body is read here once before the handler: one nested deeper than any real request
  (thousands of ``[``) is a 400, not the parser's recursion error answered as a 500 with a
  traceback in the log; and a value of the wrong JSON type (``"100"`` where a number is
  required) is a 400 instead of being quietly converted, as Litestar's lax conversion would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import msgspec
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware

from app.auth.middleware import SESSION_COOKIE
from app.exceptions import Forbidden, Malformed, UnsupportedMediaType

if TYPE_CHECKING:
    from litestar import Request
    from litestar.types import ASGIApp, HTTPScope, Receive, ReceiveMessage, Scope, Send


def wants_html(request: Request[Any, Any, Any]) -> bool:
    """Whether the caller prefers a page to JSON (a phone's browser, not an app or a test)."""
    best = request.accept.best_match(["application/json", "text/html"], "application/json")
    return best == "text/html"


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_DEPTH = 32
"""Deeper JSON than any request of this API (a few levels) is refused here, well before any
parser's recursion limit: checked at one depth, parsed later at another, a body just under the
limit here could still exhaust the stack there."""


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _has_cookie(scope: Scope, name: str) -> bool:
    cookies = _header(scope, b"cookie") or ""
    return any(part.strip().startswith(f"{name}=") for part in cookies.split(";"))


def is_json(content_type: str | None) -> bool:
    """``application/json`` or a ``+json`` type, parameters (a charset) allowed."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def from_this_site(scope: Scope, *, required: bool) -> bool:
    """Whether the request's Origin (else Referer) names this host.

    ``required``: a request with neither header fails too (an API call the cookie
    authorises); otherwise it passes (a page form posted by a test client or curl, where
    the cookie is the only credential and no browser is involved).
    """
    origin = _header(scope, b"origin") or _header(scope, b"referer")
    if origin is None or origin == "null":
        return not required and origin is None
    return urlsplit(origin).netloc == (_header(scope, b"host") or "")


def _has_body(scope: Scope) -> bool:
    length = _header(scope, b"content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return _header(scope, b"transfer-encoding") is not None


async def _buffered(receive: Receive, limit: int) -> tuple[list[ReceiveMessage], bytes | None]:
    """The body's messages as received, and the body (``None`` past ``limit``: Litestar's 413)."""
    messages: list[ReceiveMessage] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        size += len(message["body"])
        if size > limit:
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(m["body"] for m in messages if m["type"] == "http.request")


def _replay(messages: list[ReceiveMessage], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> ReceiveMessage:
        return pending.pop(0) if pending else await receive()

    return replay


def _depth(value: object) -> int:
    """How deeply lists and objects nest in a decoded JSON value (without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item if isinstance(child, dict | list))
    return deepest


def check_json(body: bytes, expected: Any) -> None:  # noqa: ANN401 - any body type a route reads
    """Refuse absurd depth, and values JSON typed otherwise than ``expected`` says.

    Malformed JSON and ordinary validation failures (a missing field, a pattern) pass on:
    Litestar answers them with its own field-by-field 400.
    """
    try:
        decoded = msgspec.json.decode(body)
    except RecursionError:
        raise Malformed("json-too-deep") from None
    except msgspec.DecodeError:
        return
    if _depth(decoded) > MAX_DEPTH:
        raise Malformed("json-too-deep", max_depth=MAX_DEPTH)
    if expected is None:
        return
    try:
        msgspec.json.decode(body, type=expected, strict=True)
    except msgspec.ValidationError as strict:
        try:
            msgspec.json.decode(body, type=expected, strict=False)
        except msgspec.ValidationError:
            return  # wrong in a way Litestar reports itself
        raise Malformed("json-wrong-type", problem=str(strict)) from None


class RequestChecks(ASGIMiddleware):
    """Refuse cross-site writes, non-JSON API bodies, absurd depth and coerced JSON types."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        """Check, then pass the request on with its body as it came."""
        http = cast("HTTPScope", scope)
        if http["method"] in SAFE_METHODS:
            await next_app(scope, receive, send)
            return
        handler: Any = scope.get("route_handler")
        page = bool(handler is not None and handler.opt.get("page"))
        by_cookie = _header(scope, b"authorization") is None and _has_cookie(scope, SESSION_COOKIE)
        if (page or by_cookie) and not from_this_site(scope, required=not page):
            if page:
                raise Forbidden("cross-site-form")
            raise Forbidden("cross-site-request")
        if not page and _has_body(scope):
            if not is_json(_header(scope, b"content-type")):
                raise UnsupportedMediaType("json-body-required")
            messages, body = await _buffered(receive, handler.resolve_request_max_body_size())
            if body is not None:
                data = handler.parsed_fn_signature.parameters.get("data")
                check_json(body, data.annotation if data is not None else None)
            receive = _replay(messages, receive)
        await next_app(scope, receive, send)
