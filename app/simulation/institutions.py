"""What the district's institutions do: bureaus, the custody bank, regulator, insurer, workers.

Bureaus send records, the bank its statements, the regulator reviews holds and declares
defaults, the insurer acknowledges and pays claims, and in the evening the workers run.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

import escrow
from app.clock import today, utcnow
from app.custody.service import import_statement
from app.insurance import service as insurance
from app.insurance.models import Claim, ClaimStatus
from app.merchants import blocks
from app.payables import service as payables
from app.risk import ingest
from app.risk.worker import drain_once
from app.simulation.checks import Expect
from app.simulation.state import INSURER_ACK_DAYS, INSURER_PAY_DAYS, SimulationBroke
from app.supervision import measures
from app.supervision.disputes import escalate_overdue
from app.supervision.models import WarningRule

if TYPE_CHECKING:
    import uuid

    from app.simulation.state import Run, Shop
    from app.simulation.world import MerchantPlan

STATEMENT_EVERY = 7
"""The custody bank sends a statement once a simulated week, covering its days."""


async def records(district: Run) -> None:
    """Each merchant's monthly records, and the steps of its fate, dated yesterday."""
    rows: list[ingest.Row] = []
    yesterday = today() - timedelta(days=1)
    for shop in district.shops:
        plan = shop.plan
        if district.day % 30 == plan.number % 30:
            rows += _monthly(district, plan, yesterday)
        event = plan.events.get(district.day)
        if event is not None:
            rows += await _fate(district, shop, event, yesterday)
    if not rows:
        return
    numbered = [
        ingest.Row(i, r.uscc, r.source, r.kind, r.value, r.as_of, r.provenance)
        for i, r in enumerate(rows, start=1)
    ]
    async with district.sessions() as session, session.begin():
        await ingest.import_rows(
            session,
            numbered,
            channel="api",
            origin="simulation",
            digest=f"sim-{district.world.seed}-{district.day}".encode(),
            source=None,
            on_error="refuse",
            imported_by=None,
        )
    for row in rows:
        district.checks.news(district.shop_of(str(row.uscc)).merchant_id)
    district.summary.count("indicator records", len(rows))


