"""A seeded synthetic world of merchants, their indicator histories and their outcomes.

No real merchant outcomes are public, so the method is shown on data whose causes are known.
Same ``seed``, same merchants, records and outcomes, byte for byte.

The causal story
================

Time runs over 24 months from :data:`START`. Every merchant is drawn once as one of three
types, with a latent *distress* ``z`` in [0, 1]:

* **healthy** (80%): ``z`` mostly low (Beta(1.5, 8)). Noise only: an occasional promotion with a
  deep discount, a late tax return, a complaint now and then.
* **strained** (15%): ``z`` mostly high (Beta(5, 3)). The business is losing money.
* **runner** (5%): ``z`` ordinary (Beta(2, 5)); the owner means to sell as many prepaid cards as
  possible and vanish. Runners discount more deeply than others all along.

A merchant *defaults* (closes or vanishes owing its card holders) with probability
``0.02 + 0.55 z²`` (plus 0.04 when younger than a year); a runner vanishes with probability
0.75. A default falls on a day within the 12 months after the merchant's scoring date (a month
start between months 12 and 18), and the merchant's records stop there.

Distress shows in the records all along, and more strongly as the end approaches
(``c`` rises from 0 to 1 over the 12 months before a default):

* tax returns are missed (``filing_gap_months``) and arrears build (``arrears_fen``);
* social-security contributions lapse (``contribution_gap_months``) and headcount shrinks;
* bank inflows fall (``inflow_trend_pct``) and, late, accounts are frozen;
* enforcement cases are opened in court; with several, the merchant may be listed as a
  dishonest debtor (a hard override);
* the public credit rating drops and administrative penalties accrue;
* a strained merchant grabs cash: sales surge a little, discounts deepen;
* a few file for deregistration or lose their licence in the last months (mostly after
  their scoring date, where the point-in-time features must not see them).

A runner's end shows in its sales over the 6 months before it vanishes (``r`` rises from 0 to
1): a sales surge, discounts of 50-80%, and unredeemed prepaid balances far above revenue. Its
owners leave first: five months before, the registered capital is cut by 60%, then the shares
are transferred and a new legal representative registered (the exit path; the last two are
events the hard stops read, not model features).
Complaints rise late, for everyone, in the last one or two months (``c³``, ``r³``), so they
rarely help at the scoring date. Not every source covers every merchant: bank data is shared
by 60%, social security by 85%, tax by 95%, credit by 90%; the rest are missing, not zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import TYPE_CHECKING, Literal

import numpy as np

from scoring.errors import BadSettings
from scoring.indicators import Indicator, Source, Value

if TYPE_CHECKING:
    from numpy.random import Generator

START = date(2023, 1, 1)
"""First day of the synthetic history."""

MONTHS = 24
"""Length of the history, in months."""

OUTCOME_MONTHS = 12
"""The outcome is a default within this many months after the scoring date."""

MerchantType = Literal["healthy", "strained", "runner"]
TYPES: tuple[MerchantType, ...] = ("healthy", "strained", "runner")
TYPE_SHARES = (0.80, 0.15, 0.05)

COVERAGE = {
    Source.REGISTRATION: 1.0,
    Source.TAX: 0.95,
    Source.COURT: 1.0,
    Source.CREDIT: 0.90,
    Source.SOCIAL_SECURITY: 0.85,
    Source.BANK: 0.60,
    Source.COMPLAINTS: 1.0,
    Source.SALES: 1.0,
}
"""Share of merchants each source reports on."""

DAY = {
    Source.REGISTRATION: 5,
    Source.COURT: 10,
    Source.CREDIT: 12,
    Source.TAX: 15,
    Source.SOCIAL_SECURITY: 20,
    Source.BANK: 25,
    Source.COMPLAINTS: 28,
    Source.SALES: 28,
}
"""Day of the month each source's records are dated."""

DISTRICTS = ("330102", "330105", "330106", "330108", "330109", "330110")
"""Hangzhou district codes used as characters 3 to 8 of the synthetic codes."""

_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_character(first17: str) -> str:
    """GB 32100-2015 check character (the same algorithm as ``app.merchants.uscc``)."""
    total = sum(_CHARSET.index(ch) * w for ch, w in zip(first17, _WEIGHTS, strict=True))
    return _CHARSET[(31 - total % 31) % 31]


