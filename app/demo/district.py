"""The demo district, drawn from a seed: merchants, products, people, sales, use, complaints.

Pure data: nothing here touches the database, and the same seed, sizes and day give the same
district. :mod:`app.demo.loader` turns it into rows through the product's own services; the
products are :mod:`app.demo.catalogue`'s, the names :mod:`app.demo.names`'.

The merchants are drawn from the synthetic world of :mod:`scoring.synth`, so each keeps its
unified social credit code, its hidden type (healthy, strained or runner) and its indicator
history; only the names, industries, addresses and products are made up here. A district is
mostly healthy merchants, about a fifth strained ones, and one or two runners (who discount
deeply and mean to vanish). One runner in the main district is *the vanishing merchant*: its
history runs up to last month, its customers complain in a burst, and the regulator declares
it in default. Every other history ends last month too, cut at a point of the merchant's own
story (a strained merchant that will fail is shown some months before the end), then moved
in time as a whole so that it ends before today.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Literal

import numpy as np

from app.demo.catalogue import STORED, products_for
from app.demo.names import (
    GIVEN_NAMES,
    ID_REGIONS,
    ROADS,
    SURNAMES,
    TRADE_NAMES,
    business_name,
    id_number,
)
from scoring.synth import MONTHS, START, generate

if TYPE_CHECKING:
    from numpy.random import Generator

    from app.demo.catalogue import ProductSpec
    from scoring.indicators import Indicator
    from scoring.synth import Merchant, Synthetic

DISTRICT = "上城区"
"""The district the demo is about; its regulator is ``regulator@shangcheng``."""
OTHER_DISTRICTS = ("西湖区", "拱墅区")
"""A few merchants of the city elsewhere (seen by the city-level regulator)."""
INDUSTRIES = (
    "fitness",
    "education",
    "beauty",
    "catering",
    "car_wash",
    "laundry",
    "retail",
    "other",
)
"""The eight industries the schema seeds."""
MIN_MERCHANTS = 4
MAX_PEOPLE = 9999
"""Phones run from 13900000001 to 13900009999."""
USE_SHARE = 0.35
"""Share of cards partly used."""
VANISHING_COMPLAINTS = 6
"""Complaints about the vanishing merchant in its last week: a surge (the threshold is 5)."""

Progress = Literal["filed", "answered", "decided", "confirmed"]


@dataclass(frozen=True)
class Shop:
    """One merchant of the district."""

    number: int
    """1-based; the owner signs in as ``demo-shop-NN``."""
    uscc: str
    story: str
    """The synthetic world's hidden type: healthy, strained or runner."""
    industry: str
    district: str
    legal_name: str
    address: str
    custody_account: str
    policy_number: str
    products: tuple[ProductSpec, ...]
    records: tuple[Indicator, ...]
    """Its indicator history, re-dated to end last month."""
    vanishing: bool = False

    @property
    def username(self) -> str:
        """The owner's user name."""
        return shop_username(self.number)


@dataclass(frozen=True)
class Person:
    """A consumer: phone, and the real name and ID number given at the first registered card."""

    phone: str
    real_name: str
    id_number: str


@dataclass(frozen=True)
class Sale:
    """One card: which shop (index), which of its products, which person (index)."""

    shop: int
    product: int
    buyer: int


@dataclass(frozen=True)
class Use:
    """A partial use of sale ``sale``: ``units`` of face value (fen) or sessions."""

    sale: int
    units: int


@dataclass(frozen=True)
class Grievance:
    """A complaint about sale ``sale`` and how far it got."""

    sale: int
    kind: str
    text: str
    amount_asked: int
    progress: Progress
    answer: str
    decision: Literal["reject", "partial"]
    decision_amount: int
    decision_text: str


@dataclass(frozen=True)
class District:
    """Everything the demo loads."""

    seed: int
    shops: tuple[Shop, ...]
    people: tuple[Person, ...]
    sales: tuple[Sale, ...]
    uses: tuple[Use, ...]
    grievances: tuple[Grievance, ...]

    @property
    def vanishing(self) -> Shop:
        """The merchant the regulator will declare in default."""
        return next(s for s in self.shops if s.vanishing)


