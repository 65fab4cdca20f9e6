"""Grade actions: what a merchant's risk grade does to its new sales, set per district.

Risk drives protection. Each grade maps to the custody ratio of new sales and to whether
sales go on (``allowed``) or wait for a regulator's review (``review``). The table is
configuration, not code: a regulator sets its district's (a city-level regulator the city's
default, district ``*``), with a reason, and every version is kept. The first version, seeded
by the migration, is the platform's default: A 20%, B 30%, C 40%, D 60%, E 100% and no new
sales until a regulator reviews.

On every grade change the merchant's ratio for new sales follows at once (cards already sold
keep theirs), never below a ratio a regulator raised by hand (``ratio_floor_bp``), recorded as
the platform's own measure with its cause. A hard stop (licence revoked, deregistration filed)
stops sales whatever the table says.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import func, select, text

from app.auth.models import Role
from app.clock import utcnow
from app.exceptions import Forbidden, Invalid
from app.merchants import blocks
from app.merchants.models import Merchant, MerchantStatus, SalesBlockKind
from app.settings import get_settings
from app.supervision.models import GradeActionsVersion, Measure, MeasureKind
from scoring import GRADES, STOPS_SALES, Override

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping, Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal

CITY = "*"
"""The district of the city-wide default, used where a district has set none."""
SALES = ("allowed", "review")
MAX_RATIO_BP = 10_000


@dataclass(frozen=True)
class GradeAction:
    """What one grade does to new sales."""

    custody_ratio_bp: int
    sales: Literal["allowed", "review"]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form, as stored."""
        return {"custody_ratio_bp": self.custody_ratio_bp, "sales": self.sales}


DEFAULT_ACTIONS: dict[str, GradeAction] = {
    "A": GradeAction(2000, "allowed"),
    "B": GradeAction(3000, "allowed"),
    "C": GradeAction(4000, "allowed"),
    "D": GradeAction(6000, "allowed"),
    "E": GradeAction(10_000, "review"),
}
"""The platform's default, seeded as the city's first version by the migration."""


@dataclass(frozen=True)
class Actions:
    """A district's grade actions in force, and which version they are."""

    district: str
    version: int
    actions: dict[str, GradeAction]
    reason: str


def check_actions(raw: Mapping[str, Any]) -> dict[str, GradeAction]:
    """A complete, sensible table, or :class:`Invalid` naming every grade that is not.

    Every grade A–E must be there with a whole ratio of 0–10,000 basis points and sales
    ``allowed`` or ``review``; a riskier grade may never keep less in custody than a safer
    one, or the table would reward a falling grade.
    """
    problems: dict[str, str] = {}
    found: dict[str, GradeAction] = {}
    for grade in GRADES:
        entry = raw.get(grade)
        if not isinstance(entry, dict):
            problems[grade] = "grade-action-missing"
            continue
        ratio, sales = entry.get("custody_ratio_bp"), entry.get("sales")
        if isinstance(ratio, bool) or not isinstance(ratio, int) or not 0 <= ratio <= MAX_RATIO_BP:
            problems[grade] = "grade-action-ratio-range"
        elif sales not in SALES:
            problems[grade] = "grade-action-sales"
        else:
            found[grade] = GradeAction(ratio, sales)
    extra = sorted(set(raw) - set(GRADES))
    if extra:
        problems[extra[0]] = "grade-action-unknown-grade"
    if not problems:
        for safer, riskier in itertools.pairwise(GRADES):
            if found[riskier].custody_ratio_bp < found[safer].custody_ratio_bp:
                problems[riskier] = "grade-action-below-safer"
    if problems:
        named: dict[str, object] = {"grade": extra[0]} if extra else {}
        raise Invalid("grade-actions-not-sensible", fields=problems, max_bp=MAX_RATIO_BP, **named)
    return found


def _actions(row: GradeActionsVersion) -> Actions:
    return Actions(row.district, row.version, check_actions(row.actions), row.reason)


async def in_force(session: AsyncSession, district: str) -> Actions:
    """The actions in force for a district: its own latest version, else the city's."""
    row = await session.scalar(
        select(GradeActionsVersion)
        .where(GradeActionsVersion.district.in_([district, CITY]))
        .order_by((GradeActionsVersion.district == CITY).asc(), GradeActionsVersion.version.desc())
        .limit(1)
    )
    if row is None:  # pragma: no cover - the migration seeds the city's first version
        return Actions(CITY, 0, dict(DEFAULT_ACTIONS), "the platform's default")
    return _actions(row)


