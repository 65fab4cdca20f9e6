"""What a ``pguard demo`` run is asked for, and its refusal when it cannot be done here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.demo.district import draw

if TYPE_CHECKING:
    from datetime import date

    from app.demo.district import District


class DemoRefused(Exception):
    """The demo will not load here (production, or a database that holds other data)."""


@dataclass(frozen=True)
class Options:
    """How big a district to load."""

    seed: int = 7
    merchants: int = 60
    cards: int = 3000


DEFAULT_OPTIONS = Options()
"""``pguard demo`` without options."""


def draw_district(options: Options, day: date) -> District:
    """The district the options ask for, as of ``day``: the same in every process of a run."""
    return draw(seed=options.seed, merchants=options.merchants, cards=options.cards, today=day)
