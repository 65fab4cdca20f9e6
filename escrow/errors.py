"""The escrow package's errors: plain exceptions, no HTTP codes and no words (``app`` has both).

Each error carries a stable ``code`` and the ``params`` its words need (amounts as integer fen
in names ending ``_fen``, counts, dates, ids), so the app translates it by code without reading
its message. The message, the first argument, stays English for developers and logs; a class
raised for several distinct situations gets a more specific ``code=`` at the raise site.
"""

from __future__ import annotations


class EscrowError(Exception):
    """Base of every error the escrow package raises on purpose."""

    code = "escrow-error"
    """Stable machine-readable name: the problem type and the message id ``error.<code>``."""

    def __init__(self, message: str, /, *, code: str | None = None, **params: object) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.params: dict[str, object] = dict(params)
        """What a person needs to read: amounts in ``*_fen``, counts, dates, ids."""


class InvalidRequest(EscrowError):
    """The request itself is malformed; nothing was written."""

    code = "invalid-request"


class InvalidAmount(InvalidRequest):
    """An amount or unit count is zero, negative, fractional or absurdly large."""

    code = "invalid-amount"


class InvalidRatio(InvalidRequest):
    """A custody ratio outside 0..10000 basis points."""

    code = "invalid-ratio"


class NotFound(EscrowError):
    """The thing named does not exist (or is not the caller's to see)."""

    code = "not-found"
    """Shared with ``app.exceptions.NotFound``: the same situation, the same words."""


class UnknownBook(NotFound):
    """No escrow book is open for this merchant."""

    code = "unknown-merchant-book"


class UnknownCard(NotFound):
    """No such card at this merchant."""

    code = "unknown-card"


class Refused(EscrowError):
    """The request is well formed but the state of the books forbids it."""

    code = "refused"


class InsufficientBalance(Refused):
    """A redemption or settlement asks for more than is there."""

    code = "insufficient-balance"


class CardUsed(Refused):
    """A refund in full on request (cooling-off) of a card that has been used."""

    code = "card-used"


class CardNotOpen(Refused):
    """The card was refunded, used up by default payout, or otherwise closed."""

    code = "card-not-open"


class BookFrozen(Refused):
    """The merchant's book is frozen after a declared default."""

    code = "book-frozen"


class CompensationOverPrice(Refused):
    """Compensations decided on a card would add up to more than the price paid for it."""

    code = "compensation-over-price"


class IdempotencyConflict(EscrowError):
    """An idempotency key was reused for a different request."""

    code = "idempotency-conflict"


class NoClaimPending(Refused):
    """A claim payment for a book with nothing to claim: no default, or already paid."""

    code = "no-claim-pending"


class BadStatement(EscrowError):
    """The custody bank's statement file cannot be read; the message names the line."""

    code = "bad-statement"

    def __init__(
        self, line: int, problem: str, /, *, code: str | None = None, **params: object
    ) -> None:
        super().__init__(f"statement line {line}: {problem}", code=code, line=line, **params)
        self.line = line
        """1-based line of the file where the problem is."""
        self.problem = problem