@dataclass(frozen=True)
class Merchant:
    """A synthetic merchant: its code, hidden type and distress, scoring date and outcome."""

    uscc: str
    type: MerchantType
    distress: float
    scoring_date: date
    default_date: date | None

    @property
    def defaulted(self) -> bool:
        """Defaulted within :data:`OUTCOME_MONTHS` after the scoring date."""
        return self.default_date is not None


@dataclass(frozen=True)
class Synthetic:
    """Merchants and their indicator records (grouped by merchant, in date order)."""

    seed: int
    merchants: tuple[Merchant, ...]
    records: dict[str, tuple[Indicator, ...]]

    @property
    def record_count(self) -> int:
        """All indicator records."""
        return sum(len(r) for r in self.records.values())

    @property
    def defaults(self) -> int:
        """Merchants that defaulted."""
        return sum(m.defaulted for m in self.merchants)


def generate(merchants: int, seed: int) -> Synthetic:
    """Draw ``merchants`` merchants with their histories and outcomes from ``seed``."""
    if merchants < 1:
        raise BadSettings(
            f"the number of merchants must be at least 1, not {merchants}",
            code="synth-merchants-too-few",
            merchants=merchants,
        )
    rng = np.random.default_rng(seed)
    codes: set[str] = set()
    drawn = []
    records = {}
    for _ in range(merchants):
        uscc = _uscc(rng, codes)
        merchant, history = _merchant(rng, uscc, seed)
        drawn.append(merchant)
        records[uscc] = tuple(sorted(history, key=lambda r: r.as_of))
    return Synthetic(seed, tuple(drawn), records)


def month_start(month: int) -> date:
    """First day of month ``month`` counted from :data:`START`."""
    years, index = divmod(START.month - 1 + month, 12)
    return date(START.year + years, index + 1, 1)


@cache
def _dated(source: Source, month: int) -> date:
    """The date of ``source``'s records for ``month``."""
    return month_start(month).replace(day=DAY[source])


def _uscc(rng: Generator, taken: set[str]) -> str:
    while True:
        head = "92" if rng.random() < 0.3 else "91"  # noqa: PLR2004 - 个体工商户 / 企业
        district = DISTRICTS[int(rng.integers(len(DISTRICTS)))]
        body = "".join(_CHARSET[int(i)] for i in rng.integers(0, len(_CHARSET), 9))
        first17 = head + district + body
        code = first17 + check_character(first17)
        if code not in taken:
            taken.add(code)
            return code


class _Recorder:
    """Collects one merchant's records, dated by source and month."""

    def __init__(self, uscc: str, seed: int) -> None:
        self.uscc = uscc
        self.provenance = f"synthetic:seed={seed}"
        self.records: list[Indicator] = []

    def add(self, source: Source, month: int, kind: str, value: Value) -> None:
        if isinstance(value, float):
            value = round(value, 2)
        as_of = _dated(source, month)
        self.records.append(
            Indicator(self.uscc, source, kind, value, as_of, f"{self.provenance}:{source}")
        )


def _merchant(rng: Generator, uscc: str, seed: int) -> tuple[Merchant, list[Indicator]]:
    kind: MerchantType = TYPES[int(rng.choice(len(TYPES), p=TYPE_SHARES))]
    distress = float(
        {"healthy": rng.beta(1.5, 8), "strained": rng.beta(5, 3), "runner": rng.beta(2, 5)}[kind]
    )
    age = float(rng.gamma(2.0, 2.5))
    scoring_month = int(rng.integers(12, 19))
    p_default = 0.75 if kind == "runner" else 0.02 + 0.55 * distress**2 + 0.04 * (age < 1)
    end: int | None = None
    default_date = None
    if rng.random() < p_default:
        end = scoring_month + int(rng.integers(0, OUTCOME_MONTHS))
        default_date = month_start(end) + timedelta(days=int(rng.integers(1, 28)))
    covered = {source: bool(rng.random() < share) for source, share in COVERAGE.items()}
    out = _Recorder(uscc, seed)
    _history(rng, out, kind, distress, age, end, covered)
    merchant = Merchant(uscc, kind, round(distress, 4), month_start(scoring_month), default_date)
    return merchant, out.records


