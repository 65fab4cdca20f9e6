"""Insurers: policies with exposure and premium, claims with their per-card breakdown."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from app.auth.models import Role
from app.auth.principal import requires
from app.deps import Db, Me
from app.insurance import service

if TYPE_CHECKING:
    from app.insurance.models import Claim

INSURER = requires(Role.INSURER)


class PolicyIn(msgspec.Struct, forbid_unknown_fields=True):
    """A policy the insurer writes for a merchant (found by its credit code)."""

    uscc: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    number: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    coverage_fen: Annotated[int, msgspec.Meta(gt=0, le=10**13)]
    starts_on: date


class PolicyOut(msgspec.Struct):
    """A policy with the merchant's grade, current exposure and annual premium."""

    id: uuid.UUID
    number: str
    merchant_id: uuid.UUID
    legal_name: str
    status: str
    coverage_fen: int
    starts_on: date
    ends_on: date | None
    grade: str
    exposure_fen: int
    """Insured shares of the merchant's open cards: what the insurer would pay today."""
    annual_premium_fen: int
    premium_schedule_version: str


class ExposureOut(msgspec.Struct):
    """The insurer's book: per policy and in total."""

    total_exposure_fen: int
    total_annual_premium_fen: int
    policies: list[PolicyOut]


class ClaimLineOut(msgspec.Struct):
    """One line of a claim: a card's insured share, or a refund payable of the card."""

    card_id: uuid.UUID
    refund_payable: int | None
    """The payable this line pays (a refund the merchant did not pay in time); None for a
    defaulted card's insured share."""
    outstanding_fen: int
    custody_paid_fen: int
    claim_fen: int
    paid_at: datetime | None


class ClaimOut(msgspec.Struct):
    """A claim and its lifecycle."""

    id: uuid.UUID
    merchant_id: uuid.UUID
    policy_id: uuid.UUID
    kind: str
    """``default`` or ``refund-payable``."""
    status: str
    total_fen: int
    cards: int
    triggered_at: datetime
    acknowledged_at: datetime | None
    paid_at: datetime | None
    payment_ref: str | None
    closed_at: datetime | None
    lines: list[ClaimLineOut] | None = None


class PaymentIn(msgspec.Struct, forbid_unknown_fields=True):
    """The insurer's reference for the money it sent."""

    payment_ref: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]


def policy_out(view: service.PolicyView) -> PolicyOut:
    """The API view of a policy."""
    p = view.policy
    return PolicyOut(
        id=p.id,
        number=p.number,
        merchant_id=p.merchant_id,
        legal_name=view.merchant.legal_name,
        status=p.status,
        coverage_fen=p.coverage_fen,
        starts_on=p.starts_on,
        ends_on=p.ends_on,
        grade=view.grade,
        exposure_fen=view.exposure,
        annual_premium_fen=view.annual_premium,
        premium_schedule_version=str(p.premium_schedule.get("version", "")),
    )


def claim_out(c: Claim, lines: list[ClaimLineOut] | None = None) -> ClaimOut:
    """The API view of a claim."""
    return ClaimOut(
        id=c.id,
        merchant_id=c.merchant_id,
        policy_id=c.policy_id,
        kind=c.kind,
        status=c.status,
        total_fen=c.total_fen,
        cards=c.cards,
        triggered_at=c.triggered_at,
        acknowledged_at=c.acknowledged_at,
        paid_at=c.paid_at,
        payment_ref=c.payment_ref,
        closed_at=c.closed_at,
        lines=lines,
    )


class InsurerController(Controller):
    """What an insurer sees and does: its own policies and claims only."""

    path = "/insurer"
    tags = ["insurance"]  # noqa: RUF012
    guards = [INSURER]  # noqa: RUF012

    @get("/policies")
    async def policies(self, db: Db, me: Me) -> ExposureOut:
        """Policies with exposure per merchant and in total."""
        views = await service.policies(db, me)
        return ExposureOut(
            total_exposure_fen=sum(v.exposure for v in views),
            total_annual_premium_fen=sum(v.annual_premium for v in views),
            policies=[policy_out(v) for v in views],
        )

    @post("/policies", status_code=HTTP_201_CREATED)
    async def create(self, data: JSONBody[PolicyIn], db: Db, me: Me) -> PolicyOut:
        """Write a policy for a merchant that has no active one."""
        async with db.begin():
            policy = await service.create_policy(
                db,
                me,
                uscc=data.uscc,
                number=data.number,
                coverage_fen=data.coverage_fen,
                starts_on=data.starts_on,
            )
        views = [v for v in await service.policies(db, me) if v.policy.id == policy.id]
        return policy_out(views[0])

    @post("/policies/{policy_id:uuid}/end", status_code=HTTP_200_OK)
    async def end(self, policy_id: FromPath[uuid.UUID], db: Db, me: Me) -> dict[str, str]:
        """End a policy (cards sold under it stay covered)."""
        async with db.begin():
            policy = await service.end_policy(db, me, policy_id)
        return {"id": str(policy.id), "status": policy.status}

    @get("/claims")
    async def claims(self, db: Db, me: Me) -> list[ClaimOut]:
        """The insurer's claims, newest first."""
        return [claim_out(c) for c in await service.claims(db, me)]

    @get("/claims/{claim_id:uuid}")
    async def claim(self, claim_id: FromPath[uuid.UUID], db: Db, me: Me) -> ClaimOut:
        """A claim with its per-card breakdown."""
        found = await service.claim_of(db, me, claim_id)
        return claim_out(found, await _lines(db, found.id))

    @post("/claims/{claim_id:uuid}/acknowledge", status_code=HTTP_200_OK)
    async def acknowledge(self, claim_id: FromPath[uuid.UUID], db: Db, me: Me) -> ClaimOut:
        """Received and being assessed."""
        async with db.begin():
            return claim_out(await service.acknowledge(db, me, claim_id))

    @post("/claims/{claim_id:uuid}/pay", status_code=HTTP_200_OK)
    async def pay(
        self, claim_id: FromPath[uuid.UUID], data: JSONBody[PaymentIn], db: Db, me: Me
    ) -> ClaimOut:
        """Paid: every card's insured share goes to its holder through the ledger; closed."""
        async with db.begin():
            found = await service.pay(db, me, claim_id, payment_ref=data.payment_ref)
        return claim_out(found, await _lines(db, found.id))


class ClaimController(Controller):
    """Claims as regulators (their district) and operators see them."""

    path = "/claims"
    tags = ["insurance"]  # noqa: RUF012
    guards = [requires(Role.REGULATOR, Role.OPERATOR)]  # noqa: RUF012

    @get("/{claim_id:uuid}")
    async def one(self, claim_id: FromPath[uuid.UUID], db: Db, me: Me) -> ClaimOut:
        """A claim with its per-card breakdown."""
        found = await service.claim_of(db, me, claim_id)
        return claim_out(found, await _lines(db, found.id))


async def _lines(db: Db, claim_id: uuid.UUID) -> list[ClaimLineOut]:
    return [
        ClaimLineOut(
            c.card_id, c.payable_seq, c.outstanding_fen, c.custody_paid_fen, c.amount_fen, c.paid_at
        )
        for c in await service.claim_lines(db, claim_id)
    ]
