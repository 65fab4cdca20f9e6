"""Regulator measures: raise the custody ratio, suspend new sales, lift either, declare default.

Every measure is one unit of work with its record (who, when, why). Declaring default is the
one that moves money: in a single transaction the merchant is frozen, the ledger pays every
open card's custody share to its holder and moves each insured share to a pending claim
(``escrow.EscrowLedger.default_payout``: each consumer's refund is the card's ``outstanding``,
to the fen), and one insurance claim with the per-card breakdown is opened and announced to
the insurer through the outbox. A retried request finds the merchant already in default and
is refused; nothing is paid twice.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from app.clock import utcnow
from app.exceptions import Conflict, Invalid, NotFound
from app.insurance.service import open_claim
from app.ledger import escrow_ledger
from app.merchants import blocks
from app.merchants.models import Merchant, MerchantStatus
from app.risk.service import grades_of
from app.supervision import grade_actions
from app.supervision.models import Measure, MeasureKind

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    import escrow
    from app.auth.principal import Principal
    from app.insurance.models import Claim

MAX_RATIO_BP = 10_000


async def supervised_merchant(
    session: AsyncSession, me: Principal, merchant_id: uuid.UUID, *, lock: bool = False
) -> Merchant:
    """A merchant in the caller's district (any, for a city-level regulator or operator)."""
    query = select(Merchant).where(Merchant.id == merchant_id)
    merchant = await session.scalar(query.with_for_update() if lock else query)
    if merchant is None or not me.sees_district(merchant.district):
        raise NotFound("no such merchant")
    return merchant


def _reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise Invalid(
            "say why: a measure is recorded with its reason", fields={"reason": "required"}
        )
    return text


async def _record(
    session: AsyncSession,
    me: Principal,
    merchant: Merchant,
    kind: MeasureKind,
    reason: str,
    params: dict[str, Any],
) -> Measure:
    if me.user_id is None:  # pragma: no cover - regulators and operators are users
        raise Invalid("measures are taken by a signed-in regulator")
    measure = Measure(
        id=uuid.uuid4(),
        merchant_id=merchant.id,
        kind=kind.value,
        params=params,
        reason=reason,
        taken_by=me.user_id,
        taken_at=utcnow(),
    )
    session.add(measure)
    await session.flush()
    return measure


async def raise_custody_ratio(
    session: AsyncSession, me: Principal, merchant_id: uuid.UUID, *, ratio_bp: int, reason: str
) -> Measure:
    """New sales keep more in custody; cards already sold keep the ratio they were sold with.

    The raised ratio is a floor: a worse grade may raise the ratio further, a better one never
    takes it below this until the regulator lifts it.
    """
    why = _reason(reason)
    merchant = await supervised_merchant(session, me, merchant_id, lock=True)
    _not_closed(merchant)
    if not merchant.custody_ratio_bp < ratio_bp <= MAX_RATIO_BP:
        raise Invalid(
            f"the new custody ratio must be above the current {merchant.custody_ratio_bp} bp"
            f" and at most {MAX_RATIO_BP} bp",
            fields={"custody_ratio_bp": "out of range"},
        )
    before = merchant.custody_ratio_bp
    merchant.ratio_floor_bp = ratio_bp
    merchant.custody_ratio_bp = ratio_bp
    return await _record(
        session,
        me,
        merchant,
        MeasureKind.RAISE_CUSTODY_RATIO,
        why,
        {"from": before, "to": ratio_bp},
    )


async def lift_custody_ratio(
    session: AsyncSession, me: Principal, merchant_id: uuid.UUID, *, reason: str
) -> Measure:
    """Back to the ratio the merchant's grade calls for (the standard one, if not rated)."""
    why = _reason(reason)
    merchant = await supervised_merchant(session, me, merchant_id, lock=True)
    _not_closed(merchant)
    if merchant.ratio_floor_bp is None:
        raise Conflict(
            f"no raised custody ratio to lift: {merchant.custody_ratio_bp} bp is what the"
            " merchant's grade calls for"
        )
    before = merchant.custody_ratio_bp
    merchant.ratio_floor_bp = None
    grade = (await grades_of(session, [merchant.id])).get(merchant.id)
    actions = await grade_actions.in_force(session, merchant.district)
    after = grade_actions.new_sales_ratio(merchant, actions.actions.get(grade or ""))
    merchant.custody_ratio_bp = after
    return await _record(
        session, me, merchant, MeasureKind.LIFT_CUSTODY_RATIO, why, {"from": before, "to": after}
    )


