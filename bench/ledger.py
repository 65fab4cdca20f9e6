"""Throughput of the escrow ledger against a hand-written psycopg floor.

Measures purchases and redemptions per second through ``escrow.EscrowLedger`` (SQLAlchemy,
one session and transaction per operation) at 1 and 8 concurrent workers, and the same rows
written by plain psycopg with no ORM: the *floor*, what the SQL, the round trips and the
triggers cost by themselves. The ratio is what the framework and the ledger's way of
issuing its statements cost on top; the goal is that escrow reaches at least half of the
floor. It runs in a fresh ``pguard_bench_<hex>`` database migrated by Alembic (so every
trigger is on) and drops it at the end, even on error.

At the end ``escrow.verify`` recomputes everything the bench wrote (the floor's rows too, so
its hand-written hash chains must match escrow's), and the books, entries, cards and units
redeemed are compared with what the bench counted it did; the script exits with status 1 if
any of that disagrees. The figures are never judged.

``--smoke`` is the shortest run that still takes every measured path and checks the result
(CI runs it: tests/test_benchmarks.py): 8 merchants a side, 2 workers, 0.1 s of warm-up and
0.5 s measured per cell. Options given with it override its values. Its figures mean nothing.

    python bench/ledger.py [--smoke] [--seconds N] [--workers 1,8] [--merchants N]
                           [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import os
import platform
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg
import sqlalchemy
from psycopg.types.json import Jsonb
from sqlalchemy import make_url

from app.db import (
    async_url,
    create_engine,
    database_url,
    libpq_url,
    scratch_database,
    session_factory,
)
from escrow import CardKind, EscrowLedger, verify
from escrow.chain import Leg, entry_hash
from escrow.money import DEFAULT_CUSTODY_RATIO_BP, custody_part, refundable, split

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    Op = Callable[[int, int, int], Awaitable[None]]  # (worker, merchant index, serial)
    Conn = psycopg.AsyncConnection[Any]
    Side = tuple[list[uuid.UUID], list[list[uuid.UUID]]]  # merchants, their cards
    Link = tuple[uuid.UUID, int, bytes]  # merchant, next seq, chain head
    Sessions = async_sessionmaker[AsyncSession]

MERCHANTS = 64  # a side: escrow's and the floor's; --merchants
CARDS_PER_MERCHANT = 4
PRICE = 10_000  # a ¥100 stored-value card, face value = price
RATIO = DEFAULT_CUSTODY_RATIO_BP
UNITS = 10**11  # units of a setup card: never used up; 10 fen a unit, so 4 postings a use
WARMUP_SECONDS = 0.5
FULL = {"seconds": 5.0, "workers": "1,8", "merchants": MERCHANTS, "warmup": WARMUP_SECONDS}
SMOKE = {"seconds": 0.5, "workers": "2", "merchants": 8, "warmup": 0.1}
"""``--smoke``: every measured path once, at 2 workers, on tiny data; the figures mean nothing."""
SERIAL = itertools.count()  # idempotency keys are unique across the whole run

LOCK_BOOK = "SELECT seq, head_hash, status FROM merchant_books WHERE merchant_id = %s FOR UPDATE"
SEEN_KEY = "SELECT request_hash FROM idempotency_records WHERE merchant_id = %s AND key = %s"
INSERT_CARD = (
    "INSERT INTO cards (id, merchant_id, kind, status, paid, units_total, units_remaining,"
    " custody_ratio_bp, outstanding, custody_share, insured_share, created_at)"
    " VALUES (%s, %s, 'stored_value', 'open', %s, %s, %s, %s, %s, %s, %s, %s)"
)
WRITE_ENTRY = (  # entry, postings, record and chain head in one statement, as escrow does
    "WITH entry AS (INSERT INTO journal_entries (merchant_id, seq, kind, card_id, units,"
    " idempotency_key, created_at, prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)),"
    " record AS (INSERT INTO idempotency_records (merchant_id, key, operation, request_hash,"
    " result, created_at) VALUES (%s, %s, %s, %s, %s, %s)),"
    " legs AS (INSERT INTO postings (merchant_id, seq, line, account, ledger, card_id, amount)"
    " VALUES {values})"
    " UPDATE merchant_books SET seq = %s, head_hash = %s WHERE merchant_id = %s"
)
LOCK_CARD = (
    "SELECT status, paid, units_total, units_remaining, custody_ratio_bp, custody_share,"
    " insured_share FROM cards WHERE merchant_id = %s AND id = %s FOR UPDATE"
)
UPDATE_CARD = (
    "UPDATE cards SET units_remaining = %s, outstanding = %s, custody_share = %s,"
    " insured_share = %s WHERE id = %s"
)
CARD_FIELDS = ("card_id", "status", "paid", "units_total", "units_remaining", "outstanding")


@dataclass(frozen=True)
class Plan:
    """How long and how wide the bench runs, and on how many merchants a side."""

    seconds: float
    workers: list[int]
    merchants: int
    warmup: float
    smoke: bool


@dataclass
class Done:
    """Operations completed over the whole bench, warm-ups included, to check the database."""

    purchases: int = 0
    redemptions: int = 0


def header(url: str, version: str, plan: Plan, pool: int) -> str:
    """What ran where, and how, printed above the figures."""
    smoke = "\nSMOKE RUN: every path once on tiny data; the figures mean nothing\n"
    merchants, seconds, warmup = plan.merchants, plan.seconds, plan.warmup
    return f"""\
