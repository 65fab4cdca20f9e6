"""Refund payables over the API.

A merchant's debts to consumers and paying them; the regulator's view by age.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from litestar import Controller, get, post
from litestar.status_codes import HTTP_201_CREATED

from app.auth.models import Role
from app.auth.principal import requires
from app.deps import Db, Me, Provider
from app.idempotency import IdempotencyKey
from app.payables import service


class PayableOut(msgspec.Struct):
    """One payable and who has paid what of it; ``pending`` has not reached the consumer."""

    merchant_id: uuid.UUID
    seq: int
    card_id: uuid.UUID
    kind: str
    status: str
    """``owed`` (the merchant's to pay), ``claimed`` (the insurer's) or ``paid``."""
    refunded: int
    """What the consumer gets in all (custody's share at once, plus this payable)."""
    custody_paid: int
    amount: int
    created_at: datetime
    due_at: datetime
    by_merchant: int
    netted: int
    """Withheld from the merchant's sales proceeds."""
    by_insurer: int
    owed: int
    claimed: int
    pending: int


def payable_out(p: service.PayableView) -> PayableOut:
    """The API view of a payable."""
    return PayableOut(
        merchant_id=p.merchant_id,
        seq=p.seq,
        card_id=p.card_id,
        kind=p.kind,
        status=p.status,
        refunded=p.refunded,
        custody_paid=p.custody_paid,
        amount=p.amount,
        created_at=p.created_at,
        due_at=p.due_at,
        by_merchant=p.by_merchant,
        netted=p.netted,
        by_insurer=p.by_insurer,
        owed=p.owed,
        claimed=p.claimed,
        pending=p.pending,
    )


class OwnPayablesOut(msgspec.Struct):
    """What the merchant owes consumers now, and every payable it has had."""

    owed: int
    """Owed now and payable by the merchant (before the deadline)."""
    claimed: int
    """Past the deadline: claimed from its insurer, which it owes instead."""
    payables: list[PayableOut]


class PaymentOut(msgspec.Struct):
    """A merchant's payment of what it owes, and where to pay it."""

    payment_id: uuid.UUID
    amount: int
    status: str
    provider_order_id: str
    pay_url: str
    replayed: bool


class AgeOut(msgspec.Struct):
    """Pending payables of one age (days since the refund)."""

    days: str
    count: int
    owed: int
    claimed: int


class SupervisedPayablesOut(msgspec.Struct):
    """The regulator's view: pending payables by age, and each of them."""

    by_age: list[AgeOut]
    pending: list[PayableOut]


class OwnPayablesController(Controller):
    """What the merchant owes consumers after refunds, and paying it."""

    path = "/merchants/me/payables"
    tags = ["merchants"]  # noqa: RUF012
    guards = [requires(Role.MERCHANT)]  # noqa: RUF012

    @get("/")
    async def mine(self, db: Db, me: Me) -> OwnPayablesOut:
        """Every payable, earliest deadline first, with what is owed and claimed now."""
        own = await service.own_payables(db, me)
        return OwnPayablesOut(
            owed=own.owed, claimed=own.claimed, payables=[payable_out(p) for p in own.payables]
        )

    @post("/payments", status_code=HTTP_201_CREATED)
    async def pay(self, db: Db, me: Me, provider: Provider, key: IdempotencyKey) -> PaymentOut:
        """Pay everything owed now at the payment provider; its notification settles it."""
        async with db.begin():
            started = await service.start_payment(db, me, provider, key)
        return PaymentOut(
            payment_id=started.payment.id,
            amount=started.payment.amount,
            status=started.payment.status,
            provider_order_id=started.payment.provider_order_id,
            pay_url=started.pay_url,
            replayed=started.replayed,
        )


class SupervisedPayablesController(Controller):
    """Payables of the merchants in the regulator's reach, by age."""

    path = "/payables"
    tags = ["supervision"]  # noqa: RUF012
    guards = [requires(Role.REGULATOR, Role.OPERATOR)]  # noqa: RUF012

    @get("/")
    async def supervised(self, db: Db, me: Me) -> SupervisedPayablesOut:
        """Pending payables by days since the refund, then each one (earliest deadline first)."""
        seen = await service.supervised_payables(db, me)
        return SupervisedPayablesOut(
            by_age=[
                AgeOut(days=row.bucket, count=row.count, owed=row.owed, claimed=row.claimed)
                for row in seen.by_age
            ],
            pending=[payable_out(p) for p in seen.pending],
        )
