"""The simulated district, drawn from a seed: merchants with their fates, and consumers.

Pure data (nothing touches the database): the same seed and sizes give the same district, so
a run that breaks replays exactly. What happens day by day is drawn by the engine from the
same seed.

Fates, each with the day it plays out:

* ``steady``: sells, is complained about now and then, stays rated well;
* ``declining``: tax arrears, then court cases, then a dishonest-debtor listing (失信): the
  grade falls to E, sales wait for a regulator's review; sometimes declared in default;
* ``exit``: capital cut, equity transfer, new legal representative (the exit path), then
  deregistration filed and default: the run-and-vanish story the rules must catch;
* ``abnormal``: put on the abnormal operations list (经营异常) for a while.

Each merchant also has a way of paying what it owes consumers after refunds: ``prompt`` (pays
through the provider the day it owes), ``late`` (now and then), ``never`` (its next sales and
then its insurer pay).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from app.demo.catalogue import CATALOGUE
from app.demo.district import phone_of
from app.demo.names import GIVEN_NAMES, ID_REGIONS, SURNAMES, id_number
from app.merchants.uscc import CHARSET, check_character

Fate = Literal["steady", "declining", "exit", "abnormal"]
Payer = Literal["prompt", "late", "never"]
DISTRICT = "上城区"
INDUSTRIES = ("fitness", "education", "beauty", "catering", "car_wash", "laundry")


@dataclass(frozen=True)
class ProductPlan:
    """A registered card the merchant sells."""

    name: str
    kind: Literal["stored_value", "sessions"]
    price: int
    units: int


@dataclass(frozen=True)
class MerchantPlan:
    """One merchant of the district and its story."""

    number: int
    uscc: str
    legal_name: str
    industry: str
    custody_account: str
    products: tuple[ProductPlan, ...]
    fate: Fate
    payer: Payer
    sales_per_day: float
    events: dict[int, str] = field(default_factory=dict)
    """Day → what happens to it that day (``arrears``, ``court``, ``dishonest``, ``cut``,
    ``transfer``, ``representative``, ``deregister``, ``abnormal``, ``default``)."""

    @property
    def username(self) -> str:
        """The owner's sign-in."""
        return f"sim-shop-{self.number:03d}"


@dataclass(frozen=True)
class ConsumerPlan:
    """A consumer, with the real name and ID number a registered card needs."""

    phone: str
    real_name: str
    id_number: str


@dataclass(frozen=True)
class World:
    """Everything drawn before the first day."""

    seed: int
    days: int
    merchants: tuple[MerchantPlan, ...]
    consumers: tuple[ConsumerPlan, ...]


def _uscc(rng: random.Random) -> str:
    body = "9133" + "0102" + "".join(rng.choice(CHARSET[:10]) for _ in range(9))
    return body + check_character(body)


def _products(rng: random.Random, industry: str) -> tuple[ProductPlan, ...]:
    plans = []
    for spec in CATALOGUE[industry]:
        if spec.anonymous:
            continue
        price = spec.price
        if spec.kind == "stored_value":
            price = spec.units * (100 - rng.choice((0, 5, 10, 15))) // 100
        plans.append(ProductPlan(spec.name, spec.kind, price, spec.units))
    return tuple(plans[:3])


HORIZON = 400
"""Fates are drawn over this many days whatever the run's length, so that a shorter run is
the same district cut short (a broken day replays with ``--days`` up to it)."""
FIRST_STARTS = {1: 20, 2: 25, 3: 15}
"""The first three merchants' fates start early, so every run of a few months sees each."""


def _events(rng: random.Random, fate: Fate, days: int, start: int) -> dict[int, str]:
    """When each step of the merchant's fate happens (only the steps that fit the run)."""
    if fate == "steady":
        return {}
    if fate == "abnormal":
        return {start: "abnormal"}
    if fate == "declining":
        plan = {start: "arrears", start + 20: "court", start + 45: "dishonest"}
        if rng.random() < 0.6:  # noqa: PLR2004
            plan[start + 60] = "default"
        return {day: what for day, what in plan.items() if day < days}
    plan = {
        start: "cut",
        start + rng.randint(15, 40): "transfer",
        start + rng.randint(50, 90): "representative",
    }
    last = max(plan)
    plan[last + 10] = "deregister"
    plan[last + 25] = "default"
    return {day: what for day, what in plan.items() if day < days}


def draw(*, seed: int, days: int, merchants: int, consumers: int) -> World:
    """The district of ``seed``: ``merchants`` shops (a fifth with a bad fate) and people."""
    rng = random.Random(f"pguard-simulation:{seed}")  # noqa: S311 - a replayable draw
    shops = []
    for number in range(1, merchants + 1):
        fate: Fate = rng.choices(
            ("steady", "declining", "exit", "abnormal"), weights=(70, 12, 8, 10)
        )[0]
        if number == 1:  # every run has each fate at least once, in a fixed order
            fate = "exit"
        elif number == 2:  # noqa: PLR2004
            fate = "declining"
        elif number == 3:  # noqa: PLR2004
            fate = "abnormal"
        industry = INDUSTRIES[(number + seed) % len(INDUSTRIES)]
        shops.append(
            MerchantPlan(
                number=number,
                uscc=_uscc(rng),
                legal_name=f"杭州模拟{industry}第{number}号有限公司",
                industry=industry,
                custody_account="6228" + "".join(str(rng.randint(0, 9)) for _ in range(15)),
                products=_products(rng, industry),
                fate=fate,
                payer=rng.choices(("prompt", "late", "never"), weights=(40, 30, 30))[0],
                sales_per_day=rng.uniform(0.03, 0.1),
                events=_events(
                    rng, fate, days, FIRST_STARTS.get(number) or rng.randint(20, HORIZON // 2)
                ),
            )
        )
    people = []
    for index in range(consumers):
        born = 712_000 + rng.randint(0, 16_000)  # ordinal days: 1950s to 1990s
        people.append(
            ConsumerPlan(
                phone=phone_of(index),
                real_name=rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES),
                id_number=id_number(
                    rng.choice(ID_REGIONS), date.fromordinal(born), rng.randint(1, 999)
                ),
            )
        )
    return World(seed, days, tuple(shops), tuple(people))
