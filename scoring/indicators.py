"""Indicator records, as ingestion carries them, and the catalogue of what each source reports.

An :class:`Indicator` is one fact about one merchant (keyed by its unified social credit code,
never its name) from one source, known as of a date, with its provenance. The catalogue below
declares, per source, the kinds it carries, each kind's value type and its direction: ``+1``
means more of it is riskier, ``-1`` more of it is safer, ``0`` no declared direction
(categories). Booleans are facts that are either so or not (``True`` is the risky side).

===============  =========================  ========  ===  ========================================
source           kind                       type      dir  meaning
===============  =========================  ========  ===  ========================================
registration     status                     category   0   active / suspended / closing
registration     age_years                  number    -1   years since incorporation
registration     capital_change             number    -1   % change of registered capital (cuts < 0)
registration     abnormal_operations        bool      +1   on the 经营异常 list
registration     licence_revoked            bool      +1   licence revoked (hard override)
registration     deregistration_filed       bool      +1   deregistration filed (hard override)
tax              arrears_fen                number    +1   tax owed and overdue (欠税), in fen
tax              filing_gap_months          number    +1   consecutive months without a return
court            enforcement_cases          number    +1   open enforcement cases (被执行人)
court            dishonest_debtor           bool      +1   dishonest debtor 失信 (hard override)
credit           public_rating              category   0   public credit rating A / B / C / D
credit           penalties                  number    +1   administrative penalties, last 3 years
social_security  headcount                  number    -1   employees insured
social_security  contribution_gap_months    number    +1   consecutive months unpaid (社保断缴)
bank             inflow_trend_pct           number    -1   inflows, % change over 3 months
bank             frozen                     bool      +1   an account is frozen
complaints       count_30d                  number    +1   complaints and petitions, last 30 days
complaints       count_7d                   number    +1   complaints and petitions, last 7 days
sales            surge_pct                  number    +1   prepaid sales, % over the trailing mean
sales            max_discount_pct           number    +1   deepest card discount offered, %
sales            outstanding_to_revenue     number    +1   unredeemed prepaid balance / revenue
===============  =========================  ========  ===  ========================================

Some registration facts are events rather than states: an equity transfer, a change of legal
representative. They are kept with their dates (:data:`EVENTS`) and read by the hard stops
(:func:`scoring.features.exit_pattern`: capital cut, equity transfer and a new legal
representative within 180 days, the path before a merchant vanishes), not by the model:

===============  =========================  ========  ===  ========================================
registration     equity_transfer            bool      +1   an equity transfer was registered
registration     legal_representative_change bool     +1   the legal representative was changed
===============  =========================  ========  ===  ========================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from scoring.errors import BadData

if TYPE_CHECKING:
    from datetime import date

ValueType = Literal["number", "bool", "category"]
Value = float | str | bool


class Source(StrEnum):
    """Where an indicator comes from: seven public sources and the platform's own sales data."""

    REGISTRATION = "registration"
    TAX = "tax"
    COURT = "court"
    CREDIT = "credit"
    SOCIAL_SECURITY = "social_security"
    BANK = "bank"
    COMPLAINTS = "complaints"
    SALES = "sales"


@dataclass(frozen=True)
class Kind:
    """One kind of indicator a source carries: its value type and declared risk direction."""

    source: Source
    name: str
    type: ValueType
    direction: int
    categories: tuple[str, ...] = ()

    @property
    def feature(self) -> str:
        """The feature column this kind becomes: ``source_kind``."""
        return f"{self.source.value}_{self.name}"


