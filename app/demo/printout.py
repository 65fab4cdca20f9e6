"""What ``pguard demo`` prints: what the database holds, and one sign-in for each role."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import func, select

from app.auth.models import Consumer, User
from app.demo.accounts import (
    CITY_REGULATOR,
    DEMO_PASSWORD,
    DEPARTMENT_OFFICER,
    INSURER,
    INSURER_NAME,
    OPERATOR,
    REGULATOR,
    STREET_OFFICER,
)
from app.demo.district import DISTRICT, phone_of, shop_username
from app.demo.options import DEFAULT_OPTIONS
from app.insurance.models import Claim, ClaimKind
from app.merchants.models import Merchant, MerchantStatus
from app.risk.models import Rating
from app.settings import get_settings
from app.supervision.models import Dispute
from escrow.models import Card

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.demo.options import Options


@dataclass(frozen=True)
class Summary:
    """What the database holds, for the printout."""

    merchants: int
    grades: dict[str, int]
    industries: int
    cards: int
    partly_used: int
    consumers: int
    complaints: int
    defaulted: str | None
    claim_fen: int | None
    claim_cards: int | None
    claim_status: str | None
    shop_name: str | None


@dataclass
class Outcome:
    """What ``load`` did: ``loaded``, ``present`` (loaded before), or ``skipped`` (not empty)."""

    status: Literal["loaded", "present", "skipped"]
    summary: Summary | None = None
    note: str = ""
    seconds: dict[str, float] = field(default_factory=dict)


async def summarise(session: AsyncSession) -> Summary:
    """Counts for the printout, read from the database."""
    grades = dict(
        (await session.execute(select(Rating.grade, func.count()).group_by(Rating.grade))).all()
    )
    claim = await session.scalar(select(Claim).where(Claim.kind == ClaimKind.DEFAULT).limit(1))
    defaulted = await session.scalar(
        select(Merchant.legal_name).where(Merchant.status == MerchantStatus.DEFAULTED).limit(1)
    )
    shop = await session.scalar(
        select(Merchant.legal_name)
        .join(User, User.merchant_id == Merchant.id)
        .where(User.username == shop_username(1))
    )
    return Summary(
        merchants=await _count(session, select(func.count()).select_from(Merchant)),
        grades={g: int(n) for g, n in sorted(grades.items())},
        industries=await _count(session, select(func.count(func.distinct(Merchant.industry)))),
        cards=await _count(session, select(func.count()).select_from(Card)),
        partly_used=await _count(
            session,
            select(func.count()).where(
                Card.units_remaining < Card.units_total, Card.units_remaining > 0
            ),
        ),
        consumers=await _count(session, select(func.count()).select_from(Consumer)),
        complaints=await _count(session, select(func.count()).select_from(Dispute)),
        defaulted=defaulted,
        claim_fen=claim.total_fen if claim else None,
        claim_cards=claim.cards if claim else None,
        claim_status=claim.status if claim else None,
        shop_name=shop,
    )


async def _count(session: AsyncSession, query: Select[Any]) -> int:
    return int(await session.scalar(query) or 0)


def _yuan(fen: int) -> str:
    yuan, cents = divmod(fen, 100)  # exact: fen are never divided as floats
    return f"¥{yuan:,}.{cents:02d}"


def sign_ins(outcome: Outcome, options: Options = DEFAULT_OPTIONS) -> list[str]:
    """The lines printed at the end: what is loaded, where, and one sign-in per role."""
    server = get_settings().server
    url = f"http://{server.host}:{server.port}/"
    s = outcome.summary
    lines = []
    if outcome.status == "skipped":
        return [f"demo not loaded: {outcome.note}"]
    if outcome.status == "present":
        lines.append("the demo district is already loaded; nothing was changed")
    else:
        lines.append(
            f"demo district loaded in {outcome.seconds.get('total', 0):.0f} s (seed {options.seed})"
        )
    if s is not None:
        grades = ", ".join(f"{g} {n}" for g, n in s.grades.items()) or "not rated"
        lines.append(
            f"  {s.merchants} merchants in {s.industries} industries (grades: {grades});"
            f" {s.cards:,} cards ({s.partly_used:,} partly used) held by {s.consumers:,}"
            f" consumers; {s.complaints} complaints"
        )
        if s.defaulted and s.claim_fen is not None:
            lines.append(
                f"  in default: {s.defaulted}; its claim of {_yuan(s.claim_fen)} over"
                f" {s.claim_cards} card{'' if s.claim_cards == 1 else 's'} is {s.claim_status} by"
                f" {INSURER_NAME}"
            )
    last_phone = phone_of(max(0, s.consumers - 1)) if s and s.consumers else phone_of(0)
    lines += [
        f"Prepaid Guard demo on {url}",
        f"  staff and merchants sign in at {url}login with the password {DEMO_PASSWORD}",
        f"    operator   {OPERATOR}",
        f"    regulator  {REGULATOR} ({DISTRICT}); {CITY_REGULATOR} sees the whole city",
        f"    insurer    {INSURER} ({INSURER_NAME})",
        (
            f"    department {DEPARTMENT_OFFICER} (上城区市场监督管理局);"
            f" {STREET_OFFICER} (湖滨街道, routes its merchants' cases)"
        ),
        f"    merchant   {shop_username(1)}"
        + (f" ({s.shop_name})" if s and s.shop_name else "")
        + (f"; every shop has one, up to {shop_username(s.merchants)}" if s else ""),
        f"  consumers sign in at {url}login/phone",
        f"    consumer   {phone_of(0)} (any of {phone_of(0)} to {last_phone})",
        "               sandbox SMS: shown on the sign-in page, kept in sandbox_sms, never logged",
    ]
    return lines