@dataclass
class _State:
    """What carries over from month to month for one merchant."""

    tax_gap: int = 0
    ss_gap: int = 0
    cases: int = 0
    penalties: int = 0
    arrears: float = 0.0
    frozen: bool = False
    dishonest: bool = False


def _history(
    rng: Generator,
    out: _Recorder,
    kind: MerchantType,
    z: float,
    age: float,
    end: int | None,
    covered: dict[Source, bool],
) -> None:
    runner = kind == "runner"
    last = MONTHS if end is None else min(MONTHS, end)
    joined = int(rng.integers(0, 7))
    revenue = float(rng.lognormal(math.log(150_000), 0.6))
    staff = 1 + int(rng.poisson(8))
    state = _State()
    _registration_start(rng, out, age, z)
    for month in range(last):
        c = 0.0 if end is None or runner else min(max(1 - (end - month) / 12, 0.0), 1.0)
        r = 0.0 if end is None or not runner else min(max(1 - (end - month) / 6, 0.0), 1.0)
        _tax(rng, out, state, month, z, c, revenue, covered=covered[Source.TAX])
        _social_security(rng, out, state, month, z, c, staff, covered[Source.SOCIAL_SECURITY])
        _bank(rng, out, state, month, z, c, r, covered=covered[Source.BANK])
        _court_and_credit(rng, out, state, month, z, c, covered=covered[Source.CREDIT])
        count_30d = int(rng.poisson(0.3 + 8 * c**3 + 12 * r**3))
        count_7d = int(rng.binomial(count_30d, 0.25 + 0.5 * c))
        out.add(Source.COMPLAINTS, month, "count_30d", float(count_30d))
        out.add(Source.COMPLAINTS, month, "count_7d", float(count_7d))
        if month >= joined:
            _sales(rng, out, month, c, r, runner=runner)
        _registration_events(rng, out, month, age, z, end, kind, state.tax_gap)


def _tax(
    rng: Generator,
    out: _Recorder,
    state: _State,
    month: int,
    z: float,
    c: float,
    revenue: float,
    *,
    covered: bool,
) -> None:
    state.tax_gap = state.tax_gap + 1 if rng.random() < 0.02 + 0.25 * z + 0.55 * c else 0
    monthly_tax = revenue * (1 - 0.6 * c) * 100 * 0.03
    state.arrears = state.arrears * 0.5 + monthly_tax * state.tax_gap
    if rng.random() < 0.03 + 0.3 * z + 0.4 * c:
        state.arrears += monthly_tax * float(rng.gamma(1.0, 1 + 3 * c))
    if covered:
        out.add(Source.TAX, month, "filing_gap_months", float(state.tax_gap))
        out.add(Source.TAX, month, "arrears_fen", float(round(state.arrears)))


def _social_security(
    rng: Generator,
    out: _Recorder,
    state: _State,
    month: int,
    z: float,
    c: float,
    staff: int,
    covered: bool,  # noqa: FBT001
) -> None:
    state.ss_gap = state.ss_gap + 1 if rng.random() < 0.01 + 0.2 * z + 0.6 * c else 0
    if covered:
        headcount = max(0, round(staff * (1 - 0.5 * c) + rng.normal(0, 1)))
        out.add(Source.SOCIAL_SECURITY, month, "headcount", float(headcount))
        out.add(Source.SOCIAL_SECURITY, month, "contribution_gap_months", float(state.ss_gap))


def _bank(
    rng: Generator,
    out: _Recorder,
    state: _State,
    month: int,
    z: float,
    c: float,
    r: float,
    *,
    covered: bool,
) -> None:
    stays = state.frozen and rng.random() < 0.8  # noqa: PLR2004
    state.frozen = stays or bool(rng.random() < 0.002 + 0.02 * z + 0.2 * c)
    if covered:
        trend = rng.normal(0, 10) - 25 * z - 45 * c + 40 * r
        out.add(Source.BANK, month, "inflow_trend_pct", float(trend))
        out.add(Source.BANK, month, "frozen", state.frozen)


