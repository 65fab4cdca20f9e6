"""The one place where errors become HTTP: RFC 9457 problem details for everything.

Domain packages raise their own exceptions without HTTP codes or words; this module alone
decides the status, the problem ``type`` (``/problems/<code>``) and the human ``title``; the
``detail`` is the error's English words by its code (:func:`app.i18n.describe`), and its
``params`` go into the body. A page's errors are pages, and so is an unknown address asked
for by a browser (``Accept`` preferring HTML): a 404 page in its language with a way home.
Unexpected errors are logged with the request id and answered without internals. A database
out of reach (down, restarting, failing over) is a 503 with ``Retry-After``, for the API and
the pages alike, never a 500.
"""

from __future__ import annotations

from datetime import date
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import psycopg
import structlog
from litestar import Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_404_NOT_FOUND, HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

import escrow
import qr
import scoring
from app import exceptions as app_errors
from app.i18n import describe, field_messages, gettext, has
from app.payments.provider import InvalidNotification
from app.requests import wants_html

if TYPE_CHECKING:
    from litestar import Request
    from litestar.types import ExceptionHandlersMap

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "/problems/"
"""Problem types are relative URIs; each names a stable ``code``."""

DOMAIN_STATUS: list[tuple[type[Exception], int, str]] = [
    (qr.MalformedCode, 400, "Not a Prepaid Guard code"),
    (qr.ExpiredCode, 410, "Code expired"),
    (qr.RefusedCode, 403, "Code refused"),
    (qr.QrError, 500, "QR keys unavailable"),
    (InvalidNotification, 400, "Notification refused"),
    (app_errors.MerchantNotSelling, 403, "This merchant may not sell cards"),
    (app_errors.NotAuthenticated, 401, "Sign-in required"),
    (app_errors.Forbidden, 403, "Not allowed"),
    (app_errors.NotFound, 404, "Not found"),
    (app_errors.Malformed, 400, "Malformed request"),
    (app_errors.UnsupportedMediaType, 415, "Unsupported media type"),
    (app_errors.Invalid, 422, "Invalid request"),
    (app_errors.Conflict, 409, "Conflict"),
    (app_errors.RateLimited, 429, "Too many attempts"),
    (app_errors.Unavailable, 503, "Unavailable"),
    (escrow.IdempotencyConflict, 409, "Idempotency key reused"),
    (escrow.InvalidRequest, 400, "Invalid request"),
    (escrow.NotFound, 404, "Not found"),
    (escrow.InsufficientBalance, 409, "Insufficient balance"),
    (escrow.Refused, 409, "Refused"),
    (escrow.EscrowError, 400, "Request refused"),
    (scoring.BadData, 422, "Data refused"),
    (scoring.ModelFileRefused, 422, "Model file refused"),
    (scoring.BadSettings, 422, "Settings refused"),
    (scoring.ScoringError, 500, "Scoring unavailable"),
]
"""Most specific first: the first matching class wins."""


