"""A district's (or the city's) report for a month or a quarter: one :class:`Report`.

What it holds, for the merchants in reach:

* merchants by industry and grade (the grade each held at the report's moment);
* cards sold, money prepaid and paid back in the period; outstanding, custody held, insured
  cover, the insurer's exposure and the custody coverage ratio at its end;
* complaints received and resolved, the share resolved on time (办结率) and the median days
  to resolve, by industry;
* warnings raised, by rule, and where each stood at the end; measures taken, by kind;
  defaults declared, closures announced and completed, claims paid and the days to pay them;
* complaints and money owed month by month over twelve months (the cockpit's :func:`trend`);
* each figure beside the same period a year before.

The report stands at its *moment*: the period's end, or now for the period in progress. A
complaint is resolved when its dispute closed (confirmed by the consumer, or by her silence);
it was resolved on time when no step of it ever missed its deadline (the dispute worker
records an ``escalated`` step for every one missed). Days are counted between Shanghai
calendar days: filed to closed, and a claim's triggering to its payment.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import any_, exists, select, text

from app.arrays import Uuids, uuids
from app.cases.kpis import kpis
from app.clock import shanghai_midnight, today, utcnow
from app.closures.models import Closure
from app.exceptions import NotFound
from app.insurance.models import Claim
from app.merchants.models import Merchant
from app.reports.dashboard import industry_names
from app.reports.tables import (
    Cell,
    Column,
    Figure,
    Kind,
    Report,
    Table,
    change_bp,
    ratio_bp,
)
from app.risk import supervision
from app.risk.models import RatingChange
from app.risk.service import grades_of
from app.supervision import cockpit, directory
from app.supervision.dispute_rules import Step
from app.supervision.models import (
    Dispute,
    DisputeEvent,
    Measure,
    MeasureKind,
    WarningRule,
    WarningStatus,
)
from app.supervision.models import Warning as WarningRow
from scoring import GRADES

if TYPE_CHECKING:
    import uuid
    from collections.abc import Iterable, Sequence
    from datetime import date, datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal
    from app.reports.periods import Period

TREND_MONTHS = 12
GRADE_COLUMNS = (*GRADES, supervision.UNRATED)

_STOCKS = text("""
    WITH held AS (
        SELECT merchant_id, kind, sum(balance) AS fen
          FROM accounts
         WHERE merchant_id = ANY(:ids) AND kind IN ('custody', 'cards_cover', 'policy')
         GROUP BY merchant_id, kind
    ), moved AS (
        SELECT p.merchant_id, p.account AS kind, sum(p.amount) AS fen
          FROM postings p
          JOIN journal_entries e ON e.merchant_id = p.merchant_id AND e.seq = p.seq
         WHERE p.merchant_id = ANY(:ids) AND p.account IN ('custody', 'cards_cover', 'policy')
           AND e.created_at > :at
         GROUP BY p.merchant_id, p.account
    )
    SELECT h.merchant_id, h.kind, (h.fen - coalesce(m.fen, 0))::bigint
      FROM held h LEFT JOIN moved m ON m.merchant_id = h.merchant_id AND m.kind = h.kind
""")
"""Each merchant's custody, card cover and policy balances at ``:at``: today's balance less
what moved after it, as :func:`escrow.outstanding_at` reads them (entries at ``:at`` count)."""

_SALES = text("""
    SELECT e.merchant_id,
           count(*) FILTER (WHERE e.kind = 'purchase') AS cards,
           coalesce(-sum(p.amount) FILTER (WHERE e.kind = 'purchase'), 0)::bigint AS prepaid,
           coalesce(sum(p.amount) FILTER (WHERE e.kind <> 'purchase'), 0)::bigint AS paid_back
      FROM journal_entries e
      JOIN postings p
        ON p.merchant_id = e.merchant_id AND p.seq = e.seq AND p.account = 'consumers'
     WHERE e.merchant_id = ANY(:ids) AND e.created_at >= :start AND e.created_at < :end
     GROUP BY e.merchant_id
