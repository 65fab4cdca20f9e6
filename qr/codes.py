"""What the QR codes say: the signed counter URL and the short-lived redemption token.

Each signed message starts with its own versioned label (``pguard/counter/v1``,
``pguard/redeem/v1``), so a signature made for one kind of code can never pass for another,
and a future format can live beside this one. Parsers refuse anything but the one canonical
spelling, with ``MalformedCode``; they never let another exception escape on bad input.
"""

from __future__ import annotations

import re
import secrets
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from qr import base64url
from qr.errors import ExpiredCode, MalformedCode
from qr.signing import SIGNATURE_BYTES, is_kid

if TYPE_CHECKING:
    from qr.signing import KeyRing

COUNTER_LABEL = b"pguard/counter/v1\n"
REDEMPTION_LABEL = b"pguard/redeem/v1\n"
REDEMPTION_PREFIX = "r1"
"""First dot-separated field of a redemption token: its format version."""

MAX_URL_LENGTH = 2048
MAX_TOKEN_LENGTH = 512
"""Longer input is refused before any parsing: no code of ours is anywhere near it."""

_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_NONCE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EXPIRY = struct.Struct(">q")
_LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
_LATEST_SECONDS = (_LATEST - _EPOCH) // timedelta(seconds=1)
_UUID_BYTES = 16
_FIXED_PAYLOAD_BYTES = 2 * _UUID_BYTES + _EXPIRY.size
"""card id, merchant id, expiry; the nonce fills the rest of the payload."""
_TOKEN_FIELDS = 4


def _merchant_uuid(text: str) -> uuid.UUID:
    """The merchant id of a URL: the canonical lower-case hyphenated UUID spelling only."""
    if not _CANONICAL_UUID.fullmatch(text):
        raise MalformedCode(reason="merchant id is not a canonical UUID")
    return uuid.UUID(text)


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        msg = f"{name} must be timezone-aware: a naive time makes expiry depend on the server"
        raise ValueError(msg)
    return moment


# Counter codes -------------------------------------------------------------------------------


def counter_message(merchant_id: uuid.UUID) -> bytes:
    """The bytes a counter code's signature covers: label and canonical merchant id."""
    return COUNTER_LABEL + str(merchant_id).encode("ascii")


def _split_base(base_url: str) -> tuple[str, str, str]:
    """``(scheme, host, path prefix)`` of a base URL, refused unless it is safe to print.

    HTTPS only, except plain HTTP on a loopback host for development; no user info (a
    classic phishing disguise), query or fragment.
    """
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if parts.scheme != "https" and not (parts.scheme == "http" and host in _LOOPBACK_HOSTS):
        msg = f"base URL {base_url!r} must be https:// (http:// only on a loopback host)"
        raise ValueError(msg)
    if not host or "@" in parts.netloc or parts.query or parts.fragment or "#" in base_url:
        msg = f"base URL {base_url!r} must be scheme://host[:port][/path] and nothing more"
        raise ValueError(msg)
    return parts.scheme, parts.netloc.lower(), parts.path.rstrip("/")


@dataclass(frozen=True, slots=True)
class CounterCode:
    """The content of a merchant's counter QR: who, and the platform's signature on it."""

    merchant_id: uuid.UUID
    kid: str
    signature: bytes

    @classmethod
    def from_parts(cls, merchant_id: str, kid: str, signature: str) -> CounterCode:
        """Build from the route's pieces (``GET /q/{merchant_id}?k={kid}&s={signature}``)."""
        if not all(isinstance(part, str) for part in (merchant_id, kid, signature)):
            raise MalformedCode(reason="parts must be text")
        merchant = _merchant_uuid(merchant_id)
        if not is_kid(kid):
            raise MalformedCode(reason="key id has the wrong form")
        raw = base64url.decode(signature)
        if len(raw) != SIGNATURE_BYTES:
            raise MalformedCode(reason=f"signature is {len(raw)} bytes")
        return cls(merchant, kid, raw)

    @property
    def message(self) -> bytes:
        """The signed bytes."""
        return counter_message(self.merchant_id)

    def url(self, base_url: str) -> str:
        """The URL printed in the QR: ``{base_url}/q/{merchant_id}?k={kid}&s={signature}``."""
        scheme, netloc, prefix = _split_base(base_url)
        return (
            f"{scheme}://{netloc}{prefix}/q/{self.merchant_id}"
            f"?k={self.kid}&s={base64url.encode(self.signature)}"
        )


def counter_url(base_url: str, merchant_id: uuid.UUID | str, keyring: KeyRing) -> str:
    """Sign ``merchant_id`` with the ring's signing key and return the counter QR's URL."""
    merchant = _as_uuid(merchant_id)
    kid, signature = keyring.sign(counter_message(merchant))
    return CounterCode(merchant, kid, signature).url(base_url)


def parse_counter_url(url: str, *, base_url: str | None = None) -> CounterCode:
    """Read a scanned counter URL; ``MalformedCode`` if anything in it is off.

    With ``base_url``, the URL must point at that exact site and prefix (an in-app scanner
    should pass it: the signature covers the merchant, not the host). Without it, any HTTPS
    host is read, so that a code can be checked offline against the published keys.
    """
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH:
        raise MalformedCode(reason="not text, or too long")
    if "#" in url or any(c.isspace() or not c.isprintable() for c in url):
        raise MalformedCode(reason="fragment, whitespace or control characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError as exc:
        raise MalformedCode(reason="not a URL") from exc
    if base_url is not None:
        scheme, netloc, prefix = _split_base(base_url)
        if parts.scheme != scheme or parts.netloc.lower() != netloc:
            raise MalformedCode(reason="URL points at another site")
    else:
        scheme_ok = parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK_HOSTS)
        if not scheme_ok or not host or "@" in parts.netloc:
            raise MalformedCode(reason="not an https URL on a plain host")
        prefix = parts.path.rpartition("/q/")[0]
    path_start = f"{prefix}/q/"
    if not parts.path.startswith(path_start):
        raise MalformedCode(reason="wrong path")
    merchant_text = parts.path.removeprefix(path_start)
    kid, signature = counter_query(parts.query)
    return CounterCode.from_parts(merchant_text, kid, signature)


