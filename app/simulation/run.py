"""Running a simulation: a fresh database, the clock, the district, its summary."""

from __future__ import annotations

import asyncio
from datetime import datetime, time
from typing import TYPE_CHECKING

from app.clock import SHANGHAI, ManualClock, use_clock
from app.db import create_engine, session_factory
from app.demo.training import train_model
from app.simulation.engine import District
from app.simulation.state import START
from app.simulation.world import draw

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.simulation.state import Summary


async def simulate(
    url: str,
    *,
    days: int,
    seed: int,
    merchants: int,
    consumers: int,
    say: Callable[[str], None] = lambda _: None,
) -> Summary:
    """Live ``days`` days of a district drawn from ``seed`` in the database at ``url``.

    The database is empty and migrated; the first broken check raises
    :class:`~app.simulation.state.SimulationBroke`.
    """
    world = draw(seed=seed, days=days, merchants=merchants, consumers=consumers)
    clock = ManualClock(datetime.combine(START, time(7), SHANGHAI))
    model = await asyncio.to_thread(train_model, seed)
    # A throw-away database: commits need not wait for the disk (each day makes hundreds).
    engine = create_engine(
        url,
        pool_size=4,
        max_overflow=4,
        connect_args={"options": "-c synchronous_commit=off"},
    )
    try:
        with use_clock(clock):
            district = District(session_factory(engine), world, clock, say=say)
            say(f"{merchants} merchants onboard; {consumers} consumers")
            await district.setup(model)
            return await district.run()
    finally:
        await engine.dispose()