""")
"""Per merchant in ``[:start, :end)``: cards bought, what consumers paid for them, and what
was paid back to consumers in any way (refunds, compensations, defaults, claims)."""


async def reach_of(session: AsyncSession, me: Principal, district: str | None) -> str | None:
    """The district the report is of (``None``: the city).

    A district regulator's is her own; asking for another is "not found", which tells nothing
    of it. The city's regulators and the operator may name any district that has merchants.
    """
    asked = district or None
    if (own := directory.fixed_district(me)) is not None:
        if asked not in (None, own):
            raise NotFound(
                "report-district-not-found", fields={"district": "report-district-not-found"}
            )
        return own
    if asked is not None and asked not in await directory.districts(session, me):
        raise NotFound(
            "report-district-not-found", fields={"district": "report-district-not-found"}
        )
    return asked


@dataclass(frozen=True)
class _Shop:
    id: uuid.UUID
    district: str
    industry: str
    legal_name: str
    counted: bool
    """Approved by the report's moment: counted among the district's merchants."""


@dataclass
class _Sums:
    """What one merchant (or a group of them) did in a period and held at its end."""

    merchants: int = 0
    cards: int = 0
    prepaid: int = 0
    paid_back: int = 0
    custody: int = 0
    cover: int = 0
    exposure: int = 0
    received: int = 0
    resolved: int = 0
    on_time: int = 0
    days_to_close: list[int] = field(default_factory=list)

    def add(self, other: _Sums) -> None:
        for name in ("merchants", "cards", "prepaid", "paid_back", "custody", "cover"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("exposure", "received", "resolved", "on_time"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.days_to_close.extend(other.days_to_close)

    @property
    def outstanding(self) -> int:
        return self.custody + self.cover


@dataclass
class _Activity:
    """A period's activity in reach, per merchant and in the rows that need no merchant."""

    by_merchant: dict[uuid.UUID, _Sums]
    warnings: dict[str, Counter[str]]
    """Per rule: raised, and each status the warnings raised stood at by the moment."""
    measures: Counter[str]
    closures_announced: int
    closures_completed: int
    claims: list[tuple[uuid.UUID, str, date, date, int]]
    """Claims paid: merchant, kind, triggered day, paid day, fen."""

    def total(self) -> _Sums:
        whole = _Sums()
        for sums in self.by_merchant.values():
            whole.add(sums)
        return whole


def _median(values: Sequence[int]) -> float | None:
    return float(statistics.median(values)) if values else None


async def _shops(session: AsyncSession, district: str | None, moment: datetime) -> list[_Shop]:
    query = select(
        Merchant.id, Merchant.district, Merchant.industry, Merchant.legal_name, Merchant.approved_at
    ).where(Merchant.created_at <= moment)
    if district is not None:
        query = query.where(Merchant.district == district)
    rows = await session.execute(query.order_by(Merchant.legal_name, Merchant.id))
    return [
        _Shop(m_id, where, industry, name, approved is not None and approved <= moment)
        for m_id, where, industry, name, approved in rows.all()
    ]


async def _grades(
    session: AsyncSession, ids: Sequence[uuid.UUID], moment: datetime, now: datetime
) -> dict[uuid.UUID, str]:
    """Each merchant's grade at ``moment``: now, the current one; before, the grade history's."""
    if moment >= now:
        return await grades_of(session, ids)
    rows = await session.execute(
        select(RatingChange.merchant_id, RatingChange.to_grade)
        .where(RatingChange.merchant_id == any_(uuids(ids)), RatingChange.changed_at <= moment)
        .order_by(RatingChange.changed_at, RatingChange.id)
    )
    return {row[0]: row[1] for row in rows.all()}  # oldest first: the last change holds


async def _ledger(
    session: AsyncSession, ids: Sequence[uuid.UUID], start: datetime, moment: datetime
) -> dict[uuid.UUID, _Sums]:
    """Per merchant: balances at ``moment``, sales and money paid back since ``start``."""
    sums: dict[uuid.UUID, _Sums] = defaultdict(_Sums)
    array = Uuids.of(ids)
    for merchant_id, kind, fen in await session.execute(_STOCKS, {"ids": array, "at": moment}):
        if kind == "custody":
            sums[merchant_id].custody = int(fen)
        elif kind == "cards_cover":
            sums[merchant_id].cover = int(fen)
        else:
            sums[merchant_id].exposure = -int(fen)
    sales = await session.execute(_SALES, {"ids": array, "start": start, "end": moment})
    for merchant_id, cards, prepaid, paid_back in sales:
        sums[merchant_id].cards = int(cards)
        sums[merchant_id].prepaid = int(prepaid)
        sums[merchant_id].paid_back = int(paid_back)
    return sums


