"""The application's own errors: what went wrong, in words a person understands.

Raised by use cases and guards; they carry no HTTP status. ``app.errors`` alone maps them
(and the domain packages' errors) to problem details.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """Base of every error the application raises on purpose."""

    code = "error"
    """Stable machine-readable name, used as the problem type."""

    def __init__(self, message: str, *, fields: dict[str, str] | None = None, **extra: Any) -> None:  # noqa: ANN401
        super().__init__(message)
        self.fields = fields or {}
        """Per-field messages, for forms that show errors next to the field."""
        self.extra = extra


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


class Invalid(AppError):
    """The request breaks a rule; nothing was written."""

    code = "invalid"


class Conflict(AppError):
    """The request clashes with the current state (a duplicate, a wrong transition)."""

    code = "conflict"


class RateLimited(AppError):
    """Too many attempts; try again later."""

    code = "rate-limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
