"""Which card products may be sold: the rules of DESIGN.md "Money and cards", as pure checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.merchants.models import Industry
    from app.settings import CardRules

DEFAULT_COOLING_OFF_DAYS = 7
"""Days after a purchase in which a card is refunded in full, where no industry says otherwise."""


def cooling_off_days(industry: Industry | None) -> int:
    """The cooling-off period a merchant's cards carry: its industry's, else the default."""
    return industry.cooling_off_days if industry is not None else DEFAULT_COOLING_OFF_DAYS


FORBIDDEN_CLAUSES = re.compile(
    r"概不退|不予退|不退款|不可退|不能退|恕不退|过期作废|逾期作废|过期不退|到期作废|余额清零|"
    r"no refunds?|non-?refundable|forfeit",
    re.IGNORECASE,
)
"""Clauses no product may carry: a consumer's balance is always refundable and never lapses."""


@dataclass(frozen=True)
class ProductDraft:
    """A product as a merchant proposes it."""

    name: str
    kind: str
    price: int
    units: int
    validity_days: int | None
    anonymous: bool
    terms: str
    no_refund: bool = False
    forfeit_on_expiry: bool = False


def product_problems(draft: ProductDraft, rules: CardRules) -> dict[str, str]:
    """Every rule the draft breaks, by field; empty when it may be sold."""
    problems: dict[str, str] = {}
    if draft.kind == "stored_value" and draft.price > draft.units:
        problems["price"] = "the price may not be above the card's face value"
    limit = rules.anonymous_limit if draft.anonymous else rules.registered_limit
    if draft.price > limit:
        kind = "an anonymous" if draft.anonymous else "a registered"
        problems["price"] = f"{kind} card may not be sold for more than {limit / 100:,.2f} yuan"
    if draft.kind == "stored_value" and draft.units > limit:
        problems["units"] = f"the face value may not be above {limit / 100:,.2f} yuan"
    if draft.anonymous:
        if draft.validity_days is None or draft.validity_days < rules.anonymous_min_validity_days:
            problems["validity_days"] = (
                f"an anonymous card must be valid for at least "
                f"{rules.anonymous_min_validity_days} days (3 years)"
            )
    elif draft.validity_days is not None:
        problems["validity_days"] = "a registered card does not expire; leave validity empty"
    if draft.no_refund:
        problems["no_refund"] = "a product may not exclude refunds"
    if draft.forfeit_on_expiry:
        problems["forfeit_on_expiry"] = "a balance may not be forfeited when a card expires"
    clause = FORBIDDEN_CLAUSES.search(draft.terms) or FORBIDDEN_CLAUSES.search(draft.name)
    if clause:
        problems["terms"] = (
            f"the terms say {clause.group(0)!r}: no product may refuse refunds or forfeit a balance"
        )
    return problems