async def suspend_sales(
    session: AsyncSession, me: Principal, merchant_id: uuid.UUID, *, reason: str
) -> Measure:
    """No new cards are sold; the QR profile says so. Cards already sold are still honoured."""
    why = _reason(reason)
    merchant = await supervised_merchant(session, me, merchant_id, lock=True)
    if merchant.status != MerchantStatus.ACTIVE:
        raise Conflict(f"only an active merchant's sales can be suspended; it is {merchant.status}")
    merchant.status = MerchantStatus.SUSPENDED
    return await _record(session, me, merchant, MeasureKind.SUSPEND_SALES, why, {})


async def lift_suspension(
    session: AsyncSession, me: Principal, merchant_id: uuid.UUID, *, reason: str
) -> Measure:
    """Sales may resume: lifts a suspension and every sales block.

    The blocks (a reconciliation shortfall, an ended policy, a grade held for review, a hard
    stop) are kept, each with this reason.
    """
    why = _reason(reason)
    merchant = await supervised_merchant(session, me, merchant_id, lock=True)
    lifted: dict[str, Any] = {}
    if merchant.status == MerchantStatus.SUSPENDED:
        merchant.status = MerchantStatus.ACTIVE
        lifted["suspension"] = True
    if found := await blocks.lift(session, merchant.id, by=me.user_id, reason=why):
        lifted["sales_blocks"] = [block.kind for block in found]
    if not lifted:
        raise Conflict("this merchant's sales are neither suspended nor blocked")
    return await _record(session, me, merchant, MeasureKind.LIFT_SUSPENSION, why, lifted)


MAX_BULK = 500
"""Merchants whose blocks one request lifts at most."""


async def lift_sales_blocks(
    session: AsyncSession, me: Principal, merchant_ids: Sequence[uuid.UUID], *, reason: str
) -> list[Measure]:
    """Lift the sales blocks of several merchants at once, one measure each, all or none.

    After a partial bank statement, or a policy renewed for a whole group, a regulator lifts
    many blocks with one reason. Every merchant must be in the caller's reach and blocked;
    otherwise nothing is lifted and the error names the merchant.
    """
    why = _reason(reason)
    if not merchant_ids or len(merchant_ids) > MAX_BULK:
        raise Invalid(
            f"name between 1 and {MAX_BULK} merchants", fields={"merchant_ids": "1 to 500"}
        )
    taken = []
    for merchant_id in sorted(set(merchant_ids)):
        merchant = await supervised_merchant(session, me, merchant_id, lock=True)
        found = await blocks.lift(session, merchant.id, by=me.user_id, reason=why)
        if not found:
            raise Conflict(
                f"{merchant.legal_name} has no sales block to lift; nothing was lifted",
                fields={"merchant_ids": str(merchant.id)},
            )
        params = {"sales_blocks": [block.kind for block in found], "bulk": True}
        taken.append(await _record(session, me, merchant, MeasureKind.LIFT_SUSPENSION, why, params))
    return taken


async def declare_default(
    session: AsyncSession, me: Principal, merchant_id: uuid.UUID, *, reason: str
) -> tuple[Measure, escrow.DefaultPayoutReceipt, Claim | None]:
    """Freeze the merchant, pay every custody share, open the insurance claim."""
    why = _reason(reason)
    merchant = await supervised_merchant(session, me, merchant_id, lock=True)
    if merchant.status == MerchantStatus.DEFAULTED:
        raise Conflict("this merchant was already declared in default")
    if merchant.status in (MerchantStatus.PENDING, MerchantStatus.APPROVED, MerchantStatus.CLOSED):
        raise Conflict(f"a {merchant.status} merchant holds no prepaid money to pay back")
    merchant.status = MerchantStatus.DEFAULTED
    receipt = await escrow_ledger(session).default_payout(
        merchant.id, idempotency_key=f"default:{merchant.id}"
    )
    claim = await open_claim(session, merchant, receipt)
    measure = await _record(
        session,
        me,
        merchant,
        MeasureKind.DECLARE_DEFAULT,
        why,
        {
            "ledger_seq": receipt.seq,
            "cards": len(receipt.cards),
            "outstanding_fen": receipt.total_outstanding,
            "custody_paid_fen": receipt.total_custody_paid,
            "claim_fen": receipt.total_claim,
            "claim_id": str(claim.id) if claim else None,
        },
    )
    return measure, receipt, claim


def _not_closed(merchant: Merchant) -> None:
    if merchant.status in (MerchantStatus.DEFAULTED, MerchantStatus.CLOSED):
        raise Conflict(f"this merchant is {merchant.status}; it sells nothing any more")


async def measures_of(session: AsyncSession, merchant_id: uuid.UUID) -> Sequence[Measure]:
    """Every measure taken against the merchant, oldest first."""
    return (
        await session.scalars(
            select(Measure).where(Measure.merchant_id == merchant_id).order_by(Measure.taken_at)
        )
    ).all()
