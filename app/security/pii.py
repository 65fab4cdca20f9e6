"""Personal data at rest: AES-256-GCM ciphertext plus a keyed hash for exact look-up.

Phone and ID numbers are never stored in clear. The ciphertext (random nonce, so equal
values differ) is for showing a person their own data; the HMAC, with a key of its own,
lets the database find a row by an exact value without being able to reverse it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.security.keys import purpose_key

NONCE_BYTES = 12
MIN_MASKABLE = 7


class PiiDecryptionError(RuntimeError):
    """Stored personal data did not decrypt: wrong key or altered bytes."""


@dataclass(frozen=True)
class PiiCipher:
    """Encrypts, decrypts and look-up-hashes personal data under two purpose keys."""

    encryption_key: bytes
    lookup_key: bytes

    @classmethod
    def from_master_key(cls) -> PiiCipher:
        """The deployment's cipher."""
        return cls(purpose_key("pii-encryption"), purpose_key("pii-lookup"))

    def encrypt(self, value: str, *, field: str) -> bytes:
        """Ciphertext bound to ``field`` (a phone cannot be pasted in as an ID number)."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + AESGCM(self.encryption_key).encrypt(nonce, value.encode(), field.encode())

    def decrypt(self, blob: bytes, *, field: str) -> str:
        """The clear value of a blob made by :meth:`encrypt` for the same field."""
        try:
            clear = AESGCM(self.encryption_key).decrypt(
                blob[:NONCE_BYTES], blob[NONCE_BYTES:], field.encode()
            )
        except InvalidTag as exc:
            raise PiiDecryptionError(f"stored {field} does not decrypt") from exc
        return clear.decode()

    def lookup_hash(self, value: str, *, field: str) -> bytes:
        """Deterministic keyed hash of the value, for unique indexes and look-ups."""
        return hmac.new(self.lookup_key, f"{field}\0{value}".encode(), hashlib.sha256).digest()


def mask_phone(phone: str) -> str:
    """``138****5678``: enough for a person to recognise their own number."""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= MIN_MASKABLE else "****"
