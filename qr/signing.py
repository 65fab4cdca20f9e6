"""Ed25519 keys: generation, sealing under the master key, the key ring, the public document.

Nothing here touches a database: the app stores each key's public half, status and sealed
private half, and hands them back as plain records. Keys rotate by adding a new active key;
codes signed by an older key keep verifying until that key is revoked, which kills them all.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from qr import base64url
from qr.errors import (
    BadSignature,
    InvalidKeyMaterial,
    MalformedCode,
    NoSigningKey,
    RevokedKey,
    UnknownKey,
    UnreadableKey,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

ALGORITHM = "Ed25519"
KEY_BYTES = 32
"""Length of a raw Ed25519 public or private key."""
SIGNATURE_BYTES = 64
MASTER_KEY_BYTES = 32
"""AES-256-GCM."""

KeyStatus = Literal["active", "revoked"]
KEY_STATUSES: tuple[KeyStatus, ...] = ("active", "revoked")

_KID = re.compile(r"[A-Za-z0-9_-]{1,32}")
"""Key ids travel in URL queries and between the dots of a redemption token."""

_SEAL_VERSION = b"\x01"
_SEAL_NONCE_BYTES = 12
_SEAL_AAD = b"pguard/sealed-key/v1\n"
"""Prefix of the associated data; the kid follows, so a blob only opens under its own kid."""


def check_kid(kid: str) -> str:
    """``kid`` if it is a short url-safe id, else ``InvalidKeyMaterial``."""
    if not isinstance(kid, str) or not _KID.fullmatch(kid):
        raise InvalidKeyMaterial(
            f"Key id {kid!r} is not 1-32 characters of A-Z a-z 0-9 _ -.",
            code="qr-key-id-invalid",
            kid=repr(kid),
        )
    return kid


def is_kid(text: str) -> bool:
    """Whether ``text`` has the form of a key id (for parsers, which refuse rather than fail)."""
    return bool(_KID.fullmatch(text))


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A freshly generated key: seal ``private_key_raw`` and store ``record()``."""

    kid: str
    private_key: Ed25519PrivateKey = field(repr=False)

    @property
    def public_key_raw(self) -> bytes:
        """The 32 bytes published for verifiers."""
        return _raw_public(self.private_key.public_key())

    @property
    def private_key_raw(self) -> bytes:
        """The 32 secret bytes; only ever stored sealed (``seal_private_key``)."""
        return self.private_key.private_bytes_raw()

    def record(self, status: KeyStatus = "active") -> PublicKeyRecord:
        """The public record the app stores and feeds back into a ``KeyRing``."""
        return PublicKeyRecord(self.kid, self.public_key_raw, status)


@dataclass(frozen=True, slots=True)
class PublicKeyRecord:
    """One published key as the app stores it: id, raw public key, status."""

    kid: str
    public_key_raw: bytes
    status: KeyStatus = "active"

    def __post_init__(self) -> None:
        """Refuse a damaged record at load time rather than at the first scan."""
        check_kid(self.kid)
        if not isinstance(self.public_key_raw, bytes) or len(self.public_key_raw) != KEY_BYTES:
            raise InvalidKeyMaterial(
                f"Public key {self.kid} is not {KEY_BYTES} raw bytes.",
                code="qr-public-key-invalid",
                kid=self.kid,
                size=KEY_BYTES,
            )
        if self.status not in KEY_STATUSES:
            raise InvalidKeyMaterial(
                f"Key {self.kid} has unknown status {self.status!r}.",
                code="qr-key-status-unknown",
                kid=self.kid,
                key_status=str(self.status),
            )


def generate_key(kid: str | None = None) -> KeyPair:
    """A new Ed25519 key; without ``kid``, 8 random base32 characters, lower case."""
    if kid is None:
        kid = base64.b32encode(secrets.token_bytes(5)).decode("ascii").lower()
    return KeyPair(check_kid(kid), Ed25519PrivateKey.generate())


def _check_master_key(master_key: bytes) -> AESGCM:
    if not isinstance(master_key, bytes) or len(master_key) != MASTER_KEY_BYTES:
        raise InvalidKeyMaterial(
            f"The master key must be {MASTER_KEY_BYTES} bytes.",
            code="qr-master-key-invalid",
            size=MASTER_KEY_BYTES,
        )
    return AESGCM(master_key)


def seal_private_key(private_key_raw: bytes, master_key: bytes, kid: str) -> bytes:
    """Encrypt a raw private key for storage: version, random nonce, AES-256-GCM ciphertext.

    The kid is authenticated as associated data, so a sealed key copied onto another key's row
    does not open.
    """
    aead = _check_master_key(master_key)
    if not isinstance(private_key_raw, bytes) or len(private_key_raw) != KEY_BYTES:
        raise InvalidKeyMaterial(
            f"A raw Ed25519 private key is {KEY_BYTES} bytes.",
            code="qr-private-key-invalid",
            size=KEY_BYTES,
        )
    nonce = secrets.token_bytes(_SEAL_NONCE_BYTES)
    aad = _SEAL_AAD + check_kid(kid).encode("ascii")
    return _SEAL_VERSION + nonce + aead.encrypt(nonce, private_key_raw, aad)


