"""Step 2 of ``pguard demo``: every merchant in a transaction of its own, several at once.

The work is more Python than database, so the merchants are dealt out to this process and to
helper processes (fresh interpreters running :mod:`app.demo.helper`), each loading a few at
once; the story shop goes first, alone, on a clock of its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import ManualClock, use_clock, utcnow
from app.db import create_engine, session_factory
from app.demo.accounts import context
from app.demo.options import Options, draw_district
from app.demo.shop import STORY_DAYS, STORY_SHOP, ShopLoader, Work
from app.merchants.models import Merchant

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from app.demo.district import District

SHOP_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('pguard-demo'), hashtext(:shop))")
"""One merchant's lock: a merchant is loaded by one transaction, whichever process runs it."""


async def trade(
    sessions: async_sessionmaker[AsyncSession],
    district: District,
    helpers: Helpers,
    options: Options,
    day: date,
    workers: int,
) -> None:
    """Every merchant in a transaction of its own, several at once.

    A merchant's transaction writes its own rows (merchant, book, cards, complaints) and only
    reads what others share, so the transactions neither wait for nor deadlock each other.
    The work is more Python than database, so the merchants are dealt out to this process
    and its helpers, the busiest first.
    """
    work = Work.of(district)
    await story_shop(sessions, district, work)
    shops = sorted(
        (shop for shop in range(len(district.shops)) if shop != STORY_SHOP),
        key=lambda shop: -len(work.sales.get(shop, [])),
    )
    parts: list[list[int]] = [[] for _ in range(helpers.count + 1)]
    for shop in shops:
        min(parts, key=lambda part: sum(len(work.sales.get(s, [])) + 10 for s in part)).append(shop)
    jobs = [trade_shops(sessions, district, parts[0], workers)]
    jobs += [
        helpers.trade(index, options, day, part, workers)
        for index, part in enumerate(parts[1:])
        if part
    ]
    await asyncio.gather(*jobs)


async def trade_shops(
    sessions: async_sessionmaker[AsyncSession],
    district: District,
    shops: Sequence[int],
    workers: int,
) -> None:
    """Onboard these shops and load their cards, use and complaints, ``workers`` at a time."""
    known = await context(sessions, district)
    work = Work.of(district)
    pending = iter(shops)

    async def worker() -> None:
        for shop in pending:
            uscc = district.shops[shop].uscc
            async with sessions() as session, session.begin():
                await session.execute(SHOP_LOCK, {"shop": uscc})
                if await session.scalar(select(Merchant.id).where(Merchant.uscc == uscc)):
                    continue  # done by an earlier run
                await ShopLoader(session, known, district, shop).run(work)

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, workers)):
            group.create_task(worker())


async def story_shop(
    sessions: async_sessionmaker[AsyncSession], district: District, work: Work
) -> None:
    """The story shop, alone in this process: its clock starts two weeks ago.

    A refund's deadline is days long and the insurer pays after it, so the shop lives its
    trading and the three refunds from two weeks ago to yesterday, in one transaction, on a
    clock of its own; nothing else runs in this process meanwhile.
    """
    known = await context(sessions, district)
    uscc = district.shops[STORY_SHOP].uscc
    clock = ManualClock(utcnow() - timedelta(days=STORY_DAYS))
    async with sessions() as session, session.begin():
        await session.execute(SHOP_LOCK, {"shop": uscc})
        if await session.scalar(select(Merchant.id).where(Merchant.uscc == uscc)):
            return  # done by an earlier run
        with use_clock(clock):
            shop = ShopLoader(session, known, district, STORY_SHOP)
            await shop.run(work)
            await shop.refund_stories(clock)


class Helpers:
    """Processes that load merchants beside this one: fresh interpreters (``app.demo.helper``).

    Each is started early, so that it has imported the app by the time step 2 needs it, and
    then waits for its job on stdin (the database URL never shows in a process list). Closing
    its stdin without a job lets it exit.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], count: int) -> None:
        bind = sessions.kw.get("bind")
        self.url = (
            bind.url.render_as_string(hide_password=False) if isinstance(bind, AsyncEngine) else ""
        )
        self.count = max(0, count) if self.url else 0
        self.processes: list[asyncio.subprocess.Process] = []

    async def __aenter__(self) -> Self:
        for _ in range(self.count):
            self.processes.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "app.demo.helper",
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.PIPE,
                )
            )
        return self

    async def trade(
        self, index: int, options: Options, day: date, shops: list[int], workers: int
    ) -> None:
        """Load ``shops`` in helper ``index``; its failure is this process's."""
        job = {
            "url": self.url,
            "options": dataclasses.asdict(options),
            "day": day.isoformat(),
            "shops": shops,
            "workers": workers,
        }
        process = self.processes[index]
        _, err = await process.communicate(json.dumps(job).encode())
        if process.returncode != 0:
            raise HelperFailed(err.decode(errors="replace").strip()[-4000:])

    async def __aexit__(self, kind: type[BaseException] | None, *_: object) -> None:
        for process in self.processes:
            if process.returncode is not None:
                continue
            if kind is not None:  # stop its transaction: what it committed is consistent
                process.kill()
            elif process.stdin is not None:
                process.stdin.close()  # never given a job: it exits
            await process.wait()


class HelperFailed(RuntimeError):
    """A helper process of step 2 failed; its error output says why."""


async def trade_elsewhere(job: dict[str, Any]) -> None:
    """A helper process's share of step 2 (``job`` as :meth:`Helpers.trade` writes it)."""
    workers = int(job["workers"])
    engine = create_engine(str(job["url"]), pool_size=workers + 1)
    try:
        district = draw_district(Options(**job["options"]), date.fromisoformat(job["day"]))
        await trade_shops(session_factory(engine), district, job["shops"], workers)
    finally:
        await engine.dispose()
