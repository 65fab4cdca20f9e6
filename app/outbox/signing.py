"""Standard Webhooks signatures, so insurers can check a webhook with any of the spec's tools.

https://www.standardwebhooks.com: a signature proves a webhook is ours, unaltered and recent.

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``; the key is the bytes
after ``whsec_``, base64-decoded. ``verify`` is for our own tests and sandbox: insurers
verify with their own implementation of the spec.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

from app.clock import utcnow
from app.exceptions import Invalid

if TYPE_CHECKING:
    from collections.abc import Mapping

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32
TOLERANCE_SECONDS = 5 * 60
"""A webhook older or newer than this is refused: it limits replays of a captured request."""


class BadSignature(Invalid):
    """A webhook whose headers or signature do not check out."""

    code = "bad-signature"


def new_secret() -> str:
    """A fresh signing secret, ``whsec_`` and base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key a ``whsec_…`` secret stands for."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    encoded += "=" * (-len(encoded) % 4)  # the spec's libraries accept unpadded secrets too
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Invalid("webhook-secret-malformed") from exc
    if not key:
        raise Invalid("webhook-secret-empty")
    return key


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,…`` signature of one message."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign(secret: str, msg_id: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for sending ``body`` now (or at ``timestamp``)."""
    at = int(utcnow().timestamp()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(at),
        "webhook-signature": signature(secret, msg_id, at, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> str:
    """Check a received webhook; return its ``webhook-id`` or raise :class:`BadSignature`.

    Any one of several space-separated signatures may match (the spec's key rotation);
    the comparison takes the same time whatever the bytes.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp")
    given = lowered.get("webhook-signature")
    if not (msg_id and stamp and given):
        raise BadSignature("webhook-headers-missing")
    try:
        at = int(stamp)
    except ValueError:
        raise BadSignature("webhook-timestamp-not-number") from None
    current = utcnow().timestamp() if now is None else now
    if abs(current - at) > tolerance:
        raise BadSignature("webhook-timestamp-stale")
    expected = signature(secret, msg_id, at, body).encode()
    for candidate in given.split(" "):
        if hmac.compare_digest(expected, candidate.encode()):
            return msg_id
    raise BadSignature("webhook-signature-mismatch")
