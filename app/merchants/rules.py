"""Which card products may be sold: the rules of DESIGN.md "Money and cards", as pure checks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
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


KINDS = ("stored_value", "sessions")
"""Stored value counts face value in fen; sessions count uses."""
MAX_NAME = 200
MAX_TERMS = 5000
MAX_VALIDITY_DAYS = 100 * 365


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


@dataclass
class ProductProblems:
    """Every rule a draft breaks: field -> error code, and the parameters their words need."""

    fields: dict[str, str] = field(default_factory=dict)
    params: dict[str, object] = field(default_factory=dict)

    def add(self, name: str, code: str, **params: object) -> None:
        """Field ``name`` breaks rule ``code`` (a later rule on the same field says it instead)."""
        self.fields[name] = code
        self.params.update(params)


def product_problems(draft: ProductDraft, rules: CardRules) -> ProductProblems:
    """Every rule the draft breaks, by field; no ``fields`` when it may be sold."""
    problems = ProductProblems()
    _name_and_kind(draft, problems)
    _money(draft, rules, problems)
    _validity(draft, rules, problems)
    _terms(draft, problems)
    return problems


def _name_and_kind(draft: ProductDraft, problems: ProductProblems) -> None:
    name = draft.name.strip()
    if not name:
        problems.add("name", "merchant-field-required")
    elif len(name) > MAX_NAME:
        problems.add("name", "product-name-too-long", name_max=MAX_NAME)
    if draft.kind not in KINDS:
        problems.add("kind", "product-kind-unknown")


def _money(draft: ProductDraft, rules: CardRules, problems: ProductProblems) -> None:
    """Price and face value: positive, the price within the face, both within the limit."""
    stored = draft.kind == "stored_value"
    limit = rules.anonymous_limit if draft.anonymous else rules.registered_limit
    if draft.price <= 0:
        problems.add("price", "product-price-not-positive")
    elif stored and draft.price > draft.units:
        problems.add("price", "product-price-above-face")
    if draft.price > limit:
        problems.add(
            "price",
            "product-price-above-anonymous-limit"
            if draft.anonymous
            else "product-price-above-registered-limit",
            limit_fen=limit,
        )
    if draft.units <= 0:
        problems.add("units", "product-units-not-positive")
    elif stored and draft.units > limit:
        problems.add("units", "product-face-above-limit", limit_fen=limit)


def _validity(draft: ProductDraft, rules: CardRules, problems: ProductProblems) -> None:
    """An anonymous card lasts at least the minimum; a registered one never expires."""
    days = draft.validity_days
    if days is not None and not 0 < days <= MAX_VALIDITY_DAYS:
        problems.add(
            "validity_days", "product-validity-out-of-range", validity_max=MAX_VALIDITY_DAYS
        )
    elif draft.anonymous:
        if days is None or days < rules.anonymous_min_validity_days:
            problems.add(
                "validity_days",
                "product-anonymous-validity-too-short",
                validity_min=rules.anonymous_min_validity_days,
            )
    elif days is not None:
        problems.add("validity_days", "product-registered-never-expires")


def _terms(draft: ProductDraft, problems: ProductProblems) -> None:
    """No clause may refuse refunds or forfeit a balance, in the terms or the name."""
    if draft.no_refund:
        problems.add("no_refund", "product-excludes-refunds")
    if draft.forfeit_on_expiry:
        problems.add("forfeit_on_expiry", "product-forfeits-balance")
    clause = FORBIDDEN_CLAUSES.search(draft.terms) or FORBIDDEN_CLAUSES.search(draft.name)
    if len(draft.terms) > MAX_TERMS:
        problems.add("terms", "product-terms-too-long", terms_max=MAX_TERMS)
    elif clause:
        problems.add("terms", "product-forbidden-clause", clause=clause.group(0))