CATALOGUE: tuple[Kind, ...] = (
    Kind(Source.REGISTRATION, "status", "category", 0, ("active", "suspended", "closing")),
    Kind(Source.REGISTRATION, "age_years", "number", -1),
    Kind(Source.REGISTRATION, "capital_change", "number", -1),
    Kind(Source.REGISTRATION, "abnormal_operations", "bool", +1),
    Kind(Source.REGISTRATION, "licence_revoked", "bool", +1),
    Kind(Source.REGISTRATION, "deregistration_filed", "bool", +1),
    Kind(Source.TAX, "arrears_fen", "number", +1),
    Kind(Source.TAX, "filing_gap_months", "number", +1),
    Kind(Source.COURT, "enforcement_cases", "number", +1),
    Kind(Source.COURT, "dishonest_debtor", "bool", +1),
    Kind(Source.CREDIT, "public_rating", "category", 0, ("A", "B", "C", "D")),
    Kind(Source.CREDIT, "penalties", "number", +1),
    Kind(Source.SOCIAL_SECURITY, "headcount", "number", -1),
    Kind(Source.SOCIAL_SECURITY, "contribution_gap_months", "number", +1),
    Kind(Source.BANK, "inflow_trend_pct", "number", -1),
    Kind(Source.BANK, "frozen", "bool", +1),
    Kind(Source.COMPLAINTS, "count_30d", "number", +1),
    Kind(Source.COMPLAINTS, "count_7d", "number", +1),
    Kind(Source.SALES, "surge_pct", "number", +1),
    Kind(Source.SALES, "max_discount_pct", "number", +1),
    Kind(Source.SALES, "outstanding_to_revenue", "number", +1),
)
"""Every kind of indicator the model reads, in feature-column order."""

EVENTS: tuple[Kind, ...] = (
    Kind(Source.REGISTRATION, "equity_transfer", "bool", +1),
    Kind(Source.REGISTRATION, "legal_representative_change", "bool", +1),
)
"""Dated events the hard stops read; not features, so a model's columns do not change."""

KINDS: dict[tuple[Source, str], Kind] = {(k.source, k.name): k for k in (*CATALOGUE, *EVENTS)}
"""Every kind a record may carry: the model's and the events."""


@dataclass(frozen=True)
class Indicator:
    """One fact about one merchant from one source, as of a date, with where it came from.

    The kind must be in the catalogue and the value of its type; anything else is refused
    (:class:`BadData`). The code's check character is ingestion's to validate. ``ref`` is the
    stored record's id (the app's database id), so that a rating's reasons can cite the very
    record; it names where the fact is kept, not the fact, so equality ignores it.
    """

    uscc: str
    source: Source
    kind: str
    value: Value
    as_of: date
    provenance: str
    ref: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        """Refuse a kind its source does not carry, or a value of the wrong type."""
        if not isinstance(self.source, Source):
            object.__setattr__(self, "source", _source(self.source))
        spec = KINDS.get((self.source, self.kind))
        if spec is None:
            carried = ", ".join(name for source, name in KINDS if source == self.source)
            raise BadData(
                f"source {self.source} has no kind {self.kind!r}; it carries {carried}",
                code="indicator-kind-unknown",
                source=str(self.source),
                kind=str(self.kind),
                kinds=carried,
            )
        problem = value_problem(spec, self.value)
        if problem:
            raise BadData(
                f"{spec.feature}: {problem}",
                code="indicator-value-wrong",
                feature=spec.feature,
                value=repr(self.value),
            )

    @property
    def spec(self) -> Kind:
        """The catalogue entry of this record's kind."""
        return KINDS[self.source, self.kind]


def _source(value: str) -> Source:
    try:
        return Source(value)
    except ValueError:
        known = ", ".join(s.value for s in Source)
        raise BadData(
            f"there is no source {value!r}; the sources are {known}",
            code="indicator-source-unknown",
            source=str(value),
            sources=known,
        ) from None


def value_problem(spec: Kind, value: object) -> str | None:
    """Why ``value`` cannot be a value of ``spec``, or ``None`` if it can."""
    if spec.type == "bool":
        return None if isinstance(value, bool) else f"expects true or false, not {value!r}"
    if spec.type == "category":
        if value in spec.categories:
            return None
        return f"expects one of {', '.join(spec.categories)}, not {value!r}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"expects a number, not {value!r}"
    return None if math.isfinite(value) else f"expects a finite number, not {value!r}"


def format_value(value: Value) -> str:
    """A value as written in a CSV cell: ``true``/``false``, the category, or the number."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
