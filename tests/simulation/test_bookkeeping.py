"""The simulation's own books in situations a short run rarely meets, acted out day by day.

Each test lives a few days of a one-merchant district through the simulation's own acts (the
same ones a run calls), with the draws that matter forced, and holds every day to the run's
checks.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from datetime import datetime, time
from typing import TYPE_CHECKING

from sqlalchemy import select

from app.clock import SHANGHAI, ManualClock, today, use_clock
from app.db import async_url, create_engine, session_factory
from app.demo.training import train_model
from app.ledger import escrow_ledger
from app.simulation import customers, institutions, merchants
from app.simulation.engine import District
from app.simulation.state import START
from app.simulation.world import draw
from app.supervision.models import Dispute

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import pytest

    from tests.conftest import Databases

SEED = 7


async def _evening(district: District) -> None:
    """The evening's workers, then the day's checks, as a run ends each day."""
    district.at(time(20))
    await institutions.workers(district)
    district.check(await district.checks.end_of_day(district.day, today()))


@asynccontextmanager
async def _district(databases: Databases) -> AsyncIterator[District]:
    url = async_url(databases.create())
    world = draw(seed=SEED, days=5, merchants=1, consumers=3)  # no fate plays out in 5 days
    clock = ManualClock(datetime.combine(START, time(7), SHANGHAI))
    model = await asyncio.to_thread(train_model, SEED)
    engine = create_engine(url, pool_size=2, max_overflow=2)
    try:
        with use_clock(clock):
            district = District(session_factory(engine), world, clock, say=lambda _: None)
            await district.setup(model)
            yield district
    finally:
        await engine.dispose()


async def test_a_refund_decided_on_a_card_used_up_since_its_complaint_closes_it_for_nothing(
    databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seed 1's 400-day run met it on day 374: a card complained about, answered, then used up
    # (it leaves the open cards) before the regulator decided "refund" on the next morning.
    async with _district(databases) as district:
        shop = district.shops[0]
        # day 0: a card is sold, and its holder complains
        district.at(time(11))
        await customers._sell(district, shop)
        (card,) = district.open_cards
        monkeypatch.setattr(district.rng, "random", lambda: 0.0)  # every draw says "yes"
        await customers.complaints(district)
        assert [d[2] for d in district.open_disputes] == [card]
        await _evening(district)
        # day 1: the merchant answers, then the holder uses the card up
        district.day = 1
        district.at(time(9))
        await merchants.answers(district)
        district.at(time(14))
        while not card.used_up:
            await customers.uses(district)
        assert card not in district.open_cards
        assert card.status == "open"  # the ledger keeps a used-up card open, at nothing
        owed_before = card.owed_back
        await _evening(district)
        # day 2: the regulator decides "refund"
        district.day = 2
        district.at(time(9))
        monkeypatch.setattr(district.rng, "random", lambda: 0.4)  # 0.3 to 0.55: refund
        await merchants.answers(district)
        assert district.summary.operations.get("dispute decisions (refund)") == 1
        assert card.status == "refunded"
        assert card.owed_back == owed_before  # nothing more is owed on a used-up card
        async with district.sessions() as session:
            held = await escrow_ledger(session).card(shop.merchant_id, card.card_id)
            decided = await session.scalar(select(Dispute.decided_amount))
        assert (str(held.status), held.outstanding, decided) == ("refunded", 0, 0)
        await _evening(district)
        district.check(await district.checks.verify_all())