_HOTLINE = text("""
    SELECT t.merchant_id, t.received_at, c.resolved_at,
           EXISTS (SELECT 1 FROM case_tasks k WHERE k.case_id = c.id AND k.status = 'done'
                     AND k.done_at > k.deadline_at AND k.done_at <= :end) AS late
      FROM hotline_tickets t
      LEFT JOIN cases c ON c.ticket_id = t.ticket_id AND c.resolved_at <= :end
     WHERE t.merchant_id = ANY(:ids)
       AND ((t.received_at >= :start AND t.received_at < :end)
            OR (c.resolved_at >= :start AND c.resolved_at < :end))
""")
"""12345 tickets matched to the merchants: complaints too (``app.risk.complaints``), received
when the hotline took the call and resolved when their case was; late when a department
closed its task after its deadline."""


async def _complaints(
    session: AsyncSession,
    ids: Sequence[uuid.UUID],
    start: datetime,
    moment: datetime,
    sums: dict[uuid.UUID, _Sums],
) -> None:
    """Complaints received and resolved since ``start``, into each merchant's ``sums``."""
    late = exists().where(
        DisputeEvent.dispute_id == Dispute.id,
        DisputeEvent.step == Step.ESCALATED.value,
        DisputeEvent.at <= moment,
    )
    disputes = await session.execute(
        select(Dispute.merchant_id, Dispute.filed_at, Dispute.closed_at, late).where(
            Dispute.merchant_id == any_(uuids(ids)),
            ((Dispute.filed_at >= start) & (Dispute.filed_at < moment))
            | ((Dispute.closed_at >= start) & (Dispute.closed_at < moment)),
        )
    )
    found = [
        *disputes,
        *await session.execute(_HOTLINE, {"ids": Uuids.of(ids), "start": start, "end": moment}),
    ]
    for merchant_id, filed_at, closed_at, escalated in found:
        row = sums[merchant_id]
        if start <= filed_at < moment:
            row.received += 1
        if closed_at is not None and start <= closed_at < moment:
            row.resolved += 1
            row.on_time += 0 if escalated else 1
            row.days_to_close.append((today(closed_at) - today(filed_at)).days)


async def _warnings(
    session: AsyncSession, ids: Sequence[uuid.UUID], start: datetime, moment: datetime
) -> dict[str, Counter[str]]:
    """Per rule: the warnings raised since ``start``, and where each stood at ``moment``."""
    warnings: dict[str, Counter[str]] = defaultdict(Counter)
    raised = await session.execute(
        select(WarningRow.rule, WarningRow.acknowledged_at, WarningRow.closed_at).where(
            WarningRow.merchant_id == any_(uuids(ids)),
            WarningRow.raised_at >= start,
            WarningRow.raised_at < moment,
        )
    )
    for rule, acknowledged_at, closed_at in raised:
        if closed_at is not None and closed_at <= moment:
            status = WarningStatus.CLOSED
        elif acknowledged_at is not None and acknowledged_at <= moment:
            status = WarningStatus.ACKNOWLEDGED
        else:
            status = WarningStatus.OPEN
        warnings[rule]["raised"] += 1
        warnings[rule][status.value] += 1
    return dict(warnings)


async def _claims(
    session: AsyncSession, ids: Sequence[uuid.UUID], start: datetime, moment: datetime
) -> list[tuple[uuid.UUID, str, date, date, int]]:
    """Claims paid since ``start``: merchant, kind, triggered day, paid day, fen."""
    paid = await session.execute(
        select(Claim.merchant_id, Claim.kind, Claim.triggered_at, Claim.paid_at, Claim.total_fen)
        .where(
            Claim.merchant_id == any_(uuids(ids)),
            Claim.paid_at >= start,
            Claim.paid_at < moment,
        )
        .order_by(Claim.paid_at, Claim.id)
    )
    return [
        (merchant_id, kind, today(triggered_at), today(paid_at), int(fen))
        for merchant_id, kind, triggered_at, paid_at, fen in paid
        if paid_at is not None
    ]


