"""The master key and the purpose keys derived from it.

The master key comes from ``PGUARD_MASTER_KEY`` (base64 of 32 bytes). Without it, a key is
generated under ``var/`` on first start (mode 0600) and reused: fine for a laptop or the
demo, while a deployment sets the variable from its secret store. Each use gets its own key
by HKDF, so that one leaked purpose key exposes nothing else.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from functools import lru_cache
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.settings import get_settings

if TYPE_CHECKING:
    from pathlib import Path

KEY_BYTES = 32


class MasterKeyError(RuntimeError):
    """The configured master key is unusable; the service must not start with it."""


def _decode(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MasterKeyError(f"{where} is not valid base64") from exc
    if len(key) != KEY_BYTES:
        raise MasterKeyError(f"{where} must hold {KEY_BYTES} bytes, it holds {len(key)}")
    return key


def _from_file(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode() + "\n")
    return _decode(path.read_text(), str(path))


@lru_cache(maxsize=1)
def master_key() -> bytes:
    """The 32-byte master key of this deployment."""
    settings = get_settings().security
    if settings.master_key:
        return _decode(settings.master_key, "PGUARD_MASTER_KEY")
    return _from_file(settings.master_key_file)


def purpose_key(purpose: str) -> bytes:
    """A 32-byte key for one purpose (``"pii-encryption"``, ``"qr-keys"``, …)."""
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose.encode()
    ).derive(master_key())
