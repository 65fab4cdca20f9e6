"""The qr package's errors: plain exceptions, no HTTP codes (``app`` maps them).

Two families. ``RefusedCode`` means "do not trust this code": its words are for the consumer
or merchant holding the phone, because a refused code must stop a payment, not puzzle its
reader; the technical cause goes in ``reason``, for the log only. ``KeyStoreError`` means the
platform's own keys are unusable: the operator must act, nobody else can.

Each error carries a stable ``code`` and the ``params`` its words need, so the app translates
it by code (``error.<code>``); the English message stays for developers and logs.
"""

from __future__ import annotations


class QrError(Exception):
    """Base of every error the qr package raises on purpose."""

    code = "qr-error"
    """Stable machine-readable name: the problem type and the message id ``error.<code>``."""

    default_message = "This QR code cannot be used."
    """What ``str(error)`` says when no message is given."""

    def __init__(
        self,
        message: str | None = None,
        /,
        *,
        reason: str | None = None,
        code: str | None = None,
        **params: object,
    ) -> None:
        super().__init__(message or self.default_message)
        if code is not None:
            self.code = code
        self.reason = reason
        """Technical cause for the log; never shown to the person holding the code."""
        self.params: dict[str, object] = dict(params)
        """What the words need (never the ``reason``)."""


class RefusedCode(QrError):
    """A scanned or typed code must not be acted on."""

    code = "qr-code-refused"
    default_message = "This QR code cannot be trusted; do not pay through it."


class MalformedCode(RefusedCode):
    """Not a Prepaid Guard code at all, or a damaged one."""

    code = "qr-code-malformed"
    default_message = (
        "This is not a valid Prepaid Guard QR code (it may be damaged or fake);"
        " do not pay through it."
    )


class BadSignature(RefusedCode):
    """Well formed, but its signature does not match: forged, altered or swapped."""

    code = "qr-code-bad-signature"
    default_message = "This QR code was not issued by Prepaid Guard; do not pay through it."


class UnknownKey(RefusedCode):
    """Signed with a key id Prepaid Guard never published."""

    code = "qr-code-unknown-key"
    default_message = "This QR code was not issued by Prepaid Guard; do not pay through it."


class RevokedKey(RefusedCode):
    """Signed with a key that has been revoked, so every code it signed is void."""

    code = "qr-code-revoked-key"
    default_message = (
        "This QR code has been withdrawn by Prepaid Guard; do not pay through it."
        " Ask the merchant for its current code."
    )


class ExpiredCode(RefusedCode):
    """A redemption code past its short lifetime."""

    code = "qr-code-expired"
    default_message = (
        "This redemption code has expired; open the card page for a fresh one and try again."
    )


class KeyStoreError(QrError):
    """The platform's keys are missing, damaged or misconfigured (for the operator)."""

    code = "qr-key-store"
    default_message = "Prepaid Guard's signing keys are not usable; codes cannot be issued."


class InvalidKeyMaterial(KeyStoreError):
    """A key, key id or master key has the wrong form (length, characters, pairing)."""

    code = "qr-invalid-key-material"
    default_message = "A signing key, key id or master key has the wrong form."


class UnreadableKey(KeyStoreError):
    """A sealed private key does not open: wrong master key, wrong key id, or altered blob."""

    code = "qr-unreadable-key"
    default_message = (
        "A stored signing key could not be opened: the master key is wrong or the stored key"
        " was altered."
    )


class NoSigningKey(KeyStoreError):
    """Asked to sign, but no active signing key is configured."""

    code = "qr-no-signing-key"
    default_message = "No active signing key is configured; codes cannot be issued."
