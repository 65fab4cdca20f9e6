"""Throughput of the escrow ledger against a hand-written psycopg floor.

Measures purchases and redemptions per second through ``escrow.EscrowLedger`` (SQLAlchemy,
one session and transaction per operation) at 1 and 8 concurrent workers, and the same rows
written by plain psycopg with no ORM: the *floor*, the cost of the SQL and the round trips
themselves. Their ratio is what the framework costs; the goal is that escrow reaches at
least half of the floor. It runs in a fresh ``pguard_bench_<hex>`` database migrated by
Alembic (so every trigger is on) and drops it at the end.

    python bench/ledger.py [--seconds N] [--workers 1,8] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import os
import platform
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg
import sqlalchemy
from psycopg import sql
from psycopg.types.json import Jsonb
from sqlalchemy import make_url

from app.db import async_url, create_engine, database_url, session_factory, upgrade_schema
from escrow import CardKind, EscrowLedger, verify
from escrow.chain import Leg, entry_hash
from escrow.money import DEFAULT_CUSTODY_RATIO_BP, custody_part, refundable, split

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    Op = Callable[[int, int, int], Awaitable[None]]  # (worker, merchant index, serial)
    Conn = psycopg.AsyncConnection[Any]
    Side = tuple[list[uuid.UUID], list[list[uuid.UUID]]]  # merchants, their cards

MERCHANTS = 64
CARDS_PER_MERCHANT = 4
PRICE = 10_000  # a ¥100 stored-value card, face value = price
RATIO = DEFAULT_CUSTODY_RATIO_BP
UNITS = 10**11  # units of a setup card, never used up here; it costs 10 fen a unit
WARMUP_SECONDS = 0.5
SERIAL = itertools.count()  # idempotency keys are unique across the whole run

LOCK_BOOK = "SELECT seq, head_hash, status FROM merchant_books WHERE merchant_id = %s FOR UPDATE"
SEEN_KEY = "SELECT request_hash FROM idempotency_records WHERE merchant_id = %s AND key = %s"
INSERT_CARD = (
    "INSERT INTO cards (id, merchant_id, kind, status, paid, units_total, units_remaining,"
    " custody_ratio_bp, outstanding, custody_share, insured_share, created_at)"
    " VALUES (%s, %s, 'stored_value', 'open', %s, %s, %s, %s, %s, %s, %s, %s)"
)
INSERT_ENTRY = (
    "INSERT INTO journal_entries (merchant_id, seq, kind, card_id, units, idempotency_key,"
    " created_at, prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
INSERT_POSTINGS = (
    "INSERT INTO postings (merchant_id, seq, line, account, ledger, card_id, amount) VALUES "
)
LOCK_CARD = (
    "SELECT status, paid, units_total, units_remaining, custody_ratio_bp, custody_share,"
    " insured_share FROM cards WHERE merchant_id = %s AND id = %s FOR UPDATE"
)
UPDATE_CARD = (
    "UPDATE cards SET units_remaining = %s, outstanding = %s, custody_share = %s,"
    " insured_share = %s WHERE id = %s"
)
UPDATE_BOOK = "UPDATE merchant_books SET seq = %s, head_hash = %s WHERE merchant_id = %s"
INSERT_RECORD = (
    "INSERT INTO idempotency_records (merchant_id, key, operation, request_hash, result,"
    " created_at) VALUES (%s, %s, %s, %s, %s, %s)"
)
CARD_FIELDS = ("card_id", "status", "paid", "units_total", "units_remaining", "outstanding")


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as psycopg wants it (a unix socket stays in ``?host=``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def card_json(card_id: uuid.UUID, paid: int, total: int, left: int, custody: int) -> dict:
    """The card part of a receipt, as the real one stores it."""
    out = refundable(paid, left, total)
    card = dict(zip(CARD_FIELDS, (str(card_id), "open", paid, total, left, out), strict=True))
    return card | {"custody_share": custody, "insured_share": out - custody}


async def floor_begin(conn: Conn, merchant_id: uuid.UUID, key: str) -> tuple[int, bytes]:
    """Lock the book, refuse a used key (as a replay would); return the next seq and head."""
    seq, head, status = await (await conn.execute(LOCK_BOOK, (merchant_id,))).fetchone()  # type: ignore[misc]
    if await (await conn.execute(SEEN_KEY, (merchant_id, key))).fetchone() is not None:
        raise RuntimeError(f"idempotency key {key} already used")
    if status != "open":
        raise RuntimeError(f"book {merchant_id} is {status}")
    return seq + 1, head


async def floor_write(
    conn: Conn,
    merchant_id: uuid.UUID,
    link: tuple[int, bytes],
    kind: str,
    key: str,
    *,
    legs: list[tuple[str, str, uuid.UUID, int]],
    params: dict[str, Any],
    result: dict[str, Any],
    units: int | None = None,
) -> None:
    """Append the entry, its postings, the chain head and the idempotency record."""
    (seq, head), now, card_id = link, datetime.now(UTC), legs[0][2]
    chained = [Leg(n, *leg) for n, leg in enumerate((g for g in legs if g[3]), start=1)]
    digest = entry_hash(
        head, merchant_id=merchant_id, seq=seq, kind=kind, card_id=card_id, units=units,
        idempotency_key=key, created_at=now, legs=chained,
    )  # fmt: skip
    entry = (merchant_id, seq, kind, card_id, units, key, now, head, digest)
    await conn.execute(INSERT_ENTRY, entry)
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chained))
    rows = [(merchant_id, seq, g.line, g.account, g.ledger, g.card_id, g.amount) for g in chained]
    await conn.execute(INSERT_POSTINGS + values, [v for row in rows for v in row])
    await conn.execute(UPDATE_BOOK, (seq, digest, merchant_id))
    request = json.dumps({"op": kind, **params}, sort_keys=True, default=str).encode()
    result |= {"merchant_id": str(merchant_id), "seq": seq, "replayed": False}
    record = (merchant_id, key, kind, hashlib.sha256(request).digest(), Jsonb(result), now)
    await conn.execute(INSERT_RECORD, record)


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
        await floor_write(conn, merchant_id, link, "purchase", key, legs=legs,
                          params=params, result=result)  # fmt: skip


async def floor_redeem(conn: Conn, merchant_id: uuid.UUID, card_id: uuid.UUID, key: str) -> None:
    """One redemption of 1 unit: entry, 4 postings, card, head, record."""
    async with conn.transaction():
        link = await floor_begin(conn, merchant_id, key)
        card = await (await conn.execute(LOCK_CARD, (merchant_id, card_id))).fetchone()
        if card is None or card[0] != "open" or card[3] < 1:
            raise RuntimeError(f"card {card_id} cannot be redeemed: {card}")
        _, paid, total, left, ratio, custody_was, insured_was = card
        outstanding = refundable(paid, left - 1, total)
        custody = custody_part(outstanding, ratio)
        freed_custody, freed_cover = custody_was - custody, insured_was - (outstanding - custody)
        legs = [
            ("custody", "money", card_id, -freed_custody),
            ("merchant", "money", card_id, freed_custody),
            ("cards_cover", "cover", card_id, -freed_cover),
            ("policy", "cover", card_id, freed_cover),
        ]
        new_card = (left - 1, outstanding, custody, outstanding - custody, card_id)
        await conn.execute(UPDATE_CARD, new_card)
        result = {"units": 1, "released_from_custody": freed_custody}
        result |= {"released_from_cover": freed_cover}
        result["card"] = card_json(card_id, paid, total, left - 1, custody)
        await floor_write(conn, merchant_id, link, "redemption", key, legs=legs, units=1,
                          params={"card_id": card_id, "units": 1}, result=result)  # fmt: skip


async def run_for(op: Op, workers: int, seconds: float) -> float:
    """Operations per second of ``workers`` tasks looping on ``op`` for ``seconds``.

    Worker ``w`` takes merchants ``w, w + workers, w + 2 * workers, ...`` round-robin, so
    concurrent workers hold different merchants' book locks and do not queue on one.
    """
    deadline = time.perf_counter() + seconds

    async def worker(w: int) -> int:
        done = 0
        while time.perf_counter() < deadline:
            await op(w, (w + done * workers) % MERCHANTS, next(SERIAL))
            done += 1
        return done

    start = time.perf_counter()
    counts = await asyncio.gather(*(worker(w) for w in range(workers)))
    return sum(counts) / (time.perf_counter() - start)


async def setup(sessions: async_sessionmaker[AsyncSession]) -> Side:
    """Open ``MERCHANTS`` books, each with cards to redeem (10 fen a unit: 4 postings each)."""
    merchants = [uuid.uuid4() for _ in range(MERCHANTS)]
    cards: list[list[uuid.UUID]] = []
    for merchant_id in merchants:
        async with sessions() as s, s.begin():
            ledger = EscrowLedger(s)
            await ledger.open_book(merchant_id)
            bought = [
                await ledger.purchase(merchant_id, kind=CardKind.STORED_VALUE, paid=10 * UNITS,
                                      units_total=UNITS, idempotency_key=f"setup-{n}")
                for n in range(CARDS_PER_MERCHANT)
            ]  # fmt: skip
        cards.append([r.card.card_id for r in bought])
    return merchants, cards


def escrow_op(name: str, sessions: async_sessionmaker[AsyncSession], side: Side) -> Op:
    merchants, cards = side

    async def op(_w: int, m: int, n: int) -> None:
        async with sessions() as s, s.begin():
            ledger = EscrowLedger(s)
            if name == "purchase":
                await ledger.purchase(merchants[m], kind=CardKind.STORED_VALUE, paid=PRICE,
                                      units_total=PRICE, idempotency_key=f"p-{n}")  # fmt: skip
            else:
                card = cards[m][n % CARDS_PER_MERCHANT]
                await ledger.redeem(merchants[m], card, units=1, idempotency_key=f"r-{n}")

    return op


def floor_op(name: str, conns: list[Conn], side: Side) -> Op:
    merchants, cards = side

    async def op(w: int, m: int, n: int) -> None:
        if name == "purchase":
            await floor_purchase(conns[w], merchants[m], f"p-{n}")
        else:
            await floor_redeem(conns[w], merchants[m], cards[m][n % CARDS_PER_MERCHANT], f"r-{n}")

    return op


async def bench(url: str, seconds: float, worker_counts: list[int]) -> None:
    engine = create_engine(url, pool_size=max(worker_counts))
    sessions = session_factory(engine)
    try:
        async with engine.connect() as conn:
            version = (await conn.execute(sqlalchemy.text("SELECT version()"))).scalar_one()
        print(
            f"machine : nproc={os.cpu_count()}, Python {platform.python_version()},"
            f" SQLAlchemy {sqlalchemy.__version__}, psycopg {psycopg.__version__}"
        )
        print(f"server  : {version}")
        print(f"database: {make_url(url).database} (fresh, migrated by Alembic, dropped at exit)")
        print(
            f"workload: {MERCHANTS} merchants for escrow and {MERCHANTS} others for the floor;"
            " worker w takes merchants w, w+W, w+2W, ... round-robin,\n          so concurrent"
            " workers never wait on the same merchant's book lock. One transaction per op."
        )
        print(
            f"          purchase = one ¥{PRICE // 100} stored-value card (5 postings); redeem"
            f" = 1 unit of one of {CARDS_PER_MERCHANT} setup cards a merchant (4 postings)"
        )
        print(f"          {WARMUP_SECONDS}s warm-up, then {seconds}s measured, per cell")
        print(
            "escrow  : EscrowLedger, one AsyncSession per op from app.db.create_engine"
            f" (pool_size={max(worker_counts)}, pool_pre_ping on)"
        )
        print("floor   : hand-written SQL, one psycopg AsyncConnection per worker\n")  # fmt: skip
        escrow_side, floor_side = await setup(sessions), await setup(sessions)
        rows: list[tuple[str, int, float, float]] = []
        print(f"{'operation':<10}{'workers':>8}{'escrow ops/s':>14}{'floor ops/s':>13}"
              f"{'escrow/floor':>14}")  # fmt: skip
        for name, workers in itertools.product(("purchase", "redeem"), worker_counts):
            await run_for(escrow_op(name, sessions, escrow_side), workers, WARMUP_SECONDS)
            escrow_rate = await run_for(escrow_op(name, sessions, escrow_side), workers, seconds)
            conns = [await psycopg.AsyncConnection.connect(libpq_url(url), autocommit=True)
                     for _ in range(workers)]  # fmt: skip
            try:
                await run_for(floor_op(name, conns, floor_side), workers, WARMUP_SECONDS)
                floor_rate = await run_for(floor_op(name, conns, floor_side), workers, seconds)
            finally:
                for conn in conns:
                    await conn.close()
            rows.append((name, workers, escrow_rate, floor_rate))
            ratio = escrow_rate / floor_rate
            print(f"{name:<10}{workers:>8}{escrow_rate:>14.1f}{floor_rate:>13.1f}{ratio:>14.2f}")
        print('\ngoal "escrow reaches at least half of the floor":')
        for name, workers, escrow_rate, floor_rate in rows:
            ratio = escrow_rate / floor_rate
            verdict = ">= 0.5: met" if ratio >= 0.5 else "< 0.5: NOT met"
            print(f"  {name} x{workers}: {ratio:.2f} {verdict}")
        await check(sessions)
    finally:
        await engine.dispose()


async def check(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Recompute the whole bench ledger with ``escrow.verify`` and say whether it holds."""
    started = time.perf_counter()
    async with sessions() as s:
        await s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        report = await verify(s)
    print(f"\nverify: {'OK' if report.ok else 'FAILED'}, {report.merchants} books,"
          f" {report.entries} entries, {report.cards} cards, {len(report.problems)} problems,"
          f" in {time.perf_counter() - started:.2f}s")  # fmt: skip
    for problem in report.problems[:10]:
        print(f"  {problem}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time per cell")
    parser.add_argument("--workers", default="1,8", help="comma-separated worker counts")
    parser.add_argument("--database-url", help="server to use (default: DATABASE_URL or embedded)")
    args = parser.parse_args()
    worker_counts = [int(w) for w in args.workers.split(",")]
    server = async_url(args.database_url) if args.database_url else database_url()
    name = f"pguard_bench_{secrets.token_hex(6)}"
    with psycopg.connect(libpq_url(server), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        upgrade_schema(url)
        asyncio.run(bench(url, seconds=args.seconds, worker_counts=worker_counts))
    finally:
        with psycopg.connect(libpq_url(server), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
