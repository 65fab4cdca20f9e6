"""Bulk card transfer (转卡): cards a second moving from a closing merchant to its successor.

Issue 16's goal: 10,000 cards in under 60 seconds on the project's 2-core machine. It runs in
a fresh ``pguard_bench_<hex>`` database migrated by Alembic and dropped at the end.

Set-up (not measured): a closing merchant and a successor of the same industry, each with a
sessions product; ``--cards`` cards sold by the ledger (a batch a transaction), each with a
paid order and a registered holder (``--holders`` consumers), a few sessions used on some.
The closure is filed, the successor named and accepted through the use cases
(``app.closures.service``); every holder's choice of the successor is then written in one
statement (each holder choosing through ``choose`` is one request each, measured by the
HTTP tests, not here).

Measured: ``settle_cards`` as the regulator's bulk run and ``pguard merchants
transfer-cards`` call it, ``--batch`` cards a transaction. The run is interrupted after
``--interrupt-after`` batches (an error raised between batches, as a killed process would
stop) and run again, which must carry on where it stopped: the time is the two runs'
together. Afterwards ``escrow.verify`` must find both books whole, and every card must have
moved exactly once.

    python bench/card_transfer.py [--cards 10000] [--batch 200] [--holders 500]
                                  [--interrupt-after 2] [--database-url URL] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import time
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from shop import merchant, sell
from sqlalchemy import func, select, update

import escrow
from app.auth.models import Role
from app.auth.principal import Principal
from app.cards.models import CardHolder
from app.clock import today, utcnow
from app.closures.models import Choice, ClosureCard
from app.closures.service import (
    Progress,
    Term,
    accept_offer,
    file_closure,
    name_successor,
    settle_cards,
)
from app.db import async_url, create_engine, database_url, scratch_database, session_factory
from app.wiring import wire

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from app.merchants.models import Merchant, Product

GOAL_CARDS, GOAL_SECONDS = 10_000, 60.0


class Interrupted(Exception):
    """Raised between two batches to stop a run as a killed process would."""


async def _announce(
    sessions: async_sessionmaker[AsyncSession],
    closing: Merchant,
    successor: Merchant,
    old_product: Product,
    new_product: Product,
) -> uuid.UUID:
    """File the closure, name and accept the successor, and have every holder choose it."""
    regulator = Principal(role=Role.REGULATOR, user_id=uuid.uuid4(), district="上城区")
    async with sessions() as session, session.begin():
        closure = await file_closure(
            session,
            regulator,
            merchant_id=closing.id,
            kind="closure",
            closes_on=today() + timedelta(days=30),
            reason="租约到期，停止营业",
        )
        offer = await name_successor(
            session,
            regulator,
            closure.id,
            successor_id=successor.id,
            terms=[Term(from_=old_product.id, to=new_product.id, per_unit=1)],
        )
    owner = Principal(role=Role.MERCHANT, user_id=uuid.uuid4(), merchant_id=successor.id)
    async with sessions() as session, session.begin():
        await accept_offer(session, owner, offer.id)
        await session.execute(
            update(ClosureCard)
            .where(ClosureCard.closure_id == closure.id)
            .values(choice=Choice.TRANSFER, offer_id=offer.id, chosen_at=utcnow())
        )
    return closure.id


async def _check(
    sessions: async_sessionmaker[AsyncSession], closing: Merchant, successor: Merchant, cards: int
) -> None:
    """Both books verify and every card moved exactly once, linked to its old card."""
    async with sessions() as session, session.begin():
        report = await escrow.verify(session, [closing.id, successor.id])
        moved = await session.scalar(select(func.count()).select_from(escrow.models.CardTransfer))
        linked = await session.scalar(
            select(func.count()).where(CardHolder.transferred_from.is_not(None))
        )
        open_left = await session.scalar(
            select(func.count()).where(
                escrow.models.Card.merchant_id == closing.id,
                escrow.models.Card.status == "open",
            )
        )
    problems = []
    if not report.ok:
        problems.append(f"escrow.verify: {report.problems[:3]}")
    if moved != cards or linked != cards or open_left != 0:
        problems.append(f"moved {moved}, linked {linked}, left open {open_left}")
    if problems:
        raise SystemExit("checks: FAILED " + "; ".join(problems))
    print(
        f"escrow.verify over both books: the ledger verifies ({report.cards} cards);"
        f" {moved} cards moved once each, {linked} holders linked to their old cards"
    )


async def bench(url: str, args: argparse.Namespace) -> None:
    engine = create_engine(url, pool_size=4)
    sessions = session_factory(engine)
    try:
        async with sessions() as session, session.begin():
            closing, old_product = await merchant(session, "杭州示范英语培训学校")
            successor, new_product = await merchant(session, "杭州承接英语培训学校")
        started = time.perf_counter()
        await sell(sessions, closing, old_product, args.cards, args.holders)
        setup = time.perf_counter() - started
        closure_id = await _announce(sessions, closing, successor, old_product, new_product)
        print(f"set-up  : {args.cards} cards sold in {setup:.1f}s (not measured)")

        batches = [0]

        def stop_early(_progress: Progress, _left: int) -> None:
            batches[0] += 1
            if batches[0] == args.interrupt_after:
                raise Interrupted

        started = time.perf_counter()
        with contextlib.suppress(Interrupted):
            await settle_cards(sessions, closure_id, batch=args.batch, on_batch=stop_early)
        rest = await settle_cards(sessions, closure_id, batch=args.batch)
        seconds = time.perf_counter() - started
        load = os.getloadavg()
        print()
        print("cards    batch    seconds    cards/s")
        print(f"{args.cards:<8} {args.batch:<8} {seconds:<10.2f} {args.cards / seconds:.0f}")
        print()
        interrupted = batches[0] >= args.interrupt_after
        print(
            f"interrupted after {batches[0]} batches, then resumed: the second run moved"
            f" {rest.moved} cards"
            if interrupted
            else "the run ended before the interruption"
        )
        scaled = seconds * GOAL_CARDS / args.cards
        verdict = "met" if scaled < GOAL_SECONDS else "NOT met"
        print(
            f"goal (issue 16): {GOAL_CARDS} cards in under {GOAL_SECONDS:.0f}s;"
            f" at this rate {scaled:.1f}s: {verdict}"
        )
        print(f"load    : {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1, 5, 15 min) at the end")
        await _check(sessions, closing, successor, args.cards)
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cards", type=int, default=GOAL_CARDS, help="cards to move")
    parser.add_argument("--batch", type=int, default=200, help="cards a transaction")
    parser.add_argument("--holders", type=int, default=500, help="consumers holding them")
    parser.add_argument(
        "--interrupt-after", type=int, default=2, help="batches before the first run stops"
    )
    parser.add_argument("--database-url", help="server to use (default: DATABASE_URL or embedded)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="the shortest run through every path (120 cards): the figures mean nothing",
    )
    args = parser.parse_args()
    if args.smoke:
        args.cards, args.batch, args.holders = 120, 25, 20
        print("SMOKE RUN: every path once on tiny data; the figures mean nothing")
    if min(args.cards, args.batch, args.holders, args.interrupt_after) < 1:
        parser.error("counts must be positive")
    print(f"machine : nproc={os.cpu_count()}, Python {platform.python_version()}")
    server = async_url(args.database_url) if args.database_url else database_url()
    wire()
    with scratch_database(server, "pguard_bench") as url:
        asyncio.run(bench(url, args))
    print("checks: passed")


if __name__ == "__main__":
    main()
