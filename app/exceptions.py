"""The application's own errors: what went wrong, in words a person understands.

Raised by use cases and guards; they carry no HTTP status. ``app.errors`` alone maps them
(and the domain packages' errors) to problem details.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

_CODE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class AppError(Exception):
    """Base of every error the application raises on purpose.

    Raised as ``Invalid("price-above-face", limit_fen=50_000)``: a stable ``code`` (the
    message id ``error.<code>`` in the catalogues) and the parameters its words need. People
    read it through :func:`app.i18n.describe`; the API's ``detail`` is its English words.
    """

    code = "error"
    """Stable machine-readable name: the problem type and the message id."""

    def __init__(
        self,
        code: str | None = None,
        /,
        *,
        fields: Mapping[str, str] | None = None,
        **params: object,
    ) -> None:
        if code is not None:
            if not _CODE.match(code):
                msg = f"{code!r} is not an error code (kebab-case; the words go in the catalogues)"
                raise ValueError(msg)
            self.code = code
        self.params: dict[str, object] = dict(params)
        """What the message says (amounts in ``*_fen``, dates, names); also sent to API clients."""
        self.fields: dict[str, str] = dict(fields or {})
        """Field -> code of the message shown beside it, for forms."""
        super().__init__(self.code)

    def __str__(self) -> str:
        from app.i18n import describe  # noqa: PLC0415 - words are read lazily, for logs

        return describe(self, "en")


class NotAuthenticated(AppError):
    """No valid sign-in where one is needed."""

    code = "not-authenticated"


class Forbidden(AppError):
    """Signed in, but this is not the caller's to do."""

    code = "forbidden"


class MerchantNotSelling(Forbidden):
    """The merchant behind a genuine code may not take prepaid money now."""

    code = "merchant-not-selling"


class NotFound(AppError):
    """No such thing, or not the caller's to see (the two are not told apart)."""

    code = "not-found"


class Malformed(AppError):
    """The request cannot be read at all (its JSON, its shape); nothing was written."""

    code = "malformed"


class UnsupportedMediaType(AppError):
    """The body is not of a type this endpoint reads (the API reads JSON only)."""

    code = "unsupported-media-type"


class Invalid(AppError):
    """The request breaks a rule; nothing was written."""

    code = "invalid"


class Conflict(AppError):
    """The request clashes with the current state (a duplicate, a wrong transition)."""

    code = "conflict"


class Unavailable(AppError):
    """A service this needs is not there (not configured, or down); nothing was changed."""

    code = "unavailable"


class RateLimited(AppError):
    """Too many attempts; try again later."""

    code = "rate-limited"

    def __init__(
        self,
        code: str | None = None,
        /,
        *,
        retry_after: int,
        fields: Mapping[str, str] | None = None,
        **params: object,
    ) -> None:
        super().__init__(code, fields=fields, retry_after=retry_after, **params)
        self.retry_after = retry_after


class DatabaseUnavailable(Unavailable):
    """PostgreSQL cannot be reached now: down, restarting, or failing over to its standby.

    Made by ``app.errors`` from the driver's connection-level errors, so that a client waits
    and retries (with the same idempotency key) instead of reading a bug into a 500.
    """

    code = "database-unavailable"
    retry_after = 5
    """Seconds a client is asked to wait (``Retry-After``): a restart or a failover's order."""
