"""Policies, premiums by grade, exposure, and the claim lifecycle.

A merchant has at most one active policy (PostgreSQL enforces it). The premium is a rate per
grade applied to the insured exposure (the insured shares of the merchant's open cards, the
refund payables it owes and the claims not yet paid), so a riskier merchant pays more. A claim
is opened when a regulator declares the merchant in default, or when refund payables go past
their deadline unpaid: triggered → acknowledged → paid (the insurer quotes its payment
reference; each line is paid to its card's holder through the ledger in the same transaction)
→ closed. Every step that the insurer must hear about goes to the outbox in the same
transaction.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

import escrow
from app.auth.models import Role
from app.clock import today, utcnow
from app.exceptions import Conflict, Forbidden, Invalid, NotFound
from app.insurance.models import (
    Claim,
    ClaimCard,
    ClaimKind,
    ClaimStatus,
    Policy,
    PolicyStatus,
)
from app.ledger import escrow_ledger
from app.merchants import blocks
from app.merchants.models import Merchant, MerchantStatus, SalesBlockKind
from app.merchants.uscc import normalise_uscc
from app.outbox.models import Insurer, OutboxEvent
from app.outbox.service import enqueue
from app.risk.service import grades_of
from app.risk.supervision import UNRATED

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import date, datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal

PREMIUM_SCHEDULE: dict[str, Any] = {
    "version": "2026.1",
    "basis": "annual premium = insured exposure × rate of the merchant's current grade",
    "annual_rate_bp": {"A": 40, "B": 70, "C": 120, "D": 220, "E": 400, UNRATED: 150},
}
"""Rates in basis points a year, per grade; a new schedule is a new version, never an edit."""


def insurer_of(me: Principal) -> uuid.UUID:
    """The caller's insurer; an insurer account not linked to one can do nothing here."""
    if me.role is not Role.INSURER or me.insurer_id is None:
        raise Forbidden("insurer-account-unlinked")
    return me.insurer_id


def annual_premium(exposure: int, grade: str, schedule: dict[str, Any] = PREMIUM_SCHEDULE) -> int:
    """The annual premium in fen (rounded up: never undercharge the cover)."""
    rate = int(schedule["annual_rate_bp"].get(grade, schedule["annual_rate_bp"][UNRATED]))
    return math.ceil(exposure * rate / 10_000)


async def create_policy(
    session: AsyncSession,
    me: Principal,
    *,
    uscc: str,
    number: str,
    coverage_fen: int,
    starts_on: date,
) -> Policy:
    """A new active policy for a merchant that has none and declared this number.

    Both sides must agree: the merchant names the policy, the insurer registers it; neither
    can attach the other alone.
    """
    insurer_id = insurer_of(me)
    merchant = await session.scalar(
        select(Merchant).where(Merchant.uscc == normalise_uscc(uscc)).with_for_update()
    )
    if merchant is None:
        raise NotFound("merchant-code-unknown")
    if await session.scalar(
        select(Policy.id).where(
            Policy.merchant_id == merchant.id, Policy.status == PolicyStatus.ACTIVE
        )
    ):
        raise Conflict("policy-already-active")
    if merchant.policy_ref != number:
        raise Conflict(
            "policy-number-not-declared", fields={"number": "policy-number-not-merchants"}
        )
    if await session.scalar(select(Policy.id).where(Policy.number == number)):
        raise Conflict("policy-number-taken", fields={"number": "policy-number-taken-field"})
    policy = Policy(
        id=uuid.uuid4(),
        insurer_id=insurer_id,
        merchant_id=merchant.id,
        number=number,
        coverage_fen=coverage_fen,
        status=PolicyStatus.ACTIVE,
        starts_on=starts_on,
        premium_schedule=PREMIUM_SCHEDULE,
    )
    session.add(policy)
    await session.flush()
    return policy


async def end_policy(session: AsyncSession, me: Principal, policy_id: uuid.UUID) -> Policy:
    """End an active policy: it still covers the cards sold under it; new sales stop."""
    policy = await _own_policy(session, me, policy_id, lock=True)
    if policy.status != PolicyStatus.ACTIVE:
        raise Conflict("policy-already-ended")
    policy.status = PolicyStatus.ENDED
    policy.ends_on = today()
    merchant = await session.get(Merchant, policy.merchant_id, with_for_update=True)
    if merchant is not None and merchant.status == MerchantStatus.ACTIVE:
        # New cards would be sold without their insured share: stop sales until a new policy.
        await blocks.place(
            session,
            merchant.id,
            SalesBlockKind.POLICY_ENDED,
            {"policy_number": policy.number, "ended_on": policy.ends_on.isoformat()},
        )
    await session.flush()
    return policy


