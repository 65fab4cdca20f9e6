"""Resolution pack: seconds to build, sign and record the pack of a merchant with many cards.

Issue 17's goal: a merchant with 10,000 cards gets its pack in under 30 seconds on the
project's 2-core machine. It runs in a fresh ``pguard_bench_<hex>`` database migrated by
Alembic and dropped at the end.

Set-up (not measured): one merchant with a sessions product and ``--cards`` cards sold by the
ledger (a batch a transaction), each with a paid order and a named holder (``--holders``
consumers, phone, name and ID number encrypted as the app keeps them), a session used on a
third of them.

Measured: ``app.resolution.pack.build`` as the page, the API and ``pguard merchants
resolution-pack`` call it, for a regulator (every holder's data decrypted): the snapshot
read, ``escrow.verify`` of the book, the files, the signature and the record. Afterwards the
pack must check against the published keys, list every card, and say what ``verify`` says.

    python bench/resolution_pack.py [--cards 10000] [--holders 500] [--database-url URL]
                                    [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import platform
import time
from typing import TYPE_CHECKING

from shop import merchant, sell

import escrow
from app.auth.models import Role
from app.auth.principal import Principal
from app.db import async_url, create_engine, database_url, scratch_database, session_factory
from app.qrcodes.service import keyring
from app.resolution import pack
from app.resolution.manifest import check_pack
from app.wiring import wire

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

GOAL_CARDS, GOAL_SECONDS = 10_000, 30.0


async def bench(url: str, args: argparse.Namespace) -> None:
    engine = create_engine(url, pool_size=2)
    sessions = session_factory(engine)
    try:
        async with sessions() as session, session.begin():
            shop, product = await merchant(session, "杭州示范健身有限公司")
        started = time.perf_counter()
        await sell(sessions, shop, product, args.cards, args.holders)
        print(f"set-up  : {args.cards} cards sold in {time.perf_counter() - started:.1f}s")

        regulator = Principal(role=Role.REGULATOR, user_id=None, district="上城区")
        started = time.perf_counter()
        async with sessions() as session:
            built = await pack.build(session, regulator, shop.id)
        seconds = time.perf_counter() - started
        load = os.getloadavg()
        print()
        print("cards    holders  seconds    cards/s    MB")
        print(
            f"{args.cards:<8} {args.holders:<8} {seconds:<10.2f} {args.cards / seconds:<10.0f}"
            f" {len(built.data) / 1e6:.2f}"
        )
        print()
        scaled = seconds * GOAL_CARDS / args.cards
        verdict = "met" if scaled < GOAL_SECONDS else "NOT met"
        print(
            f"goal (issue 17): a pack of {GOAL_CARDS} cards in under {GOAL_SECONDS:.0f}s;"
            f" at this rate {scaled:.1f}s: {verdict}"
        )
        print(f"load    : {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1, 5, 15 min) at the end")
        await _check(sessions, shop.id, built, args.cards)
    finally:
        await engine.dispose()


async def _check(
    sessions: async_sessionmaker[AsyncSession], merchant_id: uuid.UUID, built: pack.Pack, cards: int
) -> None:
    """The pack checks against the published keys, lists every card, and agrees with verify."""
    async with sessions() as session:
        keys = await keyring(session)
        report = await escrow.verify(session, [merchant_id])
    checked = check_pack(built.data, keys)
    text = checked.files["cards.csv"].decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    owed = sum(int(row["owed_fen"]) for row in rows)
    named = sum(1 for row in rows if row["holder_phone"].startswith("139"))
    problems = []
    if not report.ok:
        problems.append(f"escrow.verify: {report.problems[:3]}")
    if len(rows) != cards or named != cards:
        problems.append(f"{len(rows)} cards listed, {named} with a holder's phone, of {cards}")
    if owed != built.owed_fen or checked.manifest["entries"] != report.entries:
        problems.append(
            f"pack says {built.owed_fen} fen and {checked.manifest['entries']} entries;"
            f" its cards add up to {owed}, verify walked {report.entries}"
        )
    if problems:
        raise SystemExit("checks: FAILED " + "; ".join(problems))
    print(
        f"the pack checks against the published keys; {len(rows)} cards, {owed} fen owed;"
        f" escrow.verify: the ledger verifies ({report.entries} entries, as the pack says)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cards", type=int, default=GOAL_CARDS, help="cards the merchant sold")
    parser.add_argument("--holders", type=int, default=500, help="consumers holding them")
    parser.add_argument("--database-url", help="server to use (default: DATABASE_URL or embedded)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="the shortest run through every path (60 cards): the figures mean nothing",
    )
    args = parser.parse_args()
    if args.smoke:
        args.cards, args.holders = 60, 10
        print("SMOKE RUN: every path once on tiny data; the figures mean nothing")
    if min(args.cards, args.holders) < 1:
        parser.error("counts must be positive")
    print(f"machine : nproc={os.cpu_count()}, Python {platform.python_version()}")
    server = async_url(args.database_url) if args.database_url else database_url()
    wire()
    with scratch_database(server, "pguard_bench") as url:
        asyncio.run(bench(url, args))
    print("checks: passed")


if __name__ == "__main__":
    main()
