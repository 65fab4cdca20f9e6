"""The regulator's list of merchants by grade, within the caller's reach."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import nulls_last, or_, select

from app.auth.models import Role
from app.exceptions import Invalid
from app.merchants.models import Merchant
from app.risk.models import Rating
from scoring import COLOURS, GRADES

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal

UNRATED = "NR"
"""Shown instead of a grade until a model has rated the merchant."""
UNRATED_COLOUR = "#9e9e9e"


def colour(grade: str) -> str:
    """The grade's colour, green (A) to red (E); grey when not rated."""
    return COLOURS.get(grade, UNRATED_COLOUR)


def check_grades(grades: Sequence[str]) -> list[str]:
    """The grade filter, refusing anything that is not A to E or NR."""
    wanted = [g.strip().upper() for g in grades]
    bad = [g for g in wanted if g not in (*GRADES, UNRATED)]
    if bad:
        raise Invalid("grade-unknown", fields={"grade": "grade-choices"}, grades=", ".join(bad))
    return wanted


def reach(me: Principal, district: str | None) -> str | None:
    """The district filter the caller may use: a district regulator only ever sees its own."""
    if me.role is Role.REGULATOR and me.district is not None:
        if district is not None and district != me.district:
            raise Invalid(
                "district-outside-reach",
                fields={"district": "district-not-yours"},
                own=me.district,
                asked=district,
            )
        return me.district
    return district


async def rated_merchants(
    session: AsyncSession,
    me: Principal,
    *,
    grades: Sequence[str],
    district: str | None,
    industry: str | None,
    limit: int,
    offset: int,
) -> Sequence[tuple[Merchant, Rating | None]]:
    """Merchants with their ratings, worst grade first, within the caller's reach."""
    query = select(Merchant, Rating).outerjoin(Rating, Rating.merchant_id == Merchant.id)
    if (where := reach(me, district)) is not None:
        query = query.where(Merchant.district == where)
    if industry:
        query = query.where(Merchant.industry == industry)
    if grades:
        rated = Rating.grade.in_([g for g in grades if g != UNRATED])
        query = query.where(
            or_(rated, Rating.merchant_id.is_(None)) if UNRATED in grades else rated
        )
    # Worst grade first (a hard override floors a grade whatever the probability), then the
    # probability within a grade; merchants not yet rated come last.
    query = query.order_by(
        nulls_last(Rating.grade.desc()), nulls_last(Rating.probability.desc()), Merchant.uscc
    )
    rows = await session.execute(query.limit(limit).offset(offset))
    return [(m, r) for m, r in rows.all()]