def _court_and_credit(
    rng: Generator,
    out: _Recorder,
    state: _State,
    month: int,
    z: float,
    c: float,
    *,
    covered: bool,
) -> None:
    if month % 3 == 0:
        state.cases = max(0, state.cases + int(rng.poisson(0.03 + 0.3 * z + 1.2 * c)))
        state.cases -= int(rng.binomial(state.cases, 0.3))
        listed = state.cases >= 2 and bool(rng.random() < 0.3)  # noqa: PLR2004
        state.dishonest = state.dishonest or listed
        out.add(Source.COURT, month, "enforcement_cases", float(state.cases))
        out.add(Source.COURT, month, "dishonest_debtor", state.dishonest)
    if month % 3 == 1:
        state.penalties += int(rng.poisson(0.02 + 0.2 * z + 0.5 * c))
        if covered:
            standing = z + 0.6 * c + rng.normal(0, 0.2)
            rating = "ABCD"[min(3, max(0, int(standing / 0.25)))]
            out.add(Source.CREDIT, month, "public_rating", rating)
            out.add(Source.CREDIT, month, "penalties", float(state.penalties))


def _sales(rng: Generator, out: _Recorder, month: int, c: float, r: float, *, runner: bool) -> None:
    promotion = 25.0 if rng.random() < 0.08 else 0.0  # noqa: PLR2004
    surge = rng.normal(0, 12) + 150 * r + 20 * c
    discount = rng.normal(15, 6) + promotion + 15 * c + (20 + 40 * r) * runner
    ratio = rng.lognormal(math.log(1.5), 0.4) * (1 + 4 * r + 1.5 * c)
    out.add(Source.SALES, month, "surge_pct", float(surge))
    out.add(Source.SALES, month, "max_discount_pct", float(min(max(discount, 0), 90)))
    out.add(Source.SALES, month, "outstanding_to_revenue", float(ratio))


def _registration_start(rng: Generator, out: _Recorder, age: float, z: float) -> None:
    out.add(Source.REGISTRATION, 0, "status", "active")
    out.add(Source.REGISTRATION, 0, "age_years", age)
    out.add(Source.REGISTRATION, 0, "capital_change", 0.0)
    out.add(Source.REGISTRATION, 0, "abnormal_operations", bool(rng.random() < 0.01 + 0.05 * z))
    out.add(Source.REGISTRATION, 0, "licence_revoked", False)  # noqa: FBT003
    out.add(Source.REGISTRATION, 0, "deregistration_filed", False)  # noqa: FBT003


def _registration_events(
    rng: Generator,
    out: _Recorder,
    month: int,
    age: float,
    z: float,
    end: int | None,
    kind: MerchantType,
    tax_gap: int,
) -> None:
    if month == 12:  # noqa: PLR2004 - the annual report
        out.add(Source.REGISTRATION, month, "age_years", age + 1)
        listed = tax_gap >= 3 or bool(rng.random() < 0.02 + 0.1 * z)  # noqa: PLR2004
        out.add(Source.REGISTRATION, month, "abnormal_operations", listed)
    if month > 0 and rng.random() < (0.004 + 0.02 * z):
        change = rng.normal(-40, 20) if z > 0.5 else rng.normal(30, 20)  # noqa: PLR2004
        out.add(Source.REGISTRATION, month, "capital_change", float(change))
    if end is None:
        return
    if kind == "runner":
        # The owners leave before the shop does: capital cut, the shares sold, a new legal
        # representative, in the months before it vanishes (the exit path the hard stops see).
        steps = {
            end - 5: ("capital_change", -60.0),
            end - 4: ("equity_transfer", True),
            end - 3: ("legal_representative_change", True),
        }
        if month in steps:
            kind_name, value = steps[month]
            out.add(Source.REGISTRATION, month, kind_name, value)
        return
    if month == end - 1 and rng.random() < 0.3:  # noqa: PLR2004
        out.add(Source.REGISTRATION, month, "status", "closing")
        out.add(Source.REGISTRATION, month, "deregistration_filed", True)  # noqa: FBT003
    if month == end - 2 and rng.random() < 0.05:  # noqa: PLR2004
        out.add(Source.REGISTRATION, month, "status", "suspended")
        out.add(Source.REGISTRATION, month, "licence_revoked", True)  # noqa: FBT003
