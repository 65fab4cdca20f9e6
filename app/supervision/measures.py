"""Regulator measures: raise the custody ratio, suspend new sales, lift either, declare default.

Both front doors (the JSON API and the regulator's pages) take a measure through one entry
point, :func:`take`, with a :class:`MeasureOrder` (the kind, the reason, what the kind
needs); every rule of a measure (which kinds a regulator may take, that each says why, which
apply to a merchant as it stands, the bounds of a ratio, that default is confirmed) is here.

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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from app.auth.models import Role
from app.auth.principal import Principal
from app.clock import utcnow
from app.exceptions import Conflict, Invalid, NotFound
from app.insurance.service import open_claim
from app.ledger import escrow_ledger
from app.merchants import blocks
from app.merchants.models import Merchant, MerchantStatus
from app.risk.service import grades_of
from app.supervision import disputes, grade_actions
from app.supervision.models import Measure, MeasureKind

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    import escrow
    from app.insurance.models import Claim

MAX_RATIO_BP = 10_000
MAX_REASON = 2000
"""The longest reason a measure is recorded with."""
MAX_BULK = 500
"""Merchants whose blocks one request lifts at most."""

REGULATOR_MEASURES = (
    MeasureKind.RAISE_CUSTODY_RATIO,
    MeasureKind.LIFT_CUSTODY_RATIO,
    MeasureKind.SUSPEND_SALES,
    MeasureKind.LIFT_SUSPENSION,
    MeasureKind.DECLARE_DEFAULT,
)
"""The measures a regulator takes (grade actions are the platform's own)."""

_SELLING = (MerchantStatus.ACTIVE, MerchantStatus.SUSPENDED)
_NOTHING_HELD = (MerchantStatus.PENDING, MerchantStatus.APPROVED, MerchantStatus.CLOSED)


@dataclass(frozen=True)
class MeasureOrder:
    """A measure a regulator orders against one merchant, and why."""

    kind: str
    """A :class:`MeasureKind` a regulator takes; anything else is refused."""
    reason: str
    ratio_bp: int | None = None
    """``raise-custody-ratio``: the new ratio of new sales, in basis points."""
    confirmed: bool = False
    """``declare-default``: it moves money and cannot be undone, so it must be confirmed."""


@dataclass(frozen=True)
class Taken:
    """A measure taken; declaring default also says what was paid and which claim opened."""

    measure: Measure
    payout: escrow.DefaultPayoutReceipt | None = None
    claim: Claim | None = None


async def supervised_merchant(
    session: AsyncSession, me: Principal, merchant_id: uuid.UUID, *, lock: bool = False
) -> Merchant:
    """A merchant in the caller's district (any, for a city-level regulator or operator)."""
    query = select(Merchant).where(Merchant.id == merchant_id)
    merchant = await session.scalar(query.with_for_update() if lock else query)
    if merchant is None or not me.sees_district(merchant.district):
        raise NotFound("measure-merchant-not-found")
    return merchant


def applicable(merchant: Merchant, *, blocked: bool) -> list[MeasureKind]:
    """The measures that apply to the merchant as it stands, in the order pages offer them."""
    status = MerchantStatus(merchant.status)
    selling = status in _SELLING
    found: list[MeasureKind] = []
    if selling:
        found.append(MeasureKind.RAISE_CUSTODY_RATIO)
        if merchant.ratio_floor_bp is not None:
            found.append(MeasureKind.LIFT_CUSTODY_RATIO)
    if status is MerchantStatus.ACTIVE:
        found.append(MeasureKind.SUSPEND_SALES)
    if status is MerchantStatus.SUSPENDED or (blocked and selling):
        found.append(MeasureKind.LIFT_SUSPENSION)
    if selling:
        found.append(MeasureKind.DECLARE_DEFAULT)
    return found


def _kind(text: str) -> MeasureKind:
    found = next((kind for kind in REGULATOR_MEASURES if kind.value == text), None)
    if found is None:
        raise Invalid("measure-kind-unknown", fields={"kind": "measure-kind-unknown"})
    return found


def _reason(reason: str) -> str:
    """Say why: every measure is recorded with its reason."""
    text = reason.strip()
    if not text:
        raise Invalid("measure-reason-required", fields={"reason": "measure-reason-required"})
    return text


def _needs(kind: MeasureKind, order: MeasureOrder) -> None:
    """What the kind needs besides a reason: a new ratio, a confirmation."""
    if kind is MeasureKind.RAISE_CUSTODY_RATIO and order.ratio_bp is None:
        code = "measure-ratio-required"
        raise Invalid(code, fields={"custody_ratio_bp": code})
    if kind is MeasureKind.DECLARE_DEFAULT and not order.confirmed:
        code = "measure-default-unconfirmed"
        raise Invalid(code, fields={"confirm": code})


async def take(
    session: AsyncSession, me: Principal, merchant_id: uuid.UUID, order: MeasureOrder
) -> Taken:
    """Take a measure against a merchant in the caller's reach; one unit of work with its record.

    Refused whole (nothing written, nothing paid) if the kind is not a regulator's, the
    reason is blank, what the kind needs is missing or the merchant as it stands does not
    take it.
    """
    kind = _kind(order.kind)
    _needs(kind, order)
    why = _reason(order.reason)
    merchant = await supervised_merchant(session, me, merchant_id, lock=True)
    if kind is MeasureKind.DECLARE_DEFAULT:
        return await _declare_default(session, me, merchant, why)
    if kind is MeasureKind.RAISE_CUSTODY_RATIO:
        params = _raise_custody_ratio(merchant, order.ratio_bp or 0)
    elif kind is MeasureKind.LIFT_CUSTODY_RATIO:
        params = await _lift_custody_ratio(session, merchant)
    elif kind is MeasureKind.SUSPEND_SALES:
        params = _suspend_sales(merchant)
    else:
        params = await _lift_suspension(session, me, merchant, why)
    return Taken(await _record(session, me, merchant, kind, why, params))


async def _record(
    session: AsyncSession,
    me: Principal,
    merchant: Merchant,
    kind: MeasureKind,
    reason: str,
    params: dict[str, Any],
) -> Measure:
    if me.user_id is None:  # pragma: no cover - regulators and operators are users
        raise Invalid("measure-needs-user")
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


def _not_closed(merchant: Merchant) -> None:
    if merchant.status in (MerchantStatus.DEFAULTED, MerchantStatus.CLOSED):
        raise Conflict("measure-merchant-closed", merchant_status=str(merchant.status))


def _raise_custody_ratio(merchant: Merchant, ratio_bp: int) -> dict[str, Any]:
    """New sales keep more in custody; cards already sold keep the ratio they were sold with.

    The raised ratio is a floor: a worse grade may raise the ratio further, a better one never
    takes it below this until the regulator lifts it.
    """
    _not_closed(merchant)
    if not merchant.custody_ratio_bp < ratio_bp <= MAX_RATIO_BP:
        code = "measure-ratio-out-of-range"
        raise Invalid(
            code,
            fields={"custody_ratio_bp": code},
            current_bp=merchant.custody_ratio_bp,
            max_bp=MAX_RATIO_BP,
        )
    before = merchant.custody_ratio_bp
    merchant.ratio_floor_bp = ratio_bp
    merchant.custody_ratio_bp = ratio_bp
    return {"from": before, "to": ratio_bp}


async def _lift_custody_ratio(session: AsyncSession, merchant: Merchant) -> dict[str, Any]:
    """Back to the ratio the merchant's grade calls for (the standard one, if not rated)."""
    _not_closed(merchant)
    if merchant.ratio_floor_bp is None:
        raise Conflict("measure-ratio-not-raised", current_bp=merchant.custody_ratio_bp)
    before = merchant.custody_ratio_bp
    merchant.ratio_floor_bp = None
    grade = (await grades_of(session, [merchant.id])).get(merchant.id)
    actions = await grade_actions.in_force(session, merchant.district)
    after = grade_actions.new_sales_ratio(merchant, actions.actions.get(grade or ""))
    merchant.custody_ratio_bp = after
    return {"from": before, "to": after}


def _suspend_sales(merchant: Merchant) -> dict[str, Any]:
    """No new cards are sold; the QR profile says so. Cards already sold are still honoured."""
    if merchant.status != MerchantStatus.ACTIVE:
        raise Conflict("measure-suspend-needs-active", merchant_status=str(merchant.status))
    merchant.status = MerchantStatus.SUSPENDED
    return {}


async def _lift_suspension(
    session: AsyncSession, me: Principal, merchant: Merchant, why: str
) -> dict[str, Any]:
    """Sales may resume: lifts a suspension and every sales block.

    The blocks (a reconciliation shortfall, an ended policy, a grade held for review, a hard
    stop) are kept, each with this reason.
    """
    lifted: dict[str, Any] = {}
    if merchant.status == MerchantStatus.SUSPENDED:
        merchant.status = MerchantStatus.ACTIVE
        lifted["suspension"] = True
    if found := await blocks.lift(session, merchant.id, by=me.user_id, reason=why):
        lifted["sales_blocks"] = [block.kind for block in found]
    if not lifted:
        raise Conflict("measure-nothing-to-lift")
    return lifted


async def _declare_default(
    session: AsyncSession, me: Principal, merchant: Merchant, why: str
) -> Taken:
    """Freeze the merchant, pay every custody share, open the insurance claim."""
    if merchant.status == MerchantStatus.DEFAULTED:
        raise Conflict("measure-already-defaulted")
    if merchant.status in _NOTHING_HELD:
        raise Conflict("measure-default-nothing-to-pay", merchant_status=str(merchant.status))
    merchant.status = MerchantStatus.DEFAULTED
    receipt = await escrow_ledger(session).default_payout(
        merchant.id, idempotency_key=f"default:{merchant.id}"
    )
    claim = await open_claim(session, merchant, receipt)
    # the merchant answers nothing more: what waited on it passes to the regulator
    await disputes.hand_over_from(session, merchant.id, utcnow())
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
    return Taken(measure, receipt, claim)


async def declare_default(
    session: AsyncSession, me: Principal, merchant_id: uuid.UUID, *, reason: str
) -> tuple[Measure, escrow.DefaultPayoutReceipt, Claim | None]:
    """Declare default, confirmed (for the demo and the simulation, which script it)."""
    order = MeasureOrder(MeasureKind.DECLARE_DEFAULT.value, reason, confirmed=True)
    taken = await take(session, me, merchant_id, order)
    if taken.payout is None:  # pragma: no cover - declaring default always pays out
        raise Conflict("measure-already-defaulted")
    return taken.measure, taken.payout, taken.claim


async def declare_default_decided(
    session: AsyncSession, merchant_id: uuid.UUID, *, decided_by: uuid.UUID | None, reason: str
) -> Taken:
    """Declare a default a regulator decided earlier (an emergency transfer's end).

    The measure is recorded as hers: she decided it when she opened the window, and the
    window's end carries it out.
    """
    merchant = await session.get(
        Merchant, merchant_id, with_for_update=True, populate_existing=True
    )
    if merchant is None:
        raise NotFound("merchant-not-found")
    decider = Principal(role=Role.REGULATOR, user_id=decided_by, district=merchant.district)
    return await _declare_default(session, decider, merchant, _reason(reason))


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
            "measure-bulk-count", fields={"merchant_ids": "measure-bulk-count"}, max=MAX_BULK
        )
    taken = []
    for merchant_id in sorted(set(merchant_ids)):
        merchant = await supervised_merchant(session, me, merchant_id, lock=True)
        found = await blocks.lift(session, merchant.id, by=me.user_id, reason=why)
        if not found:
            code = "measure-bulk-not-blocked"
            raise Conflict(
                code,
                fields={"merchant_ids": code},
                merchant=merchant.legal_name,
                merchant_id=str(merchant.id),
            )
        params = {"sales_blocks": [block.kind for block in found], "bulk": True}
        taken.append(await _record(session, me, merchant, MeasureKind.LIFT_SUSPENSION, why, params))
    return taken


async def measures_of(session: AsyncSession, merchant_id: uuid.UUID) -> Sequence[Measure]:
    """Every measure taken against the merchant, oldest first."""
    return (
        await session.scalars(
            select(Measure).where(Measure.merchant_id == merchant_id).order_by(Measure.taken_at)
        )
    ).all()
