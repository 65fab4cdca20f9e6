"""The per-merchant hash chain over journal entries.

Each entry's hash is ``sha256(prev_hash || canonical_content)``. One chain per merchant, so
writers for different merchants never wait for each other and the chain shards with the data.
The canonical form is fixed here and nowhere else: the writer and ``verify`` both call it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import uuid
    from collections.abc import Sequence

GENESIS_HASH = bytes(32)
"""``prev_hash`` of a merchant's first entry."""


@dataclass(frozen=True, slots=True)
class Leg:
    """One posting as the chain sees it."""

    line: int
    account: str
    ledger: str
    card_id: uuid.UUID | None
    amount: int
    payable_seq: int | None = None
    """The refund payable the leg is about; hashed only when set, so entries written before
    payables existed keep their hashes."""


def _encoded(leg: Leg) -> list[object]:
    cells: list[object] = [
        leg.line,
        leg.account,
        leg.ledger,
        None if leg.card_id is None else str(leg.card_id),
        leg.amount,
    ]
    if leg.payable_seq is not None:
        cells.append(leg.payable_seq)
    return cells


def canonical_time(moment: datetime) -> str:
    """UTC, microsecond ISO form: identical whether it came from Python or PostgreSQL."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(
    prev_hash: bytes,
    *,
    merchant_id: uuid.UUID,
    seq: int,
    kind: str,
    card_id: uuid.UUID | None,
    units: int | None,
    idempotency_key: str,
    created_at: datetime,
    legs: Sequence[Leg],
) -> bytes:
    """Hash of one entry chained to the previous one."""
    content = {
        "merchant": str(merchant_id),
        "seq": seq,
        "kind": kind,
        "card": None if card_id is None else str(card_id),
        "units": units,
        "key": idempotency_key,
        "at": canonical_time(created_at),
        "legs": [_encoded(leg) for leg in sorted(legs, key=lambda leg: leg.line)],
    }
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(prev_hash + encoded).digest()