async def _own_policy(
    session: AsyncSession, me: Principal, policy_id: uuid.UUID, *, lock: bool = False
) -> Policy:
    query = select(Policy).where(Policy.id == policy_id, Policy.insurer_id == insurer_of(me))
    policy = await session.scalar(query.with_for_update() if lock else query)
    if policy is None:
        raise NotFound("policy-not-found")
    return policy


@dataclass(frozen=True)
class Cover:
    """Who insures the part of a merchant's card money that is not in custody."""

    insurer: str
    policy: str


async def cover_of(session: AsyncSession, merchant_id: uuid.UUID) -> Cover | None:
    """The insurer and policy number of the merchant's active policy, if it has one."""
    row = (
        await session.execute(
            select(Insurer.name, Policy.number)
            .join(Insurer, Insurer.id == Policy.insurer_id)
            .where(Policy.merchant_id == merchant_id, Policy.status == PolicyStatus.ACTIVE)
        )
    ).first()
    return Cover(str(row[0]), str(row[1])) if row else None


@dataclass(frozen=True)
class PolicyView:
    """A policy with the merchant's current exposure, grade and premium."""

    policy: Policy
    merchant: Merchant
    exposure: int
    grade: str
    annual_premium: int


async def policies(session: AsyncSession, me: Principal) -> list[PolicyView]:
    """The insurer's policies, each with its exposure (insured shares of open cards) now."""
    rows = (
        await session.execute(
            select(Policy, Merchant)
            .join(Merchant, Merchant.id == Policy.merchant_id)
            .where(Policy.insurer_id == insurer_of(me))
            .order_by(Policy.created_at)
        )
    ).all()
    ids = [m.id for _, m in rows]
    grades = await grades_of(session, ids)
    cover = await insured_exposure(session, ids)
    out = []
    for policy, merchant in rows:
        grade = grades.get(merchant.id, UNRATED)
        exposure = cover.get(merchant.id, 0)
        out.append(
            PolicyView(
                policy,
                merchant,
                exposure,
                grade,
                annual_premium(exposure, grade, policy.premium_schedule),
            )
        )
    return out