async def _activity(
    session: AsyncSession, ids: Sequence[uuid.UUID], start: datetime, moment: datetime
) -> _Activity:
    """Everything the report counts for the merchants ``ids`` from ``start`` to ``moment``."""
    sums = await _ledger(session, ids, start, moment)
    await _complaints(session, ids, start, moment, sums)
    taken = await session.execute(
        select(Measure.kind).where(
            Measure.merchant_id == any_(uuids(ids)),
            Measure.taken_at >= start,
            Measure.taken_at < moment,
        )
    )
    closures = await session.execute(
        select(Closure.created_at, Closure.closed_at).where(Closure.merchant_id == any_(uuids(ids)))
    )
    announced = completed = 0
    for created_at, closed_at in closures:
        announced += start <= created_at < moment
        completed += closed_at is not None and start <= closed_at < moment
    return _Activity(
        by_merchant=dict(sums),
        warnings=await _warnings(session, ids, start, moment),
        measures=Counter(taken.scalars().all()),
        closures_announced=announced,
        closures_completed=completed,
        claims=await _claims(session, ids, start, moment),
    )


def _figures(
    shops: Sequence[_Shop], now: _Activity, before: _Activity, counted_before: int
) -> tuple[Figure, ...]:
    """The key figures, each beside the year before (a change for counts and money)."""

    def values(activity: _Activity, merchants: int) -> dict[str, tuple[Kind, int | float | None]]:
        whole = activity.total()
        paid = [fen for *_, fen in activity.claims]
        days = [(paid_on - triggered).days for _, _, triggered, paid_on, _ in activity.claims]
        return {
            "merchants": (Kind.COUNT, merchants),
            "cards_sold": (Kind.COUNT, whole.cards),
            "prepaid_fen": (Kind.FEN, whole.prepaid),
            "paid_back_fen": (Kind.FEN, whole.paid_back),
            "outstanding_fen": (Kind.FEN, whole.outstanding),
            "custody_fen": (Kind.FEN, whole.custody),
            "insured_fen": (Kind.FEN, whole.cover),
            "exposure_fen": (Kind.FEN, whole.exposure),
            "coverage_bp": (Kind.BP, ratio_bp(whole.custody, whole.outstanding)),
            "complaints_received": (Kind.COUNT, whole.received),
            "complaints_resolved": (Kind.COUNT, whole.resolved),
            "complaints_on_time": (Kind.COUNT, whole.on_time),
            "on_time_bp": (Kind.BP, ratio_bp(whole.on_time, whole.resolved)),
            "median_days_to_close": (Kind.DAYS, _median(whole.days_to_close)),
            "warnings_raised": (
                Kind.COUNT,
                sum(c["raised"] for c in activity.warnings.values()),
            ),
            "measures_taken": (Kind.COUNT, sum(activity.measures.values())),
            "defaults": (Kind.COUNT, activity.measures[MeasureKind.DECLARE_DEFAULT.value]),
            "closures_announced": (Kind.COUNT, activity.closures_announced),
            "closures_completed": (Kind.COUNT, activity.closures_completed),
            "claims_paid": (Kind.COUNT, len(paid)),
            "claims_paid_fen": (Kind.FEN, sum(paid)),
            "median_days_to_pay": (Kind.DAYS, _median(days)),
        }

    these = values(now, sum(s.counted for s in shops))
    earlier = values(before, counted_before)
    figures = []
    for key, (kind, value) in these.items():
        then = earlier[key][1]
        moved = change_bp(value, then) if kind in (Kind.COUNT, Kind.FEN) else None
        figures.append(Figure(key, kind, value, then, moved))
    return tuple(figures)


def _grouped(
    shops: Iterable[_Shop], activity: _Activity, key: str
) -> tuple[dict[str, _Sums], _Sums]:
    groups: dict[str, _Sums] = defaultdict(_Sums)
    for shop in shops:
        group = groups[getattr(shop, key)]
        group.merchants += shop.counted
        if (sums := activity.by_merchant.get(shop.id)) is not None:
            group.add(sums)
    whole = _Sums()
    for sums in groups.values():
        whole.add(sums)
    return dict(sorted(groups.items())), whole