def problem(
    request: Request[Any, Any, Any],
    status: int,
    *,
    title: str,
    detail: str | None = None,
    type_: str = "about:blank",
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    """Build one problem-details response carrying the request id."""
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body["instance"] = request.url.path
    request_id = request.scope.get("state", {}).get("request_id")
    if request_id:
        body["request_id"] = request_id
    if extra:
        body.update(extra)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _domain_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    status, title = next((s, t) for cls, s, t in DOMAIN_STATUS if isinstance(exc, cls))
    if _is_page(request):
        return _page_error(request, exc, status, title)
    code = getattr(exc, "code", "error")
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    params = getattr(exc, "params", None)  # app and domain errors alike carry them
    if isinstance(params, dict):
        extra.update({k: _plain(v) for k, v in params.items() if k not in _RESERVED})
    if isinstance(exc, app_errors.AppError) and exc.fields:
        said = field_messages(exc, "en")
        extra["errors"] = [
            {"field": field, "message": said[field]}
            | ({"code": code} if has(f"error.{code}") else {})
            for field, code in exc.fields.items()
        ]
    elif isinstance(params, dict) and isinstance(rows := params.get("errors"), list):
        extra["errors"] = rows  # problems by row, not by field: an import's malformed lines
    if isinstance(exc, app_errors.RateLimited | app_errors.DatabaseUnavailable):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, app_errors.NotAuthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    return problem(
        request,
        status,
        title=title,
        detail=describe(exc, "en"),
        type_=PROBLEM_BASE + code,
        extra=extra,
        headers=headers,
    )


_RESERVED = frozenset({"type", "title", "status", "detail", "instance", "request_id", "errors"})


def _plain(value: object) -> object:
    """A parameter as JSON has it: numbers and words as they are, anything else as text."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _is_page(request: Request[Any, Any, Any]) -> bool:
    """Whether the request was for a page (its errors are pages too, not problem JSON)."""
    try:
        return bool(request.route_handler.opt.get("page"))
    except Exception:  # noqa: BLE001 - no route matched: not a page
        return False


def _page_error(
    request: Request[Any, Any, Any], exc: Exception, status: int, title: str
) -> Response[Any]:
    """A page's error: sign in first, or an error page saying what happened."""
    from app.pages.render import back_to, lang_of, page  # noqa: PLC0415 - pages import this module

    if isinstance(exc, app_errors.NotAuthenticated):
        # a controller names its sign-in page (consumers: ``/login/phone``); staff by default
        sign_in = str(request.route_handler.opt.get("sign_in", "/login"))
        return back_to(f"{sign_in}?next={quote(request.url.path)}")
    lang = lang_of(request)
    said = gettext(lang, f"status.{status}") if has(f"status.{status}") else title
    rendered = page(request, "error.html", title=said, detail=describe(exc, lang))
    rendered.status_code = status
    if isinstance(exc, app_errors.RateLimited | app_errors.DatabaseUnavailable):
        rendered.headers["Retry-After"] = str(exc.retry_after)
    return rendered


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if _is_page(request) and status < HTTP_500_INTERNAL_SERVER_ERROR:
        return _page_error(request, exc, status, HTTPStatus(status).phrase)
    if status == HTTP_404_NOT_FOUND and wants_html(request):  # a person, at no page's address
        missing = app_errors.NotFound("page-not-found")
        return _page_error(request, missing, status, HTTPStatus(status).phrase)
    title = HTTPStatus(status).phrase
    extra: dict[str, Any] | None = None
    detail = exc.detail if exc.detail != title else None
    if isinstance(exc, ValidationException):
        title = "The request is not valid"
        if isinstance(exc.extra, list):
            extra = {"errors": exc.extra}
    return problem(request, status, title=title, detail=detail, extra=extra, headers=exc.headers)


def _unstorable(request: Request[Any, Any, Any], exc: DataError) -> Response[dict[str, Any]]:
    log.info("value refused by the database", error=str(exc.orig).splitlines()[0])
    return problem(
        request,
        400,
        title="Invalid request",
        detail="the request holds a value that cannot be stored (a NUL character or a number"
        " out of range); nothing was changed",
        type_=PROBLEM_BASE + "unstorable-value",
    )


def _clash(request: Request[Any, Any, Any], exc: IntegrityError) -> Response[dict[str, Any]]:
    """Two requests wrote the same unique thing at once: the loser changed nothing."""
    log.info("concurrent write refused", error=str(exc.orig).splitlines()[0])
    return problem(
        request,
        409,
        title="Conflict",
        detail="another request changed the same record at the same moment; this one changed"
        " nothing. Try again: a repeated request is recognised",
        type_=PROBLEM_BASE + "concurrent-change",
    )


CONNECTION_STATES = frozenset({"57P01", "57P02", "57P03"})
"""Admin shutdown, crash shutdown, cannot connect now: the server is going away or not back yet."""


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is out of reach, rather than that a statement failed.

    Connection-level only: a serialization failure or a statement timeout is an
    ``OperationalError`` too, and stays what it is.
    """
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig if exc.orig is not None else exc
    if isinstance(exc, psycopg.InterfaceError):
        return True
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        return state is None or state.startswith("08") or state in CONNECTION_STATES
    return False


def _database_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The database out of reach is a 503 to retry; any other driver error is unexpected."""
    if not connection_lost(exc):
        return _unexpected(request, exc)
    log.warning("database unreachable", error=(str(exc).splitlines() or [""])[0])
    return _domain_error(request, app_errors.DatabaseUnavailable())


def _pool_exhausted(request: Request[Any, Any, Any], exc: PoolTimeout) -> Response[Any]:
    """Every pooled connection busy for the pool's whole timeout: a 503 to retry, not a bug."""
    log.warning("connection pool exhausted", error=(str(exc).splitlines() or [""])[0])
    return _domain_error(request, app_errors.DatabaseUnavailable("database-busy"))


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error("unhandled error", exc_info=exc)
    if _is_page(request):  # a person: a page in their language, with the id to quote
        request_id = str(request.scope.get("state", {}).get("request_id") or "-")
        failed = app_errors.AppError("internal-error", request_id=request_id)
        return _page_error(request, failed, HTTP_500_INTERNAL_SERVER_ERROR, "Internal error")
    return problem(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        title="Internal error",
        detail="Something went wrong on our side; nothing was changed. Quote the request id"
        " if you contact support.",
    )


def exception_handlers() -> ExceptionHandlersMap:
    """Handlers for the app: domain errors, HTTP errors, and everything else."""
    return {
        escrow.EscrowError: _domain_error,
        app_errors.AppError: _domain_error,
        qr.QrError: _domain_error,
        scoring.ScoringError: _domain_error,
        InvalidNotification: _domain_error,
        HTTPException: _http_error,
        DataError: _unstorable,
        IntegrityError: _clash,
        DBAPIError: _database_error,
        psycopg.Error: _database_error,
        PoolTimeout: _pool_exhausted,
        Exception: _unexpected,
    }


__all__ = ["PROBLEM_JSON", "exception_handlers", "problem"]