def counter_query(query: str) -> tuple[str, str]:
    """The key id and signature of a counter URL's query: exactly ``k`` and ``s``, once each.

    A repeated parameter is refused, not resolved: ``k=bad&k=good`` could be read one way by
    the verifier and another by whatever shows the result.
    """
    try:
        fields = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise MalformedCode(reason="unreadable query") from exc
    params = dict(fields)
    if len(fields) != len(params) or set(params) != {"k", "s"}:
        raise MalformedCode(reason="query must be exactly k and s, once each")
    return params["k"], params["s"]


def verify_counter(code: CounterCode, keyring: KeyRing) -> None:
    """Return if the code is genuine and its key active, else raise why not.

    Raises ``UnknownKey``, ``RevokedKey`` or ``BadSignature``. The app must still refuse a
    suspended merchant: that is state, not signature.
    """
    keyring.verify(code.kid, code.message, code.signature)


# Redemption codes ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RedemptionClaim:
    """What a verified redemption token asserts. Single use is the app's job (its database)."""

    card_id: uuid.UUID
    merchant_id: uuid.UUID
    nonce: str
    expires_at: datetime


def redemption_nonce() -> str:
    """A fresh random nonce for one redemption token (the app stores it to enforce one use)."""
    return secrets.token_urlsafe(16)


def six_digit_code() -> str:
    """A uniformly random ``000000``-``999999`` code for typing instead of scanning."""
    return f"{secrets.randbelow(1_000_000):06d}"


def _redemption_payload(claim: RedemptionClaim) -> bytes:
    seconds = (claim.expires_at - _EPOCH) // timedelta(seconds=1)
    return (
        claim.card_id.bytes
        + claim.merchant_id.bytes
        + _EXPIRY.pack(seconds)
        + claim.nonce.encode("ascii")
    )


def issue_redemption_token(
    card_id: uuid.UUID | str,
    merchant_id: uuid.UUID | str,
    nonce: str,
    expires_at: datetime,
    keyring: KeyRing,
) -> str:
    """Sign a redemption claim into ``r1.<payload>.<kid>.<signature>`` (url-safe, ~190 chars).

    ``expires_at`` is kept to the whole second, rounded down, so a code never outlives the
    moment it was given.
    """
    if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
        msg = "nonce must be 1-64 characters of A-Z a-z 0-9 _ - (see redemption_nonce)"
        raise ValueError(msg)
    expires = _aware(expires_at, "expires_at")
    if not _EPOCH <= expires <= _LATEST:
        msg = "expires_at is out of range"
        raise ValueError(msg)
    claim = RedemptionClaim(_as_uuid(card_id), _as_uuid(merchant_id), nonce, expires)
    payload = _redemption_payload(claim)
    kid, signature = keyring.sign(REDEMPTION_LABEL + payload)
    return ".".join(
        (REDEMPTION_PREFIX, base64url.encode(payload), kid, base64url.encode(signature))
    )


def _parse_redemption(token: str) -> tuple[bytes, str, bytes, RedemptionClaim]:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise MalformedCode(reason="not text, or too long")
    fields = token.split(".")
    if len(fields) != _TOKEN_FIELDS or fields[0] != REDEMPTION_PREFIX:
        raise MalformedCode(reason="not an r1 token")
    _, payload_text, kid, signature_text = fields
    payload = base64url.decode(payload_text)
    if not is_kid(kid):
        raise MalformedCode(reason="key id has the wrong form")
    signature = base64url.decode(signature_text)
    if len(signature) != SIGNATURE_BYTES:
        raise MalformedCode(reason=f"signature is {len(signature)} bytes")
    if len(payload) <= _FIXED_PAYLOAD_BYTES:
        raise MalformedCode(reason="payload too short")
    nonce = payload[_FIXED_PAYLOAD_BYTES:].decode("ascii", errors="replace")
    if not _NONCE.fullmatch(nonce):
        raise MalformedCode(reason="nonce has the wrong form")
    (seconds,) = _EXPIRY.unpack_from(payload, 2 * _UUID_BYTES)
    if not 0 <= seconds <= _LATEST_SECONDS:
        raise MalformedCode(reason="expiry out of range")
    claim = RedemptionClaim(
        card_id=uuid.UUID(bytes=payload[:_UUID_BYTES]),
        merchant_id=uuid.UUID(bytes=payload[_UUID_BYTES : 2 * _UUID_BYTES]),
        nonce=nonce,
        expires_at=_EPOCH + timedelta(seconds=seconds),
    )
    return payload, kid, signature, claim


def read_redemption_token(token: str, keyring: KeyRing, now: datetime) -> RedemptionClaim:
    """Verify a scanned or pasted redemption token and return its claim.

    Checked in this order, so the answer names the most serious fault: form
    (``MalformedCode``), key and signature (``UnknownKey``, ``RevokedKey``, ``BadSignature``),
    then expiry at ``now`` (``ExpiredCode``). Single use is left to the app.
    """
    current = _aware(now, "now")
    payload, kid, signature, claim = _parse_redemption(token)
    keyring.verify(kid, REDEMPTION_LABEL + payload, signature)
    if current >= claim.expires_at:
        raise ExpiredCode(
            reason=f"expired at {claim.expires_at.isoformat()}", expired_at=claim.expires_at
        )
    return claim
