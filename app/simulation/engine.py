"""A simulated district living day by day against the real services and a real PostgreSQL.

The clock is a :class:`~app.clock.ManualClock`: each simulated day starts at 09:00 Shanghai
time, people act through the same use cases the API and the pages call (ordering and paying
through the sandbox provider's signed notifications, showing one-time codes, asking for
refunds, complaining; merchants answering; the regulator deciding and taking measures; the
insurer acknowledging and paying claims; bureaus sending records; the custody bank sending
statements, some of them short or partial), and in the evening the workers run (re-rating,
the payables' deadline, dispute escalation). Then the day is checked (:mod:`app.simulation
.checks`); the first broken check stops the run with the seed and the day, which replay it.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

import escrow
from app.auth.admin import create_staff
from app.auth.models import Consumer, Role, User
from app.auth.principal import Principal
from app.auth.service import PHONE_FIELD, principal_of_user
from app.cards import service as cards
from app.cards.models import Order
from app.clock import SHANGHAI, ManualClock, business_days_after, today, utcnow
from app.custody.service import import_statement
from app.exceptions import AppError
from app.insurance import service as insurance
from app.insurance.models import Claim, ClaimStatus
from app.ledger import escrow_ledger
from app.merchants import blocks
from app.merchants import service as merchants
from app.merchants.rules import ProductDraft
from app.outbox.service import create_insurer
from app.payables import service as payables
from app.payments.notifications import apply_notification
from app.payments.sandbox import SandboxProvider
from app.qrcodes.service import keyring
from app.risk import ingest
from app.risk.service import add_model, rerate_all
from app.risk.worker import drain_once
from app.security.pii import PiiCipher
from app.settings import get_settings
from app.simulation.checks import Checks, Expect
from app.supervision import disputes, measures
from app.supervision.disputes import escalate_overdue
from app.supervision.models import WarningRule

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.demo.onboarding import TERMS, Protection, onboard
from app.simulation.world import DISTRICT, MerchantPlan, World

START = date(2027, 1, 4)
"""The first simulated day (a Monday)."""
PASSWORD = "simulated-district-2027"  # noqa: S105 - accounts of a throw-away database
INSURER_ACK_DAYS = 1
INSURER_PAY_DAYS = 2
"""The insurer acknowledges a claim the day after it arrives and pays two days later."""
NIGHTLY_EVERY = 7
"""The nightly re-rating of every merchant, run once a simulated week to keep runs short
(the live re-rating runs every evening)."""
STATEMENT_EVERY = 7
PROGRESS_EVERY = 50
USE_CHANCE = 0.02
"""Each open card is used on a given day with this chance."""
SESSIONS_AT_MOST = 100
"""A card of at most this many units counts sessions (others count fen of face value)."""


class SimulationBroke(Exception):
    """A check failed: the seed and the day replay it exactly."""

    def __init__(self, seed: int, day: int, problem: str) -> None:
        super().__init__(f"day {day} (seed {seed}): {problem}")
        self.seed = seed
        self.day = day
        self.problem = problem


@dataclass
class SimCard:
    """A card as the simulation knows it, independently of the ledger."""

    card_id: uuid.UUID
    shop: int
    person: int
    paid: int
    units_total: int
    units_used: int = 0
    bought_day: int = 0
    status: str = "open"
    owed_back: int = 0
    """Everything the consumer must get back after refunds, compensations or a default."""
    whole_by: date | None = None
    """The day by which all of ``owed_back`` must have reached the consumer."""


@dataclass
class Shop:
    """A merchant in the run."""

    plan: MerchantPlan
    merchant_id: uuid.UUID
    owner: Principal
    counter: tuple[str, str, str]
    products: list[tuple[uuid.UUID, int, int]]
    """(product id, price, units)."""
    status: str = "active"


@dataclass
class Summary:
    """What a run did, for the printout."""

    seed: int
    days: int = 0
    merchants: int = 0
    consumers: int = 0
    operations: dict[str, int] = field(default_factory=dict)
    refused_sales: int = 0
    refunds_by_path: dict[str, int] = field(default_factory=dict)
    grade_changes: int = 0
    warnings: dict[str, int] = field(default_factory=dict)
    checks: int = 0
    entries: int = 0
    seconds: float = 0.0

    def count(self, what: str, n: int = 1) -> None:
        """Count ``n`` operations of a kind."""
        self.operations[what] = self.operations.get(what, 0) + n


class District:
    """One run: the world, the services, the clock, and the simulation's own books."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        world: World,
        clock: ManualClock,
        *,
        say: Callable[[str], None],
    ) -> None:
        self.sessions = sessions
        self.world = world
        self.clock = clock
        self.say = say
        self.rng = random.Random(f"pguard-simulation-days:{world.seed}")  # noqa: S311 - a replayable draw
        self.cipher = PiiCipher.from_master_key()
        self.provider = SandboxProvider()
        self.shops: list[Shop] = []
        self.people: list[uuid.UUID] = []
        self.cards: list[SimCard] = []
        self.open_cards: list[SimCard] = []
        self.pending_requests: list[tuple[int, uuid.UUID, SimCard]] = []
        self.open_disputes: list[tuple[int, uuid.UUID, SimCard, str]] = []
        self.owing: set[uuid.UUID] = set()
        """Merchants that may owe consumers after refunds (they may have paid by netting)."""
        self.summary = Summary(seed=world.seed)
        self.checks = Checks(sessions)
        self.day = 0
        self.regulator = Principal(role=Role.REGULATOR)
        self.insurer = Principal(role=Role.INSURER)

    # -- the run -------------------------------------------------------------------------

    async def setup(self, model: bytes) -> None:
        """Day 0 morning: staff, insurer, consumers, the live model, every merchant onboard."""
        self._at(time(8))
        async with self.sessions() as session, session.begin():
            insurer, _ = await create_insurer(session, self.cipher, name="模拟保险公司")
            for username, role, extra in (
                ("sim-regulator", Role.REGULATOR, {"district": "上城区"}),
                ("sim-insurer", Role.INSURER, {"insurer_id": insurer.id}),
            ):
                await create_staff(
                    session,
                    username=username,
                    password=PASSWORD,
                    role=role,
                    organisation=username,
                    **extra,
                )
            for person in self.world.consumers:
                session.add(
                    Consumer(
                        phone_hash=self.cipher.lookup_hash(person.phone, field=PHONE_FIELD),
                        phone_enc=self.cipher.encrypt(person.phone, field=PHONE_FIELD),
                        real_name_enc=self.cipher.encrypt(person.real_name, field="real_name"),
                        id_number_enc=self.cipher.encrypt(person.id_number, field="id_number"),
                        id_number_hash=self.cipher.lookup_hash(person.id_number, field="id_number"),
                    )
                )
            await keyring(session, signing=True)
            await add_model(session, model, activate=True, by=None)
            await session.flush()
            self.regulator = principal_of_user(await self._user(session, "sim-regulator"))
            self.insurer = principal_of_user(await self._user(session, "sim-insurer"))
            hashes = [
                self.cipher.lookup_hash(p.phone, field=PHONE_FIELD) for p in self.world.consumers
            ]
            found = dict(
                (
                    await session.execute(
                        select(Consumer.phone_hash, Consumer.id).where(
                            Consumer.phone_hash.in_(hashes)
                        )
                    )
                ).all()
            )
            self.people = [found[h] for h in hashes]
        for plan in self.world.merchants:
            async with self.sessions() as session, session.begin():
                self.shops.append(await self._onboard(session, plan))
        self.summary.merchants = len(self.shops)
        self.summary.consumers = len(self.people)

    async def run(self) -> Summary:
        """Every day of the world, checked after each; raises :class:`SimulationBroke`."""
        started = datetime.now(UTC)
        for day in range(self.world.days):
            self.day = day
            await self.live_one_day()
            self.summary.days = day + 1
            if (day + 1) % PROGRESS_EVERY == 0:
                seconds = (datetime.now(UTC) - started).total_seconds()
                self.say(
                    f"day {day + 1}: {self.summary.operations.get('sales', 0):,} sales,"
                    f" {len(self.open_cards):,} cards open, {self.checks.count:,} checks passed"
                    f" ({seconds:.0f} s)"
                )
        self.summary.seconds = (datetime.now(UTC) - started).total_seconds()
        report = await self.checks.verify_all()
        self._raise(report)
        self.summary.entries = self.checks.entries
        self.summary.refunds_by_path = dict(self.checks.settled)
        self.summary.checks = self.checks.count
        self.summary.grade_changes, self.summary.warnings = await self.checks.tallies()
        return self.summary

    async def live_one_day(self) -> None:
        """Morning to night of one day, then its checks."""
        day = self.day
        self._at(time(9))
        await self._records()
        await self._insurer_work()
        await self._answers()
        self._at(time(11))
        await self._sales()
        self._at(time(14))
        await self._uses()
        await self._refunds()
        await self._complaints()
        await self._merchants_pay()
        self._at(time(16))
        if day % STATEMENT_EVERY == STATEMENT_EVERY - 1:
            await self._statement()
        await self._regulator_work()
        self._at(time(20))
        await self._workers()
        if day % NIGHTLY_EVERY == NIGHTLY_EVERY - 1:
            self._at(time(23))
            await rerate_all(self.sessions, cause="nightly re-rating")
            self.summary.count("nightly re-ratings")
        self._raise(await self.checks.end_of_day(day, today()))

    # -- people and merchants ------------------------------------------------------------

    async def _onboard(self, session: AsyncSession, plan: MerchantPlan) -> Shop:
        done = await onboard(
            session,
            self.cipher,
            merchants.Registration(
                uscc=plan.uscc,
                legal_name=plan.legal_name,
                industry=plan.industry,
                district=DISTRICT,
                address=f"杭州市上城区模拟路{plan.number}号",
                owner_username=plan.username,
                owner_password=PASSWORD,
            ),
            regulator=self.regulator,
            protection=Protection(
                "模拟银行",
                plan.custody_account,
                f"SIM-{self.world.seed}-{plan.number:04d}",
                10**10,
                self.insurer,
            ),
            products=[
                ProductDraft(
                    name=spec.name,
                    kind=spec.kind,
                    price=spec.price,
                    units=spec.units,
                    validity_days=None,
                    anonymous=False,
                    terms=TERMS,
                )
                for spec in plan.products
            ],
        )
        self.checks.expect_rated(done.merchant_id)
        self.summary.count("onboardings")
        prices = [(spec.price, spec.units) for spec in plan.products]
        products = [(pid, *price) for pid, price in zip(done.products, prices, strict=True)]
        return Shop(plan, done.merchant_id, done.owner, done.counter, products)

    def _person(self, index: int) -> Principal:
        return Principal(role=Role.CONSUMER, consumer_id=self.people[index])

    async def _sales(self) -> None:
        for shop in self.shops:
            if shop.status != "active":
                continue
            count = self._poisson(shop.plan.sales_per_day)
            for _ in range(count):
                await self._sell(shop)

    async def _sell(self, shop: Shop) -> None:
        person = self.rng.randrange(len(self.people))
        product_id, price, units = self.rng.choice(shop.products)
        merchant_id, kid, signature = shop.counter
        try:
            async with self.sessions() as session, session.begin():
                made = await cards.create_order(
                    session,
                    self._person(person),
                    cards.OrderRequest(merchant_id, kid, signature, product_id),
                    f"sim-{uuid.UUID(int=self.rng.getrandbits(128))}",
                    self.provider,
                    self.cipher,
                )
                order_id, provider_order_id = made.order.id, made.order.provider_order_id
        except AppError:  # held for review, blocked, or stopped: the counter says so
            self.summary.refused_sales += 1
            return
        headers, body = self.provider.notification(provider_order_id, price)
        event = self.provider.verify_notification(headers, body)
        async with self.sessions() as session, session.begin():
            outcome = await apply_notification(session, event)
            order = await session.get(Order, order_id)
            card_id = order.card_id if order else None
        if outcome != "issued" or card_id is None:
            raise SimulationBroke(self.world.seed, self.day, f"a paid order gave {outcome}")
        card = SimCard(card_id, shop.plan.number, person, price, units, bought_day=self.day)
        self.cards.append(card)
        self.open_cards.append(card)
        self.checks.sold(shop.merchant_id)
        self.summary.count("sales")

    async def _uses(self) -> None:
        for card in list(self.open_cards):
            if card.status != "open" or self.rng.random() > USE_CHANCE:
                continue
            shop = self.shops[card.shop - 1]
            if shop.status not in ("active", "held"):
                continue
            left = card.units_total - card.units_used
            if card.units_total <= SESSIONS_AT_MOST:  # a few sessions at a time
                units = min(left, self.rng.randint(1, 3))
            else:  # a fifth to a half of the face value, or what is left
                units = min(left, self.rng.randint(card.units_total // 5, card.units_total // 2))
            async with self.sessions() as session, session.begin():
                holder = await cards.holder_for(
                    session, self._person(card.person), card_id=card.card_id
                )
                code = await cards.issue_redemption_code(session, holder, units)
                await cards.redeem(
                    session,
                    shop.owner,
                    token=code.token,
                    digits=None,
                    units=units,
                    idempotency_key=f"sim-use-{uuid.UUID(int=self.rng.getrandbits(128))}",
                )
            card.units_used += units
            if card.units_used == card.units_total:
                self.open_cards.remove(card)  # used up: nothing left to use or refund
            self.checks.used(card, shop.merchant_id)
            self.summary.count("redemptions")

    async def _refunds(self) -> None:
        for card in list(self.open_cards):
            if card.status != "open":
                continue
            shop = self.shops[card.shop - 1]
            if shop.status == "defaulted":
                continue
            fresh = self.day - card.bought_day <= 3 and card.units_used == 0  # noqa: PLR2004
            if (fresh and self.rng.random() < 0.02) or self.rng.random() < 0.001:  # noqa: PLR2004
                await self._ask_refund(card)

    async def _ask_refund(self, card: SimCard) -> None:
        try:
            async with self.sessions() as session, session.begin():
                holder = await cards.holder_for(
                    session, self._person(card.person), card_id=card.card_id, lock=True
                )
                outcome = await cards.request_refund(
                    session, holder, "不想要了", f"sim-refund-{card.card_id}-{self.day}"
                )
        except AppError:  # a request for this card is already waiting for the merchant
            self.summary.count("refund requests refused at once")
            return
        if outcome.refund is not None:
            self._refunded(card, outcome.refund.refunded)
            self.summary.count("cooling-off refunds")
        elif outcome.request is not None:
            self.pending_requests.append((self.day, outcome.request.id, card))
            self.summary.count("refund requests")

    def _refunded(self, card: SimCard, amount: int) -> None:
        card.status = "refunded"
        self._owe(card, amount)
        self.open_cards.remove(card)

    def _owe(self, card: SimCard, amount: int) -> None:
        """The consumer must get ``amount`` more back.

        By the payable's deadline, plus the insurer's acknowledgement and payment if the
        merchant does not pay.
        """
        merchant_id = self.shops[card.shop - 1].merchant_id
        self.checks.moved(merchant_id)
        self.owing.add(merchant_id)
        card.owed_back += amount
        due = business_days_after(utcnow(), get_settings().cards.payable_business_days)
        whole_by = due.astimezone(SHANGHAI).date() + timedelta(
            days=INSURER_ACK_DAYS + INSURER_PAY_DAYS
        )
        card.whole_by = max(card.whole_by or whole_by, whole_by)
        self.checks.owed(card)

    async def _answers(self) -> None:
        """Merchants answer yesterday's refund requests and complaints."""
        for asked, request_id, card in list(self.pending_requests):
            if asked >= self.day:
                continue
            self.pending_requests.remove((asked, request_id, card))
            shop = self.shops[card.shop - 1]
            if shop.status == "defaulted":
                continue
            accept = self.rng.random() < 0.7  # noqa: PLR2004
            async with self.sessions() as session, session.begin():
                balance = await escrow_ledger(session).card(shop.merchant_id, card.card_id)
                await cards.answer_refund(
                    session,
                    shop.owner,
                    request_id,
                    accept=accept,
                    answer="同意退款" if accept else "卡已使用过半，按合同不退",
                )
            if accept:
                self._refunded(card, balance.outstanding)
                self.summary.count("accepted refund requests")
            else:
                self.summary.count("refused refund requests")
        for filed, dispute_id, card, stage in list(self.open_disputes):
            if filed >= self.day:
                continue
            shop = self.shops[card.shop - 1]
            self.open_disputes.remove((filed, dispute_id, card, stage))
            if stage == "filed" and shop.status != "defaulted":
                async with self.sessions() as session, session.begin():
                    await disputes.answer(session, shop.owner, dispute_id, "我们会妥善处理")
                self.open_disputes.append((self.day, dispute_id, card, "answered"))
            elif stage == "answered":
                await self._decide(dispute_id, card, shop)

    async def _decide(self, dispute_id: uuid.UUID, card: SimCard, shop: Shop) -> None:
        roll = self.rng.random()
        if card.status != "open" or shop.status == "defaulted" or roll < 0.3:  # noqa: PLR2004
            ruling = disputes.Ruling(disputes.Decision.REJECT, "证据不足")
        elif roll < 0.55:  # noqa: PLR2004
            ruling = disputes.Ruling(disputes.Decision.REFUND, "商家未履约，退还余额")
        else:
            amount = self.rng.randint(1, max(1, card.paid // 10))
            ruling = disputes.Ruling(disputes.Decision.PARTIAL, "部分补偿", amount_fen=amount)
        async with self.sessions() as session, session.begin():
            before = await escrow_ledger(session).card(shop.merchant_id, card.card_id)
            await disputes.decide(session, self.regulator, dispute_id, ruling)
            await disputes.confirm(
                session, disputes.ConsumerSide.of(self._person(card.person)), dispute_id
            )
        if ruling.decision is disputes.Decision.REFUND:
            self._refunded(card, before.outstanding)
        elif ruling.decision is disputes.Decision.PARTIAL and ruling.amount_fen:
            self._owe(card, ruling.amount_fen)
        self.summary.count(f"dispute decisions ({ruling.decision.value})")

    async def _complaints(self) -> None:
        disputing = {card.card_id for _, _, card, _ in self.open_disputes}
        for card in self.open_cards:
            shop = self.shops[card.shop - 1]
            if shop.status == "defaulted" or card.card_id in disputing:
                continue  # one open complaint per card
            rate = 0.0008 if shop.plan.fate == "steady" else 0.004
            if self.rng.random() > rate:
                continue
            async with self.sessions() as session, session.begin():
                holder = await cards.holder_for(
                    session, self._person(card.person), card_id=card.card_id, lock=True
                )
                filed = await disputes.file_complaint(
                    session,
                    holder,
                    disputes.Complaint(
                        kind=disputes.DisputeKind("quality"),
                        text="服务缩水，多次预约不到",
                        amount_asked=min(card.paid, 10_000),
                    ),
                )
            self.open_disputes.append((self.day, filed.view.dispute.id, card, "filed"))
            self.checks.news(shop.merchant_id)
            self.summary.count("complaints")

    async def _merchants_pay(self) -> None:
        """Merchants that pay their refund debts themselves, through the provider."""
        for shop in self.shops:
            chance = {"prompt": 0.8, "late": 0.15, "never": 0.0}[shop.plan.payer]
            if shop.merchant_id not in self.owing or shop.status == "defaulted":
                continue
            if self.rng.random() >= chance:
                continue
            self.owing.discard(shop.merchant_id)
            try:
                async with self.sessions() as session, session.begin():
                    started = await payables.start_payment(
                        session,
                        shop.owner,
                        self.provider,
                        f"sim-pay-{uuid.UUID(int=self.rng.getrandbits(128))}",
                    )
                    provider_order_id, amount = (
                        started.payment.provider_order_id,
                        started.payment.amount,
                    )
            except AppError:
                continue  # owes nothing now
            headers, body = self.provider.notification(provider_order_id, amount)
            event = self.provider.verify_notification(headers, body)
            async with self.sessions() as session, session.begin():
                await apply_notification(session, event)
            self.checks.moved(shop.merchant_id)
            self.summary.count("merchant payments of refunds")

    # -- bureaus, bank, regulator, insurer ---------------------------------------------

    async def _records(self) -> None:
        """Each merchant's monthly records, and the steps of its fate, dated yesterday."""
        rows: list[ingest.Row] = []
        yesterday = today() - timedelta(days=1)
        for shop in self.shops:
            plan = shop.plan
            if self.day % 30 == plan.number % 30:
                rows += self._monthly(plan, yesterday)
            event = plan.events.get(self.day)
            if event is not None:
                rows += await self._fate(shop, event, yesterday)
        if not rows:
            return
        numbered = [
            ingest.Row(i, r.uscc, r.source, r.kind, r.value, r.as_of, r.provenance)
            for i, r in enumerate(rows, start=1)
        ]
        async with self.sessions() as session, session.begin():
            await ingest.import_rows(
                session,
                numbered,
                channel="api",
                origin="simulation",
                digest=f"sim-{self.world.seed}-{self.day}".encode(),
                source=None,
                on_error="refuse",
                imported_by=None,
            )
        for row in rows:
            self.checks.news(self._shop_of(str(row.uscc)).merchant_id)
        self.summary.count("indicator records", len(rows))

    def _number(self, merchant_id: uuid.UUID) -> int:
        """Merchants in the order they were drawn: ids are random, a run must not be."""
        return next(s.plan.number for s in self.shops if s.merchant_id == merchant_id)

    def _shop_of(self, uscc: str) -> Shop:
        return next(s for s in self.shops if s.plan.uscc == uscc)

    def _monthly(self, plan: MerchantPlan, day: date) -> list[ingest.Row]:
        troubled = any(d <= self.day for d in plan.events)
        return [
            _row(plan, "registration", "age_years", day, value=3 + self.day // 365),
            _row(plan, "tax", "filing_gap_months", day, value=2 if troubled else 0),
            _row(plan, "social_security", "headcount", day, value=4 if troubled else 12),
            _row(plan, "court", "dishonest_debtor", day, value=False)
            if "dishonest" not in plan.events.values() or not troubled
            else _row(plan, "court", "enforcement_cases", day, value=3),
        ]

    async def _fate(self, shop: Shop, event: str, day: date) -> list[ingest.Row]:
        plan = shop.plan
        if event == "default":
            await self._declare_default(shop)
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
            self.checks.expect(Expect(shop.merchant_id, expected, self.day, event))
        if event in ("dishonest", "deregister"):
            self.checks.expect_grade(shop.merchant_id, "E")
            if shop.status == "active":
                shop.status = "held"  # E: no new sales until the regulator reviews
        return rows

    async def _declare_default(self, shop: Shop) -> None:
        if shop.status == "defaulted":
            return
        async with self.sessions() as session, session.begin():
            await measures.declare_default(
                session, self.regulator, shop.merchant_id, reason="经核实停止经营，依法认定违约"
            )
        shop.status = "defaulted"
        for card in [c for c in self.open_cards if c.shop == shop.plan.number]:
            outstanding = escrow.refundable(
                card.paid, card.units_total - card.units_used, card.units_total
            )
            card.status = "defaulted"
            self.open_cards.remove(card)
            if outstanding:
                self._owe(card, outstanding)
        self.summary.count("defaults")

    async def _statement(self) -> None:
        """The custody bank's statement of the week: sometimes short, sometimes partial."""
        end = today()
        start = end - timedelta(days=STATEMENT_EVERY - 1)
        ids = [s.merchant_id for s in self.shops]
        async with self.sessions() as session:
            moves = await escrow.custody_movements(session, ids, start, end)
        if not moves:
            return
        account = {s.merchant_id: s.plan.custody_account for s in self.shops}
        listed = set(ids)
        lost: escrow.Movement | None = None
        roll = self.rng.random()
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
            lost = self.rng.choice(losable)
        elif roll < 0.35:  # noqa: PLR2004 - the bank sent half of the accounts
            listed = set(self.rng.sample(ids, max(1, len(ids) // 2)))
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
        async with self.sessions() as session, session.begin():
            report, _ = await import_statement(
                session, self.cipher, data, filename=f"sim-{end}.csv", imported_by=None
            )
        blocked = set(report["shortfall"])
        if short is not None:
            self.checks.expect(Expect(short, WarningRule.CUSTODY_SHORTFALL, self.day, "short"))
        wrong = blocked - ({str(short)} if short else set())
        if wrong:
            raise SimulationBroke(
                self.world.seed, self.day, f"a statement found shortfalls it should not: {wrong}"
            )
        self.summary.count("custody statements")

    async def _regulator_work(self) -> None:
        """Blocks and holds are reviewed: lifted together, except for merchants going under."""
        async with self.sessions() as session:
            held = await blocks.active(session, [s.merchant_id for s in self.shops])
        doomed = {
            s.merchant_id
            for s in self.shops
            if "default" in s.plan.events.values() or "deregister" in s.plan.events.values()
        }
        lift = sorted(
            (m for m, found in held.items() if m not in doomed and found),
            key=self._number,
        )
        if lift and self.day % 3 == 0:
            async with self.sessions() as session, session.begin():
                await measures.lift_sales_blocks(
                    session, self.regulator, lift, reason="复核完毕，恢复售卡"
                )
            for shop in self.shops:
                if shop.merchant_id in lift and shop.status == "held":
                    shop.status = "active"
            self.summary.count("blocks lifted", len(lift))
        for shop in self.shops:
            if shop.status == "active" and shop.merchant_id in held and shop.merchant_id in doomed:
                shop.status = "held"

    async def _insurer_work(self) -> None:
        async with self.sessions() as session:
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
            async with self.sessions() as session, session.begin():
                if claim.status == ClaimStatus.TRIGGERED and waited >= INSURER_ACK_DAYS - 1:
                    await insurance.acknowledge(session, self.insurer, claim.id)
                    self.summary.count("claims acknowledged")
                elif claim.status == ClaimStatus.ACKNOWLEDGED and waited >= INSURER_PAY_DAYS - 1:
                    await insurance.pay(
                        session, self.insurer, claim.id, payment_ref=f"SIM-PAY-{claim.id.hex[:8]}"
                    )
                    self.summary.count("claims paid")

    async def _workers(self) -> None:
        while await drain_once(self.sessions):
            self.summary.count("re-rating passes")
        await payables.claim_overdue(self.sessions, utcnow())
        async with self.sessions() as session, session.begin():
            await escalate_overdue(session, utcnow())

    # -- helpers ---------------------------------------------------------------------------

    def _at(self, moment: time) -> None:
        day = START + timedelta(days=self.day)
        self.clock.set(datetime.combine(day, moment, SHANGHAI))

    def _poisson(self, rate: float) -> int:
        count, total = 0, self.rng.expovariate(rate) if rate > 0 else 2.0
        while total < 1.0:
            count += 1
            total += self.rng.expovariate(rate)
        return count

    def _raise(self, problems: list[str]) -> None:
        if problems:
            raise SimulationBroke(self.world.seed, self.day, "; ".join(problems[:5]))

    @staticmethod
    async def _user(session: AsyncSession, username: str) -> User:
        user = await session.scalar(select(User).where(User.username == username))
        if user is None:  # pragma: no cover - made just before
            raise LookupError(username)
        return user


def _row(plan: MerchantPlan, source: str, kind: str, day: date, *, value: Any) -> ingest.Row:  # noqa: ANN401
    return ingest.Row(0, plan.uscc, source, kind, value, day.isoformat(), "simulated bureau")
