"""Opaque secrets handed to people (sign-in tokens, card links, one-time codes).

Only their SHA-256 is stored, so a database leak hands out no working secret; compare
digests with :func:`hmac.compare_digest` where a comparison happens outside an index.
"""

from __future__ import annotations

import hashlib
import secrets


def new_secret(nbytes: int = 32) -> str:
    """A URL-safe random secret."""
    return secrets.token_urlsafe(nbytes)


def digest(secret: str) -> bytes:
    """What the database keeps of a secret."""
    return hashlib.sha256(secret.encode()).digest()


def numeric_code(digits: int = 6) -> str:
    """A zero-padded random decimal code, e.g. for SMS sign-in."""
    return f"{secrets.randbelow(10**digits):0{digits}d}"
