"""What a simulation run knows: its world, services and clock, and its own books.

Its own books are what it has caused, counted apart from the ledger (each card's money owed
back, each shop's state): the checks (:mod:`app.simulation.checks`) hold the services to
them. The day's acts (:mod:`app.simulation.customers`, :mod:`app.simulation.merchants`,
:mod:`app.simulation.institutions`) read and keep them through a :class:`Run`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, NoReturn

import escrow
from app.auth.models import Role
from app.auth.principal import Principal
from app.clock import SHANGHAI, business_days_after, utcnow
from app.demo.sandbox import sandbox_provider
from app.security.pii import PiiCipher
from app.settings import get_settings
from app.simulation.checks import Checks

if TYPE_CHECKING:
    import uuid
    from collections.abc import Callable

    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from app.clock import ManualClock
    from app.simulation.world import MerchantPlan, World

START = date(2027, 1, 4)
"""The first simulated day (a Monday)."""
INSURER_ACK_DAYS = 1
INSURER_PAY_DAYS = 2
"""The insurer acknowledges a claim the day after it arrives and pays two days later."""


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

    @property
    def used_up(self) -> bool:
        """Every unit used: nothing left to use or to refund."""
        return self.units_used == self.units_total

    @property
    def outstanding(self) -> int:
        """What its own units say the card is worth at its paid price (0 once used up)."""
        return escrow.refundable(self.paid, self.units_total - self.units_used, self.units_total)


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


class Run:
    """One run's world, services and clock, its books, and what the day's acts share."""

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
        self.provider = sandbox_provider()
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

    def person(self, index: int) -> Principal:
        """The consumer of index ``index`` in the world."""
        return Principal(role=Role.CONSUMER, consumer_id=self.people[index])

    def refunded(self, card: SimCard, amount: int) -> None:
        """The service refunded the card ``amount``: it is closed, and that is owed back.

        A card is refunded once, for what its own units say. A used-up card has already left
        :attr:`open_cards` (nothing is left to use or to refund), but the ledger keeps it open
        at nothing outstanding, so a refund can still be decided on it (a dispute filed
        before its last use): that closes it for nothing.
        """
        if card.status != "open":
            self.broke(f"card {card.card_id} refunded again, after it was {card.status}")
        if amount != card.outstanding:
            self.broke(f"card {card.card_id} refunded {amount}, its units say {card.outstanding}")
        if card in self.open_cards:
            self.open_cards.remove(card)
        elif not card.used_up:
            self.broke(f"card {card.card_id} refunded, but the run had it neither open nor used up")
        card.status = "refunded"
        if amount:
            self.owe(card, amount)
        else:
            self.checks.moved(self.shops[card.shop - 1].merchant_id)  # closed by an entry

    def owe(self, card: SimCard, amount: int) -> None:
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

    def number_of(self, merchant_id: uuid.UUID) -> int:
        """Merchants in the order they were drawn: ids are random, a run must not be."""
        return next(s.plan.number for s in self.shops if s.merchant_id == merchant_id)

    def shop_of(self, uscc: str) -> Shop:
        """The shop with this unified social credit code."""
        return next(s for s in self.shops if s.plan.uscc == uscc)

    def at(self, moment: time) -> None:
        """Set the clock to ``moment`` of the simulated day."""
        day = START + timedelta(days=self.day)
        self.clock.set(datetime.combine(day, moment, SHANGHAI))

    def poisson(self, rate: float) -> int:
        """A Poisson draw of mean ``rate``, from the run's own replayable random numbers."""
        count, total = 0, self.rng.expovariate(rate) if rate > 0 else 2.0
        while total < 1.0:
            count += 1
            total += self.rng.expovariate(rate)
        return count

    def check(self, problems: list[str]) -> None:
        """Stop the run at the first broken check, naming the seed and the day."""
        if problems:
            raise SimulationBroke(self.world.seed, self.day, "; ".join(problems[:5]))

    def broke(self, problem: str) -> NoReturn:
        """Stop the run now, naming the seed and the day."""
        raise SimulationBroke(self.world.seed, self.day, problem)