_MONEY = (
    Column("merchants", Kind.COUNT),
    Column("cards_sold", Kind.COUNT),
    Column("prepaid_fen", Kind.FEN),
    Column("paid_back_fen", Kind.FEN),
    Column("outstanding_fen", Kind.FEN),
    Column("custody_fen", Kind.FEN),
    Column("insured_fen", Kind.FEN),
    Column("coverage_bp", Kind.BP),
)
_COMPLAINTS = (
    Column("complaints_received", Kind.COUNT),
    Column("complaints_resolved", Kind.COUNT),
    Column("complaints_on_time", Kind.COUNT),
    Column("on_time_bp", Kind.BP),
    Column("median_days_to_close", Kind.DAYS),
)


def _money_cells(s: _Sums) -> tuple[int | None, ...]:
    return (
        s.merchants,
        s.cards,
        s.prepaid,
        s.paid_back,
        s.outstanding,
        s.custody,
        s.cover,
        ratio_bp(s.custody, s.outstanding),
    )


def _complaint_cells(s: _Sums) -> tuple[int | float | None, ...]:
    return (
        s.received,
        s.resolved,
        s.on_time,
        ratio_bp(s.on_time, s.resolved),
        _median(s.days_to_close),
    )


def _by(shops: Sequence[_Shop], activity: _Activity, key: str, kind: Kind) -> list[Table]:
    """The money and complaints tables, one row per industry (or district)."""
    groups, whole = _grouped(shops, activity, key)
    first = Column(key, kind)
    money = Table(
        f"money_by_{key}",
        (first, *_MONEY),
        tuple((name, *_money_cells(s)) for name, s in groups.items()),
        (None, *_money_cells(whole)),
    )
    complaints = Table(
        f"complaints_by_{key}",
        (first, *_COMPLAINTS),
        tuple((name, *_complaint_cells(s)) for name, s in groups.items()),
        (None, *_complaint_cells(whole)),
    )
    return [money, complaints]