async def insured_exposure(
    session: AsyncSession, merchant_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Per merchant, what the insurer stands to pay (the policy's balance).

    The insured shares of its open cards, the refund payables it still owes, and the claims
    not yet paid.
    """
    found: dict[uuid.UUID, int] = {}
    for merchant_id in merchant_ids:
        try:
            balances = await escrow_ledger(session).balances(merchant_id)
        except escrow.UnknownBook:
            continue
        found[merchant_id] = -balances.get(escrow.AccountKind.POLICY, 0)
    return found


async def _policy_of(session: AsyncSession, merchant: Merchant) -> Policy | None:
    """The policy a claim goes to: the active one, else the latest (it covers what it sold)."""
    return await session.scalar(
        select(Policy)
        .where(Policy.merchant_id == merchant.id)
        .order_by((Policy.status == PolicyStatus.ACTIVE).desc(), Policy.created_at.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class CoverMove:
    """A card that moved to a successor: the cover its old policy dropped and the new took."""

    card_id: uuid.UUID
    new_card_id: uuid.UUID
    released: int
    taken: int


def _party(merchant: Merchant) -> dict[str, str]:
    return {
        "id": str(merchant.id),
        "legal_name": merchant.legal_name,
        "unified_social_credit_code": merchant.uscc,
    }


async def tell_cover_moved(
    session: AsyncSession, closing: Merchant, successor: Merchant, moves: Sequence[CoverMove]
) -> None:
    """Tell each side's insurer (outbox) how its exposure changed as cards moved.

    The closing merchant's insurer no longer covers the cards; the successor's covers them
    from now, at the successor's custody ratio. Call it last in the transaction of the move.
    """
    sides = (
        (closing, successor, "released", [m.released for m in moves]),
        (successor, closing, "taken", [m.taken for m in moves]),
    )
    for merchant, other, change, amounts in sides:
        policy = await _policy_of(session, merchant)
        if policy is None:
            continue
        await enqueue(
            session,
            policy.insurer_id,
            f"cover.{change}",
            {
                "policy_number": policy.number,
                "merchant": _party(merchant),
                "counterparty": _party(other),
                "cover_fen": sum(amounts),
                "cards": [
                    {"card_id": str(m.card_id), "new_card_id": str(m.new_card_id), "cover_fen": a}
                    for m, a in zip(moves, amounts, strict=True)
                ],
            },
        )


@dataclass(frozen=True)
class CoverMoved:
    """Cover this insurer dropped or took as cards moved between merchants: what it was told."""

    at: datetime
    change: str
    """``released`` (its merchant's cards left) or ``taken`` (cards came to its merchant)."""
    merchant: str
    counterparty: str
    cards: int
    cover_fen: int


COVER_EVENTS = {"cover.released": "released", "cover.taken": "taken"}


async def cover_moves(session: AsyncSession, me: Principal, limit: int = 50) -> list[CoverMoved]:
    """The latest cover moves announced to the caller's insurer, newest first."""
    rows = await session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.insurer_id == insurer_of(me), OutboxEvent.type.in_(COVER_EVENTS))
        .order_by(OutboxEvent.seq.desc())
        .limit(limit)
    )
    return [
        CoverMoved(
            at=e.created_at,
            change=COVER_EVENTS[e.type],
            merchant=str(e.payload["data"]["merchant"]["legal_name"]),
            counterparty=str(e.payload["data"]["counterparty"]["legal_name"]),
            cards=len(e.payload["data"]["cards"]),
            cover_fen=int(e.payload["data"]["cover_fen"]),
        )
        for e in rows
    ]


@dataclass(frozen=True)
class Line:
    """One line of a claim about to be opened."""

    card_id: uuid.UUID
    payable_seq: int | None
    outstanding: int
    custody_paid: int
    amount: int


async def _open(
    session: AsyncSession,
    merchant: Merchant,
    kind: ClaimKind,
    ledger_seq: int,
    lines: Sequence[Line],
) -> Claim | None:
    """Open a claim with its lines and tell the insurer (outbox), in the caller's transaction."""
    policy = await _policy_of(session, merchant)
    if policy is None:
        return None
    claim = Claim(
        id=uuid.uuid4(),
        merchant_id=merchant.id,
        kind=kind.value,
        insurer_id=policy.insurer_id,
        policy_id=policy.id,
        total_fen=sum(line.amount for line in lines),
        cards=len(lines),
        status=ClaimStatus.TRIGGERED,
        ledger_seq=ledger_seq,
        triggered_at=utcnow(),
    )
    session.add(claim)
    await session.flush()
    if lines:
        await session.execute(
            insert(ClaimCard),
            [
                {
                    "claim_id": claim.id,
                    "card_id": line.card_id,
                    "payable_seq": line.payable_seq,
                    "outstanding_fen": line.outstanding,
                    "custody_paid_fen": line.custody_paid,
                    "amount_fen": line.amount,
                }
                for line in lines
            ],
        )
    await enqueue(
        session,
        policy.insurer_id,
        "claim.triggered",
        {
            "claim_id": str(claim.id),
            "kind": kind.value,
            "policy_number": policy.number,
            "merchant": {
                "id": str(merchant.id),
                "legal_name": merchant.legal_name,
                "unified_social_credit_code": merchant.uscc,
            },
            "total_fen": claim.total_fen,
            "cards": [
                {
                    "card_id": str(line.card_id),
                    "refund_payable": line.payable_seq,
                    "outstanding_fen": line.outstanding,
                    "custody_paid_fen": line.custody_paid,
                    "claim_fen": line.amount,
                }
                for line in lines
            ],
        },
    )
    return claim


async def open_claim(
    session: AsyncSession, merchant: Merchant, receipt: escrow.DefaultPayoutReceipt
) -> Claim | None:
    """Open the claim for a default: one line per card and per unpaid payable; tell the insurer.

    ``None`` when no policy is on record for the merchant (the amounts then wait, as pending
    claims in the ledger, for a policy to be registered).
    """
    lines = [
        Line(p.card_id, None, p.outstanding, p.custody_paid, p.claim_amount)
        for p in receipt.cards
        if p.claim_amount > 0
    ]
    lines += [
        Line(part.card_id, part.payable_seq, part.amount, 0, part.amount)
        for part in receipt.payables
    ]
    return await _open(session, merchant, ClaimKind.DEFAULT, receipt.seq, lines)


async def open_payable_claim(
    session: AsyncSession, merchant: Merchant, receipt: escrow.PayableClaimReceipt
) -> Claim | None:
    """Open the claim for payables the merchant did not pay by their deadline."""
    lines = [
        Line(part.card_id, part.payable_seq, part.amount, 0, part.amount) for part in receipt.lines
    ]
    return await _open(session, merchant, ClaimKind.REFUND_PAYABLE, receipt.seq, lines)


def by_exposure(views: Sequence[PolicyView]) -> list[PolicyView]:
    """Policies by the money they cover now, the largest first; defaulted merchants' last.

    A defaulted merchant's cards have moved to claims, so its policy covers nothing open.
    """
    return sorted(views, key=lambda v: (v.merchant.status == MerchantStatus.DEFAULTED, -v.exposure))


def to_act_on_first(claims: Sequence[Claim]) -> list[Claim]:
    """The insurer's queue: claims still to act on first, oldest then largest; closed last.

    The oldest claim is the consumer who has waited longest; the closed ones follow, newest
    first.
    """
    waiting = sorted(
        (c for c in claims if c.status != ClaimStatus.CLOSED),
        key=lambda c: (c.triggered_at, -c.total_fen),
    )
    closed = sorted(
        (c for c in claims if c.status == ClaimStatus.CLOSED),
        key=lambda c: c.triggered_at,
        reverse=True,
    )
    return waiting + closed


async def claims(session: AsyncSession, me: Principal) -> Sequence[Claim]:
    """The insurer's claims, newest first."""
    return (
        await session.scalars(
            select(Claim)
            .where(Claim.insurer_id == insurer_of(me))
            .order_by(Claim.triggered_at.desc())
        )
    ).all()


async def claim_of(
    session: AsyncSession, me: Principal, claim_id: uuid.UUID, *, lock: bool = False
) -> Claim:
    """One of the caller's claims (an insurer), or any claim (operator, regulator of its area)."""
    query = select(Claim).where(Claim.id == claim_id)
    if me.role is Role.INSURER:
        query = query.where(Claim.insurer_id == insurer_of(me))
    claim = await session.scalar(query.with_for_update() if lock else query)
    if claim is None:
        raise NotFound("claim-not-found")
    if me.role is Role.REGULATOR:
        district = await session.scalar(
            select(Merchant.district).where(Merchant.id == claim.merchant_id)
        )
        if district is None or not me.sees_district(district):
            raise NotFound("claim-not-found")
    return claim


async def claim_lines(session: AsyncSession, claim_id: uuid.UUID) -> Sequence[ClaimCard]:
    """A claim's per-card breakdown."""
    return (
        await session.scalars(
            select(ClaimCard)
            .where(ClaimCard.claim_id == claim_id)
            .order_by(ClaimCard.card_id, ClaimCard.payable_seq)
        )
    ).all()


async def acknowledge(session: AsyncSession, me: Principal, claim_id: uuid.UUID) -> Claim:
    """The insurer has received the claim and is assessing it."""
    claim = await claim_of(session, me, claim_id, lock=True)
    if claim.status != ClaimStatus.TRIGGERED:
        raise Conflict("claim-not-triggered", status=claim.status)
    claim.status = ClaimStatus.ACKNOWLEDGED
    claim.acknowledged_at = utcnow()
    await session.flush()
    return claim


async def pay(
    session: AsyncSession, me: Principal, claim_id: uuid.UUID, *, payment_ref: str
) -> Claim:
    """The insurer paid: each card's insured share goes to its holder through the ledger.

    A claim of 0 fen (no insured share was open at the default) has nothing to pay: it is
    closed with the insurer's reference and no ledger entry.
    """
    claim = await claim_of(session, me, claim_id, lock=True)
    if claim.status in (ClaimStatus.PAID, ClaimStatus.CLOSED):
        raise Conflict("claim-paid-before", payment_ref=claim.payment_ref)
    if claim.status != ClaimStatus.ACKNOWLEDGED:
        raise Conflict("claim-not-acknowledged")
    if not payment_ref.strip():
        raise Invalid("claim-payment-ref-missing", fields={"payment_ref": "payment-ref-required"})
    seq: int | None = None
    if claim.total_fen:
        lines = [
            escrow.CardClaim(
                card_id=line.card_id, payable_seq=line.payable_seq, amount=line.amount_fen
            )
            for line in await claim_lines(session, claim.id)
            if line.amount_fen > 0
        ]
        receipt = await escrow_ledger(session).pay_claim(
            claim.merchant_id,
            reference=payment_ref.strip(),
            idempotency_key=f"claim:{claim.id}",
            lines=lines,
        )
        if receipt.total != claim.total_fen:
            raise Conflict(
                "claim-ledger-mismatch", held_fen=receipt.total, claimed_fen=claim.total_fen
            )
        seq = receipt.seq
    now = utcnow()
    await session.execute(
        update(ClaimCard).where(ClaimCard.claim_id == claim.id).values(paid_at=now)
    )
    claim.status = ClaimStatus.CLOSED
    claim.payment_ref = payment_ref.strip()
    claim.payment_seq = seq
    claim.paid_at = now
    claim.closed_at = now
    await enqueue(
        session,
        claim.insurer_id,
        "claim.closed",
        {"claim_id": str(claim.id), "payment_ref": claim.payment_ref, "total_fen": claim.total_fen},
    )
    await session.flush()
    return claim