machine : nproc={os.cpu_count()}, Python {platform.python_version()}
          SQLAlchemy {sqlalchemy.__version__}, psycopg {psycopg.__version__}
server  : {version}
database: {make_url(url).database} (fresh, migrated by Alembic, dropped at exit)
workload: {merchants} merchants for escrow and {merchants} others for the floor; worker w takes
          merchants w, w+W, w+2W, ... round-robin, so concurrent workers never wait on the
          same merchant's book lock. One transaction per operation.
          purchase = one ¥{PRICE // 100} stored-value card (5 postings)
          redeem = 1 unit of one of {CARDS_PER_MERCHANT} setup cards a merchant (4 postings)
          {warmup}s warm-up, then {seconds}s measured, per cell
escrow  : EscrowLedger, one AsyncSession per operation from app.db.create_engine
          (pool_size={pool}, as the app runs it)
floor   : hand-written SQL, one psycopg AsyncConnection per worker, no ORM
{smoke if plan.smoke else ""}"""


def card_json(card_id: uuid.UUID, paid: int, total: int, left: int, custody: int) -> dict:
    """The card part of a receipt, as the real one stores it."""
    out = refundable(paid, left, total)
    card = dict(zip(CARD_FIELDS, (str(card_id), "open", paid, total, left, out), strict=True))
    return card | {"custody_share": custody, "insured_share": out - custody}


async def floor_begin(conn: Conn, merchant_id: uuid.UUID, key: str) -> Link:
    """Lock the book, refuse a used key (as a replay would); return the next chain link."""
    book = await (await conn.execute(LOCK_BOOK, (merchant_id,))).fetchone()
    if book is None:
        raise RuntimeError(f"no book for merchant {merchant_id}")
    seq, head, status = book
    if await (await conn.execute(SEEN_KEY, (merchant_id, key))).fetchone() is not None:
        raise RuntimeError(f"idempotency key {key} already used")
    if status != "open":
        raise RuntimeError(f"book {merchant_id} is {status}")
    return merchant_id, seq + 1, head


async def floor_write(
    conn: Conn,
    link: Link,
    key: str,
    kind: str,
    legs: list[tuple[str, str, uuid.UUID, int]],
    *,
    params: dict[str, Any],
    result: dict[str, Any],
    units: int | None = None,
) -> None:
    """Append the entry, its postings, the record and the chain head in one statement."""
    (merchant_id, seq, head), now, card_id = link, datetime.now(UTC), legs[0][2]
    chained = [Leg(n, *leg) for n, leg in enumerate((g for g in legs if g[3]), start=1)]
    digest = entry_hash(
        head,
        merchant_id=merchant_id,
        seq=seq,
        kind=kind,
        card_id=card_id,
        units=units,
        idempotency_key=key,
        created_at=now,
        legs=chained,
    )
    entry = (merchant_id, seq, kind, card_id, units, key, now, head, digest)
    request = json.dumps({"op": kind, **params}, sort_keys=True, default=str).encode()
    result |= {"merchant_id": str(merchant_id), "seq": seq, "replayed": False}
    record = (merchant_id, key, kind, hashlib.sha256(request).digest(), Jsonb(result), now)
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chained))
    rows = [(merchant_id, seq, g.line, g.account, g.ledger, g.card_id, g.amount) for g in chained]
    await conn.execute(
        WRITE_ENTRY.format(values=values),
        [*entry, *record, *(v for row in rows for v in row), seq, digest, merchant_id],
    )


async def floor_purchase(conn: Conn, merchant_id: uuid.UUID, key: str) -> None:
    """One purchase of a ¥100 stored-value card: card, entry, 5 postings, head, record."""
    card_id, parts = uuid.uuid4(), split(PRICE, RATIO)
    custody, insured = parts.custody, parts.insured
    async with conn.transaction():
        link = await floor_begin(conn, merchant_id, key)
        card = (card_id, merchant_id, PRICE, PRICE, PRICE, RATIO, PRICE, custody, insured)
        await conn.execute(INSERT_CARD, (*card, datetime.now(UTC)))
        legs = [
            ("consumers", "money", card_id, -PRICE),
            ("custody", "money", card_id, custody),
            ("merchant", "money", card_id, insured),
            ("policy", "cover", card_id, -insured),
            ("cards_cover", "cover", card_id, insured),
        ]
        params = {"kind": "stored_value", "paid": PRICE, "units_total": PRICE, "ratio": RATIO}
        params["card_id"] = None
        result = {"custody": custody, "insured": insured, "custody_ratio_bp": RATIO}
        result["card"] = card_json(card_id, PRICE, PRICE, PRICE, custody)
        await floor_write(conn, link, key, "purchase", legs, params=params, result=result)


async def floor_redeem(conn: Conn, merchant_id: uuid.UUID, card_id: uuid.UUID, key: str) -> None:
    """One redemption of 1 unit: entry, 4 postings, card, head, record."""
    async with conn.transaction():
        link = await floor_begin(conn, merchant_id, key)
        card = await (await conn.execute(LOCK_CARD, (merchant_id, card_id))).fetchone()
        if card is None or card[0] != "open" or card[3] < 1:
            raise RuntimeError(f"card {card_id} cannot be redeemed: {card}")
        _, paid, total, left, ratio, custody_was, insured_was = card
        left -= 1
        outstanding = refundable(paid, left, total)
        custody = custody_part(outstanding, ratio)
        freed_custody, freed_cover = custody_was - custody, insured_was - (outstanding - custody)
        legs = [
            ("custody", "money", card_id, -freed_custody),
            ("merchant", "money", card_id, freed_custody),
            ("cards_cover", "cover", card_id, -freed_cover),
            ("policy", "cover", card_id, freed_cover),
        ]
        after = (left, outstanding, custody, outstanding - custody, card_id)
        await conn.execute(UPDATE_CARD, after)
        result = {"units": 1, "released_from_custody": freed_custody}
        result |= {"released_from_cover": freed_cover}
        result["card"] = card_json(card_id, paid, total, left, custody)
        params = {"card_id": card_id, "units": 1}
        await floor_write(
            conn, link, key, "redemption", legs, params=params, result=result, units=1
        )


async def run_for(op: Op, workers: int, seconds: float, merchants: int) -> float:
    """Operations per second of ``workers`` tasks looping on ``op`` for ``seconds``.

    Worker ``w`` takes merchants ``w, w + workers, w + 2 * workers, ...`` round-robin, so
    concurrent workers hold different merchants' book locks and do not queue on one. Each
    worker does at least one operation, however short the time.
    """
    deadline = time.perf_counter() + seconds

    async def worker(w: int) -> int:
        done = 0
        while done == 0 or time.perf_counter() < deadline:
            await op(w, (w + done * workers) % merchants, next(SERIAL))
            done += 1
        return done

    start = time.perf_counter()
    counts = await asyncio.gather(*(worker(w) for w in range(workers)))
    return sum(counts) / (time.perf_counter() - start)


async def setup(sessions: Sessions, count: int) -> Side:
    """Open ``count`` books through the ledger, each with cards to redeem."""
    merchants = [uuid.uuid4() for _ in range(count)]
    cards: list[list[uuid.UUID]] = []
    for merchant_id in merchants:
        async with sessions() as s, s.begin():
            ledger = EscrowLedger(s)
            await ledger.open_book(merchant_id)
            cards.append([])
            for n in range(CARDS_PER_MERCHANT):
                kind, key = CardKind.STORED_VALUE, f"setup-{n}"
                bought = await ledger.purchase(
                    merchant_id, kind=kind, paid=10 * UNITS, units_total=UNITS, idempotency_key=key
                )
                cards[-1].append(bought.card.card_id)
    return merchants, cards


def escrow_op(name: str, sessions: Sessions, side: Side, done: Done) -> Op:
    merchants, cards = side

    async def op(_w: int, m: int, n: int) -> None:
        async with sessions() as s, s.begin():
            ledger = EscrowLedger(s)
            if name == "purchase":
                kind, key = CardKind.STORED_VALUE, f"p-{n}"
                await ledger.purchase(
                    merchants[m], kind=kind, paid=PRICE, units_total=PRICE, idempotency_key=key
                )
            else:
                card = cards[m][n % CARDS_PER_MERCHANT]
                await ledger.redeem(merchants[m], card, units=1, idempotency_key=f"r-{n}")
        count(done, name)

    return op


def floor_op(name: str, conns: list[Conn], side: Side, done: Done) -> Op:
    merchants, cards = side

    async def op(w: int, m: int, n: int) -> None:
        if name == "purchase":
            await floor_purchase(conns[w], merchants[m], f"p-{n}")
        else:
            await floor_redeem(conns[w], merchants[m], cards[m][n % CARDS_PER_MERCHANT], f"r-{n}")
        count(done, name)

    return op


def count(done: Done, name: str) -> None:
    """One more operation ``name`` committed."""
    if name == "purchase":
        done.purchases += 1
    else:
        done.redemptions += 1


async def cell(
    name: str, workers: int, *, plan: Plan, url: str, escrow: Op, floor_side: Side, done: Done
) -> float:
    """Escrow then floor for one operation and worker count; print the row, return the ratio."""
    seconds, merchants = plan.seconds, plan.merchants
    await run_for(escrow, workers, plan.warmup, merchants)
    escrow_rate = await run_for(escrow, workers, seconds, merchants)
    conns = [await psycopg.AsyncConnection.connect(url, autocommit=True) for _ in range(workers)]
    try:
        floor = floor_op(name, conns, floor_side, done)
        await run_for(floor, workers, plan.warmup, merchants)
        floor_rate = await run_for(floor, workers, seconds, merchants)
    finally:
        for conn in conns:
            await conn.close()
    ratio = escrow_rate / floor_rate
    print(f"{name:<10}{workers:>8}{escrow_rate:>14.1f}{floor_rate:>13.1f}{ratio:>14.2f}")
    return ratio


async def bench(url: str, plan: Plan) -> bool:
    """Measure every cell, then check the database; True if every check holds."""
    pool = max(plan.workers)
    engine = create_engine(url, pool_size=pool)
    sessions = session_factory(engine)
    try:
        async with engine.connect() as conn:
            version = (await conn.execute(sqlalchemy.text("SELECT version()"))).scalar_one()
        print(header(url, version, plan, pool))
        escrow_side = await setup(sessions, plan.merchants)
        floor_side = await setup(sessions, plan.merchants)
        columns = ("escrow ops/s", "floor ops/s", "escrow/floor")
        print(f"{'operation':<10}{'workers':>8}{columns[0]:>14}{columns[1]:>13}{columns[2]:>14}")
        ratios: dict[tuple[str, int], float] = {}
        libpq = libpq_url(url)
        done = Done()
        for name, workers in itertools.product(("purchase", "redeem"), plan.workers):
            escrow = escrow_op(name, sessions, escrow_side, done)
            ratios[name, workers] = await cell(
                name, workers, plan=plan, url=libpq, escrow=escrow, floor_side=floor_side, done=done
            )
        print('\ngoal "escrow reaches at least half of the floor":')
        for (name, workers), ratio in ratios.items():
            verdict = ">= 0.5: met" if ratio >= 0.5 else "< 0.5: NOT met"
            print(f"  {name} x{workers}: escrow/floor = {ratio:.2f} {verdict}")
        return await check(sessions, plan.merchants, done)
    finally:
        await engine.dispose()


async def check(sessions: Sessions, merchants: int, done: Done) -> bool:
    """Recompute the whole bench ledger with ``escrow.verify``; compare it with what was done.

    Print what was found and return True if the ledger verifies and holds exactly the books,
    entries, cards and redeemed units the bench wrote (both sides, warm-ups included).
    """
    started = time.perf_counter()
    async with sessions() as s:
        await s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        report = await verify(s)
        redeemed = await s.scalar(
            sqlalchemy.text("SELECT coalesce(sum(units_total - units_remaining), 0) FROM cards")
        )
    verdict = "the ledger verifies" if report.ok else f"FAILED, {len(report.problems)} problems"
    print(f"\nescrow.verify over the bench database: {verdict}")
    print(
        f"  {report.merchants} books, {report.entries} entries, {report.cards} cards checked in"
        f" {time.perf_counter() - started:.2f}s"
    )
    for problem in report.problems[:10]:
        print(f"  {problem}")
    books, setup_cards = 2 * merchants, 2 * merchants * CARDS_PER_MERCHANT
    expected = {
        "books": (report.merchants, books),
        "entries": (report.entries, setup_cards + done.purchases + done.redemptions),
        "cards": (report.cards, setup_cards + done.purchases),
        "units redeemed": (redeemed, done.redemptions),
    }
    agree = all(found == wanted for found, wanted in expected.values())
    counts = ", ".join(
        f"{what} {found} (bench {wanted})" for what, (found, wanted) in expected.items()
    )
    print(f"  {counts},\n  setup and warm-ups included: {'agree' if agree else 'DISAGREE'}")
    ok = report.ok and agree
    print(f"\nchecks: {'passed' if ok else 'FAILED'}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="shortest run that takes every path and checks the result (CI); figures mean nothing",
    )
    parser.add_argument(
        "--seconds", type=float, help="measured time per cell (default 5; smoke 0.5)"
    )
    parser.add_argument("--workers", help="comma-separated worker counts (default 1,8; smoke 2)")
    parser.add_argument(
        "--merchants",
        type=int,
        help=f"merchants a side, escrow's and the floor's (default {MERCHANTS}; smoke 8)",
    )
    parser.add_argument("--database-url", help="server to use (default: DATABASE_URL or embedded)")
    args = parser.parse_args()
    for name, value in (SMOKE if args.smoke else FULL).items():
        if getattr(args, name, None) is None:  # an option given with --smoke overrides it
            setattr(args, name, value)
    plan = Plan(
        seconds=args.seconds,
        workers=[int(w) for w in args.workers.split(",")],
        merchants=args.merchants,
        warmup=args.warmup,
        smoke=args.smoke,
    )
    if min(*plan.workers, plan.merchants) < 1 or plan.seconds <= 0:
        parser.error("worker counts, --merchants and --seconds must be positive")
    server = async_url(args.database_url) if args.database_url else database_url()
    with scratch_database(server, "pguard_bench") as url:
        ok = asyncio.run(bench(url, plan))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