def _district_of(me: Principal) -> str:
    if me.role is not Role.REGULATOR:
        raise Forbidden("grade-actions-regulator-only")
    return me.district or CITY


async def history(session: AsyncSession, me: Principal) -> Sequence[GradeActionsVersion]:
    """The versions that apply to the caller's district (its own and the city's), newest first."""
    district = me.district or CITY
    return (
        await session.scalars(
            select(GradeActionsVersion)
            .where(GradeActionsVersion.district.in_([district, CITY]))
            .order_by(GradeActionsVersion.created_at.desc(), GradeActionsVersion.id.desc())
        )
    ).all()


async def set_actions(
    session: AsyncSession, me: Principal, raw: Mapping[str, Any], *, reason: str
) -> Actions:
    """A new version of the caller's district's actions (the city's, for a city regulator).

    Merchants' ratios for new sales change at their next grade change; cards already sold
    never change.
    """
    district = _district_of(me)
    why = reason.strip()
    if not why:
        raise Invalid("grade-actions-reason-missing", fields={"reason": "grade-actions-reason"})
    actions = check_actions(raw)
    # Two regulators saving at once: the second waits and takes the next version.
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('grade-actions'), hashtext(:district))"),
        {"district": district},
    )
    latest = await session.scalar(
        select(func.max(GradeActionsVersion.version)).where(
            GradeActionsVersion.district == district
        )
    )
    row = GradeActionsVersion(
        district=district,
        version=(latest or 0) + 1,
        actions={grade: action.to_dict() for grade, action in actions.items()},
        reason=why,
        created_by=me.user_id,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return _actions(row)


def new_sales_ratio(merchant: Merchant, action: GradeAction | None) -> int:
    """The custody ratio for the merchant's new sales: its grade's, never below a raised one.

    A merchant not yet rated keeps the deployment's standard ratio.
    """
    grade_ratio = (
        action.custody_ratio_bp
        if action is not None
        else get_settings().cards.default_custody_ratio_bp
    )
    return max(grade_ratio, merchant.ratio_floor_bp or 0)


async def follow_grade(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    *,
    before: str | None,
    grade: str,
    cause: str,
    new_overrides: Collection[str],
) -> Measure | None:
    """Apply the district's actions to a merchant whose grade is now ``grade``.

    Called for every rating whose grade changed or that brought a new hard override. The
    ratio for new sales follows the grade (a measure records it); a grade whose action is
    ``review`` holds sales until a regulator lifts the hold; a new hard stop stops them.
    """
    # FOR NO KEY UPDATE: it serialises the merchant's updates without waiting for a transaction
    # that only references the merchant (a complaint being filed holds KEY SHARE on it while
    # it refreshes the complaint records this rating has just written: FOR UPDATE deadlocked).
    merchant = await session.get(Merchant, merchant_id, with_for_update={"key_share": True})
    if merchant is None or merchant.status in (MerchantStatus.DEFAULTED, MerchantStatus.CLOSED):
        return None
    actions = await in_force(session, merchant.district)
    action = actions.actions.get(grade)
    evidence = {
        "grade": grade,
        "from_grade": before,
        "cause": cause,
        "district": actions.district,
        "version": actions.version,
    }
    stops = sorted(o for o in new_overrides if Override(o) in STOPS_SALES)
    if stops:
        await blocks.place(
            session, merchant.id, SalesBlockKind.HARD_STOP, {**evidence, "overrides": stops}
        )
    if action is not None and action.sales == "review" and grade != before:
        await blocks.place(session, merchant.id, SalesBlockKind.GRADE_REVIEW, evidence)
    ratio = new_sales_ratio(merchant, action)
    if ratio == merchant.custody_ratio_bp:
        return None
    measure = Measure(
        id=uuid.uuid4(),
        merchant_id=merchant.id,
        kind=MeasureKind.GRADE_ACTION.value,
        params={**evidence, "from": merchant.custody_ratio_bp, "to": ratio},
        reason=f"rated {grade}: {cause}",
        taken_by=None,
        taken_at=utcnow(),
    )
    merchant.custody_ratio_bp = ratio
    session.add(measure)
    await session.flush()
    return measure