def _grade_table(shops: Sequence[_Shop], grades: dict[uuid.UUID, str]) -> Table:
    """Merchants by industry (rows) and grade (columns)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for shop in shops:
        if shop.counted:
            counts[shop.industry][grades.get(shop.id, supervision.UNRATED)] += 1
    rows: tuple[tuple[Cell, ...], ...] = tuple(
        (industry, *(c[g] for g in GRADE_COLUMNS), c.total())
        for industry, c in sorted(counts.items())
    )
    total = Counter[str]()
    for c in counts.values():
        total.update(c)
    return Table(
        "merchants_by_grade",
        (
            Column("industry", Kind.INDUSTRY),
            *(Column(f"grade_{g}", Kind.COUNT) for g in GRADE_COLUMNS),
            Column("merchants", Kind.COUNT),
        ),
        rows,
        (None, *(total[g] for g in GRADE_COLUMNS), total.total()),
    )


def _warning_table(activity: _Activity) -> Table:
    statuses = [s.value for s in WarningStatus]
    rules = [r.value for r in WarningRule if r.value in activity.warnings]
    rows = tuple(
        (rule, activity.warnings[rule]["raised"], *(activity.warnings[rule][s] for s in statuses))
        for rule in rules
    )
    return Table(
        "warnings",
        (
            Column("rule", Kind.CODE, "r_rule_"),
            Column("warnings_raised", Kind.COUNT),
            *(Column(f"warnings_{s}", Kind.COUNT) for s in statuses),
        ),
        rows,
        (None, *(sum(int(row[i] or 0) for row in rows) for i in range(1, 2 + len(statuses)))),
    )


def _measure_table(activity: _Activity) -> Table:
    rows = tuple(
        (kind.value, activity.measures[kind.value])
        for kind in MeasureKind
        if activity.measures[kind.value]
    )
    return Table(
        "measures",
        (Column("measure", Kind.CODE, "r_measure_"), Column("measures_taken", Kind.COUNT)),
        rows,
        (None, sum(activity.measures.values())),
    )


def _claim_table(shops: Sequence[_Shop], activity: _Activity) -> Table:
    names = {s.id: s.legal_name for s in shops}
    rows = tuple(
        (
            names.get(merchant_id, str(merchant_id)),
            kind,
            triggered.isoformat(),
            paid.isoformat(),
            (paid - triggered).days,
            fen,
        )
        for merchant_id, kind, triggered, paid, fen in activity.claims
    )
    days = [int(row[4] or 0) for row in rows]
    return Table(
        "claims_paid",
        (
            Column("merchant", Kind.TEXT),
            Column("claim_kind", Kind.CODE, "rp_claim_"),
            Column("triggered_on", Kind.DAY),
            Column("paid_on", Kind.DAY),
            Column("days_to_pay", Kind.DAYS),
            Column("claim_fen", Kind.FEN),
        ),
        rows,
        (None, None, None, None, _median(days), sum(int(row[5] or 0) for row in rows)),
    )


def trend_months(last: date, now: datetime) -> list[tuple[date, datetime]]:
    """The twelve months up to ``last``: each first day, and when it ended (at most now)."""
    firsts = [last]
    for _ in range(TREND_MONTHS - 1):
        firsts.append((firsts[-1] - timedelta(days=1)).replace(day=1))
    firsts.reverse()
    ends = [shanghai_midnight(f) for f in firsts[1:]]
    ends.append(shanghai_midnight((last + timedelta(days=32)).replace(day=1)))
    return [(first, min(end, now)) for first, end in zip(firsts, ends, strict=True)]


async def _trend_table(
    session: AsyncSession, district: str | None, period: Period, now: datetime
) -> Table:
    last = min(period.months()[-1], today(now).replace(day=1))
    months = await cockpit.trend(session, district, trend_months(last, now))
    owed = dict(months.outstanding_by_month)
    return Table(
        "trend",
        (
            Column("month", Kind.MONTH),
            Column("complaints_received", Kind.COUNT),
            Column("outstanding_fen", Kind.FEN),
        ),
        tuple((first.strftime("%Y-%m"), n, owed[first]) for first, n in months.complaints_by_month),
    )


async def _department_table(
    session: AsyncSession, district: str | None, start: datetime, moment: datetime
) -> Table:
    """Each department's and street office's cases in the period (``app.cases.kpis``)."""
    found = await kpis(session, district, start, moment)
    rows = tuple(
        (
            k.name_zh,
            k.kind,
            k.received,
            k.closed,
            k.on_time,
            None if k.on_time_share is None else round(k.on_time_share * 10_000),
            k.median_days,
            k.open_now,
        )
        for k in found
    )
    return Table(
        "departments",
        (
            Column("organisation", Kind.TEXT),
            Column("organisation_kind", Kind.CODE, "cs_kind_"),
            Column("cases_received", Kind.COUNT),
            Column("cases_closed", Kind.COUNT),
            Column("cases_on_time", Kind.COUNT),
            Column("cases_on_time_share", Kind.BP),
            Column("median_days_to_close", Kind.DAYS),
            Column("cases_open", Kind.COUNT),
        ),
        rows,
        (
            None,
            None,
            *(sum(int(row[i] or 0) for row in rows) for i in (2, 3, 4)),
            None,
            None,
            sum(int(row[7] or 0) for row in rows),
        ),
    )


async def build(
    session: AsyncSession, me: Principal, period: Period, district: str | None = None
) -> Report:
    """The report of ``period`` for ``me``'s reach (a district she may see, else the city)."""
    reach = await reach_of(session, me, district)
    now = utcnow()
    moment = min(period.end, now)
    shops = await _shops(session, reach, moment)
    ids = [s.id for s in shops]
    activity = await _activity(session, ids, period.start, moment)
    earlier = period.year_before()
    # a period still running is set against as much of the year before, not all of it
    earlier_end = min(earlier.end, earlier.start + (moment - period.start))
    before = await _activity(session, ids, earlier.start, earlier_end)
    earlier_shops = await _shops(session, reach, earlier_end)
    tables = [
        _grade_table(shops, await _grades(session, ids, moment, now)),
        *_by(shops, activity, "industry", Kind.INDUSTRY),
    ]
    if reach is None:
        tables += _by(shops, activity, "district", Kind.TEXT)
    tables += [
        _warning_table(activity),
        _measure_table(activity),
        _claim_table(shops, activity),
        await _department_table(session, reach, period.start, moment),
        await _trend_table(session, reach, period, now),
    ]
    return Report(
        period=period,
        district=reach,
        as_of=moment,
        figures=_figures(shops, activity, before, sum(s.counted for s in earlier_shops)),
        tables=tuple(tables),
        industries=await industry_names(session),
    )