def _monthly(district: Run, plan: MerchantPlan, day: date) -> list[ingest.Row]:
    troubled = any(d <= district.day for d in plan.events)
    return [
        _row(plan, "registration", "age_years", day, value=3 + district.day // 365),
        _row(plan, "tax", "filing_gap_months", day, value=2 if troubled else 0),
        _row(plan, "social_security", "headcount", day, value=4 if troubled else 12),
        _row(plan, "court", "dishonest_debtor", day, value=False)
        if "dishonest" not in plan.events.values() or not troubled
        else _row(plan, "court", "enforcement_cases", day, value=3),
    ]


async def _fate(district: Run, shop: Shop, event: str, day: date) -> list[ingest.Row]:
    plan = shop.plan
    if event == "default":
        await _declare_default(district, shop)
        return []
    rows = {
        "arrears": [_row(plan, "tax", "arrears_fen", day, value=8_000_000)],
        "court": [_row(plan, "court", "enforcement_cases", day, value=3)],
        "dishonest": [_row(plan, "court", "dishonest_debtor", day, value=True)],
        "abnormal": [_row(plan, "registration", "abnormal_operations", day, value=True)],
        "cut": [_row(plan, "registration", "capital_change", day, value=-70)],
        "transfer": [_row(plan, "registration", "equity_transfer", day, value=True)],
        "representative": [
            _row(plan, "registration", "legal_representative_change", day, value=True)
        ],
        "deregister": [_row(plan, "registration", "deregistration_filed", day, value=True)],
    }[event]
    expected = {
        "dishonest": WarningRule.HARD_OVERRIDE,
        "abnormal": WarningRule.HARD_OVERRIDE,
        "representative": WarningRule.EXIT_PATTERN,
        "deregister": WarningRule.HARD_OVERRIDE,
    }.get(event)
    if expected is not None:
        district.checks.expect(Expect(shop.merchant_id, expected, district.day, event))
    if event in ("dishonest", "deregister"):
        district.checks.expect_grade(shop.merchant_id, "E")
        if shop.status == "active":
            shop.status = "held"  # E: no new sales until the regulator reviews
    return rows


async def _declare_default(district: Run, shop: Shop) -> None:
    if shop.status == "defaulted":
        return
    async with district.sessions() as session, session.begin():
        await measures.declare_default(
            session, district.regulator, shop.merchant_id, reason="经核实停止经营，依法认定违约"
        )
    shop.status = "defaulted"
    # every card the ledger still has open, used-up ones (at nothing outstanding) included
    for card in [c for c in district.cards if c.shop == shop.plan.number and c.status == "open"]:
        card.status = "defaulted"
        if card in district.open_cards:
            district.open_cards.remove(card)
        if card.outstanding:
            district.owe(card, card.outstanding)
    district.summary.count("defaults")


async def statement(district: Run) -> None:
    """The custody bank's statement of the week: sometimes short, sometimes partial."""
    end = today()
    start = end - timedelta(days=STATEMENT_EVERY - 1)
    ids = [s.merchant_id for s in district.shops]
    async with district.sessions() as session:
        found = await escrow.custody_movements(session, ids, start, end)
    if not found:
        return
    # The ledger orders a day's movements by merchant id, drawn anew by every run: the draws
    # below take them by merchant number (a stable sort keeps each merchant's entries in
    # order), so that a seed replays the same statements.
    number = {s.merchant_id: s.plan.number for s in district.shops}
    moves = sorted(found, key=lambda m: (m.day, number[m.merchant_id]))
    account = {s.merchant_id: s.plan.custody_account for s in district.shops}
    listed = set(ids)
    lost: escrow.Movement | None = None
    roll = district.rng.random()
    lines_of: dict[uuid.UUID, int] = {}
    on_day: dict[date, int] = {}
    for move in moves:
        lines_of[move.merchant_id] = lines_of.get(move.merchant_id, 0) + 1
        on_day[move.day] = on_day.get(move.day, 0) + 1
    # One deposit never arrived: of a merchant with other lines on the statement (one it
    # says nothing about is not judged by it), on a day with other lines (the statement
    # covers the days its lines are dated).
    losable = [
        m for m in moves if m.amount > 0 and lines_of[m.merchant_id] > 1 and on_day[m.day] > 1
    ]
    if roll < 0.15 and losable:  # noqa: PLR2004
        lost = district.rng.choice(losable)
    elif roll < 0.35:  # noqa: PLR2004 - the bank sent half of the accounts
        listed = set(district.rng.sample(ids, max(1, len(ids) // 2)))
    short = lost.merchant_id if lost else None
    lines = ["date,account,reference,amount"]
    for move in moves:
        if move.merchant_id not in listed or move == lost:
            continue
        yuan, fen = divmod(abs(move.amount), 100)
        sign = "-" if move.amount < 0 else ""
        lines.append(
            f"{move.day.isoformat()},{account[move.merchant_id]},{move.reference},"
            f"{sign}{yuan}.{fen:02d}"
        )
    if len(lines) == 1:
        return  # the accounts sent had no movements: no statement that week
    data = ("\n".join(lines) + "\n").encode()
    async with district.sessions() as session, session.begin():
        report, _ = await import_statement(
            session, district.cipher, data, filename=f"sim-{end}.csv", imported_by=None
        )
    blocked = set(report["shortfall"])
    if short is not None:
        district.checks.expect(Expect(short, WarningRule.CUSTODY_SHORTFALL, district.day, "short"))
    wrong = blocked - ({str(short)} if short else set())
    if wrong:
        problem = f"a statement found shortfalls it should not: {wrong}"
        raise SimulationBroke(district.world.seed, district.day, problem)
    district.summary.count("custody statements")


async def regulator_work(district: Run) -> None:
    """Blocks and holds are reviewed: lifted together, except for merchants going under."""
    async with district.sessions() as session:
        held = await blocks.active(session, [s.merchant_id for s in district.shops])
    doomed = {
        s.merchant_id
        for s in district.shops
        if "default" in s.plan.events.values() or "deregister" in s.plan.events.values()
    }
    lift = sorted(
        (m for m, found in held.items() if m not in doomed and found),
        key=district.number_of,
    )
    if lift and district.day % 3 == 0:
        async with district.sessions() as session, session.begin():
            await measures.lift_sales_blocks(
                session, district.regulator, lift, reason="复核完毕，恢复售卡"
            )
        for shop in district.shops:
            if shop.merchant_id in lift and shop.status == "held":
                shop.status = "active"
        district.summary.count("blocks lifted", len(lift))
    for shop in district.shops:
        if shop.status == "active" and shop.merchant_id in held and shop.merchant_id in doomed:
            shop.status = "held"


async def insurer_work(district: Run) -> None:
    """The insurer acknowledges each claim a day after it arrives and pays it two days later."""
    async with district.sessions() as session:
        claims = (
            await session.scalars(
                select(Claim).where(
                    Claim.status.in_([ClaimStatus.TRIGGERED, ClaimStatus.ACKNOWLEDGED])
                )
            )
        ).all()
    now = utcnow()
    for claim in claims:
        waited = (now - (claim.acknowledged_at or claim.triggered_at)).days
        async with district.sessions() as session, session.begin():
            if claim.status == ClaimStatus.TRIGGERED and waited >= INSURER_ACK_DAYS - 1:
                await insurance.acknowledge(session, district.insurer, claim.id)
                district.summary.count("claims acknowledged")
            elif claim.status == ClaimStatus.ACKNOWLEDGED and waited >= INSURER_PAY_DAYS - 1:
                await insurance.pay(
                    session, district.insurer, claim.id, payment_ref=f"SIM-PAY-{claim.id.hex[:8]}"
                )
                district.summary.count("claims paid")


async def workers(district: Run) -> None:
    """The evening's workers: re-rating, the payables' deadline, dispute escalation."""
    while await drain_once(district.sessions):
        district.summary.count("re-rating passes")
    await payables.claim_overdue(district.sessions, utcnow())
    async with district.sessions() as session, session.begin():
        await escalate_overdue(session, utcnow())


def _row(plan: MerchantPlan, source: str, kind: str, day: date, *, value: Any) -> ingest.Row:  # noqa: ANN401
    return ingest.Row(0, plan.uscc, source, kind, value, day.isoformat(), "simulated bureau")
