"""The platform's QR key ring, kept in PostgreSQL with private keys sealed under the master key.

The ring is read from the database for every verification, so a revocation takes effect on
the next scan in every app process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

import qr
from app.clock import utcnow
from app.exceptions import Conflict, NotFound
from app.qrcodes.models import QrKey
from app.security.keys import purpose_key

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

SEALING_PURPOSE = "qr-keys"


def _records(keys: list[QrKey]) -> list[qr.PublicKeyRecord]:
    return [
        qr.PublicKeyRecord(
            kid=k.kid,
            public_key_raw=k.public_key,
            status="active" if k.status == "active" else "revoked",
        )
        for k in keys
    ]


async def _all_keys(session: AsyncSession) -> list[QrKey]:
    return list((await session.scalars(select(QrKey).order_by(QrKey.created_at))).all())


async def rotate(session: AsyncSession) -> QrKey:
    """Add a new signing key; older active keys keep verifying the codes they signed."""
    pair = qr.generate_key()
    key = QrKey(
        kid=pair.kid,
        public_key=pair.public_key_raw,
        private_key_sealed=qr.seal_private_key(
            pair.private_key_raw, purpose_key(SEALING_PURPOSE), pair.kid
        ),
        status="active",
    )
    session.add(key)
    await session.flush()
    return key


async def revoke(session: AsyncSession, kid: str) -> QrKey:
    """Revoke a key: every code it signed stops working at once."""
    key = await session.get(QrKey, kid, with_for_update=True)
    if key is None:
        raise NotFound("qr-key-not-found", kid=kid)
    if key.status == "revoked":
        raise Conflict("qr-key-already-revoked", kid=kid)
    key.status = "revoked"
    key.revoked_at = utcnow()
    await session.flush()
    return key


async def keyring(session: AsyncSession, *, signing: bool = False) -> qr.KeyRing:
    """The published keys; with ``signing``, the newest active key can sign (made if none)."""
    keys = await _all_keys(session)
    active = [k for k in keys if k.status == "active"]
    if signing and not active:
        active = [await rotate(session)]
        keys.append(active[0])
    ring = qr.KeyRing(_records(keys))
    if not signing:
        return ring
    newest = active[-1]
    private = qr.open_private_key(
        newest.private_key_sealed, purpose_key(SEALING_PURPOSE), newest.kid
    )
    return ring.with_signer(newest.kid, private)


async def public_document(session: AsyncSession) -> dict[str, object]:
    """Every key, active and revoked, for anyone to verify codes offline."""
    return qr.public_keys_document(_records(await _all_keys(session)))