def shop_username(number: int) -> str:
    """``demo-shop-01``: the owner of shop ``number``."""
    return f"demo-shop-{number:02d}"


def phone_of(index: int) -> str:
    """``13900000001`` for the first person."""
    return f"1390000{index + 1:04d}"


def people_for(cards: int) -> int:
    """About one consumer for every seven or eight cards (400 for 3,000)."""
    return min(MAX_PEOPLE, max(10, cards * 2 // 15))


# -- merchants and their histories --------------------------------------------------------


def _month_index(day: date) -> int:
    """Months since year 0: comparable across years."""
    return day.year * 12 + day.month - 1


def _default_month(merchant: Merchant) -> int | None:
    """The synthetic month (from ``START``) in which the merchant defaults."""
    if merchant.default_date is None:
        return None
    return _month_index(merchant.default_date) - _month_index(START)


def redate(records: tuple[Indicator, ...], months: int, today: date) -> tuple[Indicator, ...]:
    """The first ``months`` months of a history, moved so that its last month is last month.

    Each record keeps its day of the month (synthetic records fall on days 5 to 28).
    """
    last = _month_index(today) - 1
    shift = last - (_month_index(START) + months - 1)
    moved = []
    for record in records:
        month = _month_index(record.as_of) - _month_index(START)
        if month >= months:
            continue
        index = _month_index(record.as_of) + shift
        moved.append(replace(record, as_of=date(index // 12, index % 12 + 1, record.as_of.day)))
    return tuple(moved)


def _months_shown(rng: Generator, merchant: Merchant, *, vanishing: bool) -> int:
    """How much of the merchant's history has happened by now."""
    end = _default_month(merchant)
    if end is None:
        return MONTHS
    known = min(MONTHS, end)
    if vanishing:
        return known  # its last records are last month's: it vanishes now
    return max(6, known - int(rng.integers(2, 8)))  # on its way down, not there yet


def _cast(rng: Generator, world: Synthetic, merchants: int) -> list[Merchant]:
    """Pick the district's merchants from a synthetic world, by hidden type.

    The first is healthy (the merchant whose sign-in is printed); the second is the runner
    that will vanish (one that defaults in the synthetic world, if there is one).
    """
    runners = sorted(
        (m for m in world.merchants if m.type == "runner"), key=lambda m: not m.defaulted
    )
    # Strained merchants that will fail alternate with ones that will pull through, the most
    # distressed of each first: a mix of plain trouble and trouble only beginning to show.
    failing, surviving = (
        sorted(
            (m for m in world.merchants if m.type == "strained" and m.defaulted == fails),
            key=lambda m: -m.distress,
        )
        for fails in (True, False)
    )
    strained = [m for pair in zip(failing, surviving, strict=False) for m in pair]
    healthy = [m for m in world.merchants if m.type == "healthy"]
    wanted_runners = 1 if merchants < 40 else 2  # noqa: PLR2004
    wanted_strained = max(2, round(merchants * 0.2))
    chosen = runners[:wanted_runners] + strained[:wanted_strained]
    chosen += healthy[: merchants - len(chosen)]
    taken = {m.uscc for m in chosen}
    chosen += [m for m in world.merchants if m.uscc not in taken][: merchants - len(chosen)]
    first = next(m for m in chosen if m.type == "healthy")
    vanishing = chosen[0]
    rest = [m for m in chosen if m not in (first, vanishing)]
    order = rng.permutation(len(rest))
    return [first, vanishing, *(rest[int(i)] for i in order)]


def _shops(rng: Generator, world: Synthetic, merchants: int, today: date) -> list[Shop]:
    cast = _cast(rng, world, merchants)
    elsewhere = max(1, round(len(cast) * 0.1))
    trades = [TRADE_NAMES[int(i)] for i in rng.permutation(len(TRADE_NAMES))]
    first_industry = int(rng.integers(len(INDUSTRIES)))
    shops = []
    for index, merchant in enumerate(cast):
        number = index + 1
        vanishing = index == 1
        industry = "fitness" if vanishing else INDUSTRIES[(first_industry + index) % 8]
        district = (
            OTHER_DISTRICTS[(len(cast) - index) % 2]
            if index >= len(cast) - elsewhere and index > 1
            else DISTRICT
        )
        trade = trades[index % len(trades)] + ("" if index < len(trades) else str(number))
        roads = ROADS[district]
        address = (
            f"杭州市{district}{roads[int(rng.integers(len(roads)))]}{int(rng.integers(1, 400))}号"
        )
        shops.append(
            Shop(
                number=number,
                uscc=merchant.uscc,
                story=merchant.type,
                industry=industry,
                district=district,
                legal_name=business_name(rng, trade, industry, district, merchant.uscc),
                address=address,
                custody_account="6228" + "".join(str(int(d)) for d in rng.integers(0, 10, 15)),
                policy_number=f"PA-HZ-{today.year}-{number:05d}",
                products=products_for(rng, industry, runner=merchant.type == "runner"),
                records=redate(
                    world.records[merchant.uscc],
                    _months_shown(rng, merchant, vanishing=vanishing),
                    today,
                ),
                vanishing=vanishing,
            )
        )
    return shops


# -- people, sales, use, complaints -------------------------------------------------------


def _people(rng: Generator, count: int) -> list[Person]:
    people = []
    for index in range(count):
        surname = SURNAMES[int(rng.integers(len(SURNAMES)))]
        given = GIVEN_NAMES[int(rng.integers(len(GIVEN_NAMES)))]
        born = date(1960, 1, 1).toordinal() + int(rng.integers(0, 45 * 365))
        region = ID_REGIONS[int(rng.integers(len(ID_REGIONS)))]
        people.append(
            Person(
                phone=phone_of(index),
                real_name=surname + given,
                id_number=id_number(region, date.fromordinal(born), int(rng.integers(1, 1000))),
            )
        )
    return people


def _sales(rng: Generator, shops: list[Shop], cards: int, people: int) -> list[Sale]:
    weight = {"healthy": 1.0, "strained": 0.8, "runner": 3.0}
    weights = np.array([weight[s.story] * float(rng.lognormal(0, 0.5)) for s in shops])
    weights /= weights.sum()
    vanishing = next(i for i, s in enumerate(shops) if s.vanishing)
    # The printed consumer (13900000001) holds a card of the vanishing merchant and of shop 1.
    sales = [Sale(vanishing, len(shops[vanishing].products) - 1, 0), Sale(0, 0, 0)]
    for _ in range(cards - len(sales)):
        shop = int(rng.choice(len(shops), p=weights))
        products = shops[shop].products
        deep = products[0].discount_pct > 40  # noqa: PLR2004 - runners push the bargain
        product = 0 if deep and rng.random() < 0.5 else int(rng.integers(len(products)))  # noqa: PLR2004
        sales.append(Sale(shop, product, int(rng.integers(people))))
    return sales[:cards]


def _uses(rng: Generator, shops: list[Shop], sales: list[Sale]) -> list[Use]:
    uses = []
    for index, sale in enumerate(sales):
        if rng.random() >= USE_SHARE:
            continue
        product = shops[sale.shop].products[sale.product]
        if product.kind == STORED:
            units = max(100, int(product.units * rng.uniform(0.1, 0.7)) // 100 * 100)
        else:
            units = int(rng.integers(1, product.units))
        uses.append(Use(index, units))
    return uses


COMPLAINTS = {
    "quality": ("私教课经常临时取消，换了三次教练。", "服务质量明显下降，和办卡时说的不一样。"),
    "not_delivered": ("预约不上课程，连续两周都说满了。", "办卡时承诺的赠送项目一直没有兑现。"),
    "refund_refused": ("申请退卡被拒绝，说只能转让不能退。", "要求退还余额，商家一直拖着不处理。"),
    "other": ("卡内余额和消费记录对不上，少了两次。", "店里换了老板，不确定卡还能不能用。"),
}
VANISHED = ("门店突然关门，电话打不通，卡里还有余额。", "到店发现已经搬空了，会员群里也没人回复。")
ANSWERS = (
    "已联系顾客，安排补课并赠送两次服务。",
    "经核实情况属实，愿意按剩余次数协商退款。",
    "已向顾客说明情况，门店正常营业，欢迎到店沟通。",
)
REJECTED = "经调查，商家已按合同提供服务，投诉不成立。"
PARTIAL = "商家未按约定提供服务，应向消费者补偿部分费用。"


def _grievances(rng: Generator, shops: list[Shop], sales: list[Sale]) -> list[Grievance]:
    total = max(8, round(len(sales) / 75))
    by_shop: dict[int, list[int]] = {}
    for index, sale in enumerate(sales):
        by_shop.setdefault(sale.shop, []).append(index)
    vanishing = next(i for i, s in enumerate(shops) if s.vanishing)
    picked: list[Grievance] = []
    for index in by_shop.get(vanishing, [])[:VANISHING_COMPLAINTS]:
        product = shops[vanishing].products[sales[index].product]
        text = VANISHED[len(picked) % len(VANISHED)]
        picked.append(
            Grievance(index, "closed_or_moved", text, product.price, "filed", "", "reject", 0, "")
        )
    weight = {"healthy": 1.0, "strained": 4.0, "runner": 4.0}
    candidates = [i for i in range(len(shops)) if i != vanishing and by_shop.get(i)]
    weights = np.array([weight[shops[i].story] for i in candidates])
    used: set[int] = {g.sale for g in picked}
    stages: tuple[Progress, ...] = ("filed", "answered", "decided", "confirmed")
    for number in range(total - len(picked)):
        # The printed merchant (the first shop) has a complaint waiting for its answer.
        shop = 0 if number == 0 and 0 in candidates else None
        if shop is None:
            shop = candidates[int(rng.choice(len(candidates), p=weights / weights.sum()))]
        free = [i for i in by_shop[shop] if i not in used]
        if not free:
            continue
        index = free[int(rng.integers(len(free)))]
        used.add(index)
        product = shops[shop].products[sales[index].product]
        kind = tuple(COMPLAINTS)[int(rng.integers(len(COMPLAINTS)))]
        asked = product.price if kind == "refund_refused" else product.price * 3 // 10
        partial = rng.random() < 0.5  # noqa: PLR2004
        picked.append(
            Grievance(
                sale=index,
                kind=kind,
                text=COMPLAINTS[kind][int(rng.integers(2))],
                amount_asked=asked,
                progress="filed"
                if number == 0
                else stages[int(rng.choice(4, p=[0.35, 0.3, 0.2, 0.15]))],
                answer=ANSWERS[int(rng.integers(len(ANSWERS)))],
                decision="partial" if partial else "reject",
                decision_amount=max(100, product.price // 10 // 100 * 100) if partial else 0,
                decision_text=PARTIAL if partial else REJECTED,
            )
        )
    return picked


def draw(*, seed: int, merchants: int, cards: int, today: date) -> District:
    """The district of ``seed``, ``merchants`` merchants and ``cards`` cards, as of ``today``."""
    if merchants < MIN_MERCHANTS:
        msg = f"a demo district needs at least {MIN_MERCHANTS} merchants"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    world = generate(max(200, 5 * merchants), seed + 1)  # not the world the model learnt from
    shops = _shops(rng, world, merchants, today)
    people = _people(rng, people_for(cards))
    sales = _sales(rng, shops, cards, len(people))
    return District(
        seed=seed,
        shops=tuple(shops),
        people=tuple(people),
        sales=tuple(sales),
        uses=tuple(_uses(rng, shops, sales)),
        grievances=tuple(_grievances(rng, shops, sales)),
    )
