"""The card products of the demo district: what each industry sells, and at what discount."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from numpy.random import Generator

ANONYMOUS_VALIDITY_DAYS = 3 * 365 + 1


@dataclass(frozen=True)
class ProductSpec:
    """A card product as its merchant defines it."""

    name: str
    kind: Literal["stored_value", "sessions"]
    price: int
    units: int
    """Face value in fen (stored value) or sessions."""
    anonymous: bool = False

    @property
    def validity_days(self) -> int | None:
        """Anonymous cards last three years; registered cards do not expire."""
        return ANONYMOUS_VALIDITY_DAYS if self.anonymous else None

    @property
    def discount_pct(self) -> float:
        """How far below its face value a stored-value card sells."""
        return (self.units - self.price) * 100 / self.units if self.kind == "stored_value" else 0


STORED: Literal["stored_value"] = "stored_value"
SESSIONS: Literal["sessions"] = "sessions"
CATALOGUE: dict[str, tuple[ProductSpec, ...]] = {
    "fitness": (
        ProductSpec("健身储值卡 2000 元", STORED, 200_000, 200_000),
        ProductSpec("私教课 20 节", SESSIONS, 360_000, 20),
        ProductSpec("游泳 50 次卡", SESSIONS, 150_000, 50),
        ProductSpec("团课 30 次卡", SESSIONS, 90_000, 30),
    ),
    "education": (
        ProductSpec("钢琴课 24 课时", SESSIONS, 432_000, 24),
        ProductSpec("少儿英语 48 课时", SESSIONS, 480_000, 48),
        ProductSpec("学费储值卡 3000 元", STORED, 300_000, 300_000),
        ProductSpec("书法课 10 课时", SESSIONS, 120_000, 10),
    ),
    "beauty": (
        ProductSpec("美发储值卡 1000 元", STORED, 100_000, 100_000),
        ProductSpec("美发储值卡 3000 元", STORED, 300_000, 300_000),
        ProductSpec("面部护理 10 次", SESSIONS, 168_000, 10),
        ProductSpec("洗剪吹 12 次", SESSIONS, 48_000, 12),
    ),
    "catering": (
        ProductSpec("餐饮储值卡 500 元", STORED, 50_000, 50_000, anonymous=True),
        ProductSpec("会员储值卡 1000 元", STORED, 100_000, 100_000),
        ProductSpec("午餐 20 次卡", SESSIONS, 36_000, 20),
    ),
    "car_wash": (
        ProductSpec("洗车 20 次卡", SESSIONS, 50_000, 20, anonymous=True),
        ProductSpec("洗车储值卡 1000 元", STORED, 100_000, 100_000, anonymous=True),
        ProductSpec("精洗 10 次卡", SESSIONS, 68_000, 10),
    ),
    "laundry": (
        ProductSpec("洗衣储值卡 500 元", STORED, 50_000, 50_000, anonymous=True),
        ProductSpec("洗衣储值卡 1000 元", STORED, 100_000, 100_000),
        ProductSpec("衬衫干洗 30 件", SESSIONS, 45_000, 30),
    ),
    "retail": (
        ProductSpec("购物储值卡 500 元", STORED, 50_000, 50_000, anonymous=True),
        ProductSpec("购物储值卡 2000 元", STORED, 200_000, 200_000),
        ProductSpec("鲜果配送 30 次", SESSIONS, 60_000, 30),
    ),
    "other": (
        ProductSpec("摄影储值卡 2000 元", STORED, 200_000, 200_000),
        ProductSpec("亲子乐园 20 次卡", SESSIONS, 80_000, 20),
        ProductSpec("会员储值卡 1000 元", STORED, 100_000, 100_000),
    ),
}
"""What each industry sells; stored-value prices here are face values, discounted per shop."""

MILD_DISCOUNTS = (0, 0, 5, 8, 10, 12, 15, 20)
"""Percent off the face value of an ordinary stored-value card."""
DEEP_DISCOUNT = ProductSpec("开业特惠储值卡 3000 元", STORED, 120_000, 300_000)
"""A runner's bargain: 60% off, far past the 40% warning threshold."""


def products_for(rng: Generator, industry: str, *, runner: bool) -> tuple[ProductSpec, ...]:
    """Two to four of the industry's products, stored value discounted; a runner's bargain first."""
    catalogue = CATALOGUE[industry]
    count = min(len(catalogue), int(rng.integers(2, 5)))
    chosen = [catalogue[int(i)] for i in sorted(rng.choice(len(catalogue), count, replace=False))]
    made = []
    for spec in chosen:
        if spec.kind == STORED:
            off = MILD_DISCOUNTS[int(rng.integers(len(MILD_DISCOUNTS)))]
            spec = replace(spec, price=spec.units * (100 - off) // 100 // 100 * 100)  # noqa: PLW2901
        made.append(spec)
    if runner:
        made = [DEEP_DISCOUNT, *made[: max(1, count - 1)]]
    return tuple(made)
