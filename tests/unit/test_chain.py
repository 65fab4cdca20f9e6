"""The hash chain's canonical form: deterministic, and sensitive to every field."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta, timezone

from escrow.chain import GENESIS_HASH, Leg, entry_hash

MERCHANT = uuid.UUID("00000000-0000-0000-0000-000000000001")
CARD = uuid.UUID("00000000-0000-0000-0000-0000000000c1")
AT = datetime(2026, 11, 28, 7, 30, 0, 123456, tzinfo=UTC)
LEGS = [Leg(1, "consumers", "money", CARD, -100), Leg(2, "custody", "money", CARD, 100)]


def _hash(**changes: object) -> bytes:
    fields: dict[str, object] = {
        "merchant_id": MERCHANT,
        "seq": 1,
        "kind": "purchase",
        "card_id": CARD,
        "units": None,
        "idempotency_key": "k",
        "created_at": AT,
        "legs": LEGS,
    }
    fields.update(changes)
    prev = fields.pop("prev", GENESIS_HASH)
    return entry_hash(prev, **fields)  # type: ignore[arg-type]


def test_same_content_same_hash_whatever_the_time_zone() -> None:
    shanghai = AT.astimezone(timezone(timedelta(hours=8)))
    assert _hash() == _hash(created_at=shanghai)
    assert len(_hash()) == 32


def test_leg_order_does_not_matter_but_content_does() -> None:
    assert _hash() == _hash(legs=list(reversed(LEGS)))
    base = _hash()
    altered_leg = [LEGS[0], dataclasses.replace(LEGS[1], amount=101)]
    for changed in (
        _hash(seq=2),
        _hash(kind="refund"),
        _hash(card_id=None),
        _hash(units=1),
        _hash(idempotency_key="k2"),
        _hash(created_at=AT + timedelta(microseconds=1)),
        _hash(legs=altered_leg),
        _hash(prev=bytes(31) + b"\x01"),
    ):
        assert changed != base