def open_private_key(sealed: bytes, master_key: bytes, kid: str) -> Ed25519PrivateKey:
    """Decrypt a sealed private key; ``UnreadableKey`` if the master key, kid or blob is wrong."""
    aead = _check_master_key(master_key)
    aad = _SEAL_AAD + check_kid(kid).encode("ascii")
    header = len(_SEAL_VERSION) + _SEAL_NONCE_BYTES
    if not sealed.startswith(_SEAL_VERSION) or len(sealed) <= header:
        raise UnreadableKey(reason=f"sealed key {kid}: unknown format or truncated")
    nonce = sealed[len(_SEAL_VERSION) : header]
    try:
        raw = aead.decrypt(nonce, sealed[header:], aad)
    except InvalidTag as exc:
        raise UnreadableKey(reason=f"sealed key {kid}: authentication failed") from exc
    if len(raw) != KEY_BYTES:  # sealed by something else than seal_private_key
        raise UnreadableKey(reason=f"sealed key {kid}: wrong plaintext length")
    return Ed25519PrivateKey.from_private_bytes(raw)


class KeyRing:
    """The published keys, and optionally the one private key this process signs with.

    Immutable: build it from the records the app loaded (``KeyRing(records)`` only verifies),
    with ``signer=(kid, private_key)`` or ``ring.with_signer(kid, private_key)`` to also sign.
    Several keys may be active at once: that is what rotation looks like.
    """

    __slots__ = ("_records", "_signer", "_verifiers")

    def __init__(
        self,
        records: Iterable[PublicKeyRecord],
        *,
        signer: tuple[str, Ed25519PrivateKey] | None = None,
    ) -> None:
        """Index ``records`` by kid; a kid appearing twice is a storage bug, so refuse it.

        The signer is refused unless its kid is published, active, and its public key is the
        private key's own: a mismatch would issue codes that nobody can verify.
        """
        self._records: dict[str, PublicKeyRecord] = {}
        self._verifiers: dict[str, Ed25519PublicKey] = {}
        for record in records:
            if record.kid in self._records:
                raise InvalidKeyMaterial(
                    f"Key id {record.kid} appears twice.", code="qr-key-id-repeated", kid=record.kid
                )
            self._records[record.kid] = record
            self._verifiers[record.kid] = Ed25519PublicKey.from_public_bytes(record.public_key_raw)
        if signer is not None:
            self._check_signer(*signer)
        self._signer = signer

    def _check_signer(self, kid: str, private_key: Ed25519PrivateKey) -> None:
        record = self._records.get(kid)
        if record is None:
            raise NoSigningKey(
                f"Signing key {kid} is not among the published keys.",
                code="qr-signing-key-unpublished",
                kid=kid,
            )
        if record.status != "active":
            raise NoSigningKey(
                f"Signing key {kid} is revoked; generate and publish a new key.",
                code="qr-signing-key-revoked",
                kid=kid,
            )
        if not hmac.compare_digest(_raw_public(private_key.public_key()), record.public_key_raw):
            raise InvalidKeyMaterial(
                f"The private key given for {kid} is not its published key.",
                code="qr-private-key-mismatch",
                kid=kid,
            )

    @property
    def records(self) -> tuple[PublicKeyRecord, ...]:
        """The records, in the order given (for ``public_keys_document``)."""
        return tuple(self._records.values())

    @property
    def signing_kid(self) -> str | None:
        """Which key ``sign`` uses, if any."""
        return None if self._signer is None else self._signer[0]

    def with_signer(self, kid: str, private_key: Ed25519PrivateKey) -> KeyRing:
        """A copy of this ring that also signs, with ``private_key`` published as ``kid``."""
        return KeyRing(self._records.values(), signer=(kid, private_key))

    def sign(self, message: bytes) -> tuple[str, bytes]:
        """``(kid, signature)`` of ``message`` under the signing key."""
        if self._signer is None:
            raise NoSigningKey
        kid, private_key = self._signer
        return kid, private_key.sign(message)

    def verify(self, kid: str, message: bytes, signature: bytes) -> None:
        """Return if ``signature`` is ``kid``'s on ``message``; else raise why not.

        ``UnknownKey`` for a kid never published, ``RevokedKey`` once it is revoked (checked
        before the signature: a revoked key's codes are void whether or not they are genuine),
        ``BadSignature`` otherwise. Ed25519 verification is itself constant-time.
        """
        record = self._records.get(kid)
        if record is None:
            raise UnknownKey(reason=f"unknown kid {kid!r}")
        if record.status != "active":
            raise RevokedKey(reason=f"kid {kid} is {record.status}")
        if len(signature) != SIGNATURE_BYTES:
            raise BadSignature(reason=f"signature is {len(signature)} bytes")
        try:
            self._verifiers[kid].verify(signature, message)
        except InvalidSignature as exc:
            raise BadSignature(reason=f"signature does not verify under {kid}") from exc


def public_keys_document(records: Iterable[PublicKeyRecord]) -> dict[str, Any]:
    """The JSON-able document that publishes the keys, so anyone can verify a code offline.

    Revoked keys stay listed with their status: a verifier must learn that a key is dead, not
    merely stop hearing about it.
    """
    return {
        "issuer": "Prepaid Guard",
        "algorithm": ALGORITHM,
        "keys": [
            {
                "kid": record.kid,
                "algorithm": ALGORITHM,
                "public_key": base64url.encode(record.public_key_raw),
                "status": record.status,
            }
            for record in records
        ],
    }


def keyring_from_document(document: Any) -> KeyRing:  # noqa: ANN401 - parsed JSON, checked here
    """The verifying ring a ``public_keys_document`` describes, for checking offline.

    ``InvalidKeyMaterial`` when the document is not one: a verifier must not fall back to
    trusting what it cannot read.
    """
    try:
        keys = document["keys"]
        records = [
            PublicKeyRecord(
                kid=key["kid"],
                public_key_raw=base64url.decode(key["public_key"]),
                status=key["status"],
            )
            for key in keys
        ]
    except (KeyError, TypeError, MalformedCode) as exc:
        raise InvalidKeyMaterial(
            "The published keys document is not one this service writes.",
            code="qr-keys-document-invalid",
        ) from exc
    return KeyRing(records)
