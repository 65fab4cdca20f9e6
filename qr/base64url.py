"""Unpadded base64url (RFC 4648 section 5), decoded strictly.

Python's own decoder skips characters outside the alphabet and accepts non-zero padding bits,
so one signature could be spelt many ways. Codes are compared and stored as text, so each byte
string gets exactly one spelling here and any other spelling is refused.
"""

from __future__ import annotations

import base64
import binascii
import re

from qr.errors import MalformedCode

_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")


def encode(data: bytes) -> str:
    """The one spelling of ``data``: url-safe alphabet, no ``=`` padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode(text: str) -> bytes:
    """Bytes of ``text``, or ``MalformedCode`` for anything but the canonical spelling."""
    if not _ALPHABET.fullmatch(text) or len(text) % 4 == 1:
        raise MalformedCode(reason="not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - the checks above exclude it
        raise MalformedCode(reason="not unpadded base64url") from exc
    if encode(data) != text:
        raise MalformedCode(reason="non-canonical base64url (stray padding bits)")
    return data
