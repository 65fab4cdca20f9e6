"""Risk ratings: batch re-rating throughput, and how soon a new indicator shows in a rating.

It runs in a fresh ``pguard_bench_<hex>`` database migrated by Alembic and dropped at the end,
even on error, and measures two things:

1. **Batch re-rating.** ``app.risk.service.rerate_all`` over every merchant (by default
   100,000), one transaction per ``--batch`` merchants, as the scheduled re-rating runs it:
   merchants per second and the total time, three times: the first rating (every grade is
   new, so every merchant's grade change is recorded and handled), the nightly re-rating
   (no record changed since, so every merchant's kept inputs hold and only the exit path's
   events are read), and the re-rating again with the kept inputs gone (every merchant read
   from its records, as after a bulk import touched them all). By default the run is
   instrumented (a SQLAlchemy ``before/after_cursor_execute`` listener times every statement
   by what it does, and ``Rater.rate`` / ``Rater._predict`` are wrapped) to say where the
   time goes:
   the advisory locks, the sales snapshot, reading the latest records, the model, writing
   the ratings, and the Python in between; this costs two clock reads a statement
   (``--no-breakdown`` measures without it). Afterwards the ratings table must hold one row
   a merchant, and the grade distribution is printed.
2. **Live re-rating.** ``RerateWorker`` in the same event loop, woken by the queue's NOTIFY
   (LISTEN on a connection of its own; ``--poll`` is its polling interval when it cannot
   listen, each in turn). ``--live`` times: a random merchant gets one new tax
   record (``arrears_fen``, dated yesterday, a unique provenance) through
   ``app.risk.ingest.import_rows`` in its own transaction; the clock starts when the commit
   returns and stops when ``ratings.rated_at`` (polled every 2 ms on a separate connection)
   is later than the commit. Each round starts after a random pause of up to one poll
   interval, so the import lands at a random point of the worker's cycle. For comparison,
   ``rate()`` is called directly for one merchant (no queue, no worker): the rating itself,
   instrumented as above to show where its milliseconds go.

The data. The demo's model is trained first (``app.demo.training.train_model``: a synthetic
world of 2,000 merchants from ``--seed``, as ``pguard scoring train`` would fit it) and
activated before any merchant exists, so activation queues no one.
Merchants are then loaded with psycopg ``COPY`` (not measured as re-rating). Drawing 100,000
synthetic histories would take minutes (about 1.4 ms each) and 26 million records in memory,
so ``--templates`` merchants (10,000) are drawn with ``scoring.synth.generate`` (seed
``--seed + 1``) and every merchant beyond them reuses a template's records under a freshly
drawn code with a valid GB 32100 check character. Only the records a rating today can read
are loaded: per (source, kind), the latest dated before the template's scoring date, shifted
so that the scoring date falls on today (Shanghai), so every record is dated before today.
The tables are ANALYZEd after the load, as autovacuum would do on a live database.

    python bench/rating_speed.py [--merchants 100000] [--seed 7] [--live 200] [--batch 1000]
                            [--poll 0.05,0.25] [--templates 10000] [--no-breakdown]
                            [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import random
import resource
import statistics
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from unittest import mock

import numpy as np
import psycopg
import sklearn
import sqlalchemy
from sqlalchemy import event, make_url

from app.clock import today, utcnow
from app.db import (
    async_url,
    create_engine,
    database_url,
    libpq_url,
    scratch_database,
    session_factory,
)
from app.demo.training import train_model
from app.merchants.uscc import CHARSET, uscc_problem
from app.risk.ingest import Row, fingerprint, import_rows, stored_value
from app.risk.service import LANES, MODELS, Cause, add_model, rate, rerate_all
from app.risk.worker import RerateWorker
from app.wiring import wire
from scoring.indicators import Indicator
from scoring.rating import Rater
from scoring.store import loads
from scoring.synth import check_character, generate

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from scoring.synth import Synthetic

    Sessions = async_sessionmaker[AsyncSession]

DISTRICTS = {  # characters 3 to 8 of the synthetic codes, and the district's name
    "330102": "上城区",
    "330105": "拱墅区",
    "330106": "西湖区",
    "330108": "滨江区",
    "330109": "萧山区",
    "330110": "余杭区",
}
POLL_RATINGS_EVERY = 0.002
LIVE_TIMEOUT = 30.0
GRADES = "ABCDE"

COPY_MERCHANTS = (
    "COPY merchants (id, uscc, legal_name, industry, district, address, status,"
    " custody_ratio_bp, created_at) FROM STDIN"
)
COPY_RECORDS = (
    "COPY indicator_records (merchant_id, source, kind, value, as_of, provenance, fingerprint,"
    " received_at) FROM STDIN"
)
RATED_AT = "SELECT rated_at, cause FROM ratings WHERE merchant_id = %s"

# Statements of a re-rating, by what they do (first match wins); see app/risk/service.py.
STATEMENT_KINDS = (
    ("pg_advisory_xact_lock(hashtext('rating')", "advisory locks and active model version"),
    ("INSERT INTO ratings", "ratings upsert, answering the previous grades"),
    ("FROM orders", "sales figures: sales, discounts, complaints, balances, counts"),
    ("FROM accounts", "sales figures: escrow balances"),
    ("FROM disputes", "complaint counts (a complaint filed)"),
    ("INSERT INTO indicator_records", "platform snapshots upsert"),
    ("DISTINCT ON", "kept inputs, latest records, exit-path events"),
    ("FROM scoring_models", "model file (on a new active version)"),
    ("INSERT INTO rating_changes", "grade changes insert"),
    ("FROM merchants", "next batch of merchant ids"),
)

Record = tuple[str, str, str, date, str, bytes]  # source, kind, JSON value, as_of, prov., fp


@dataclass(frozen=True)
class Template:
    """One synthetic merchant's records that a rating today reads, ready to COPY."""

    uscc: str
    records: tuple[Record, ...]


@dataclass
class Timings:
    """Time spent per statement kind and in the model, summed over a run."""

    statements: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    rater: list[float] = field(default_factory=list)
    predict: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def header(url: str, version: str, args: argparse.Namespace) -> str:
    """What ran where, and how, printed above the figures."""
    return f"""\
machine : nproc={os.cpu_count()}, Python {platform.python_version()}
          SQLAlchemy {sqlalchemy.__version__}, psycopg {psycopg.__version__}\
 ({psycopg.pq.__impl__}), scikit-learn {sklearn.__version__}, numpy {np.__version__}
server  : {version}
database: {make_url(url).database} (fresh, migrated by Alembic, dropped at exit)
workload: {args.merchants} merchants; batch re-rating with rerate_all(batch={args.batch},
          lanes={args.lanes});
          {args.live} live re-rates per worker poll interval ({args.poll} s) and {args.live}
          direct rate() calls for one merchant
"""


def train(seed: int) -> tuple[bytes, str]:
    """The demo's live model file (``app.demo.training``), and a line saying what it is."""
    data = train_model(seed)
    saved = loads(data, origin="the bench's model")
    rows, positives = saved.training["rows"], saved.training["positives"]
    return data, f"{saved.model_version}: {rows} rows, {positives} defaulted"


def templates(world: Synthetic, day: date) -> list[Template]:
    """Per merchant, the latest record of each (source, kind) before its scoring date, re-dated.

    The scoring date is moved to ``day``, so every record lands before it.
    """
    out = []
    for merchant in world.merchants:
        latest: dict[tuple[str, str], Indicator] = {}
        for record in world.records[merchant.uscc]:  # in date order: the last one wins
            if record.as_of < merchant.scoring_date:
                latest[record.source.value, record.kind] = record
        shift = day - merchant.scoring_date
        records = []
        for (source, kind), record in sorted(latest.items()):
            moved = Indicator(
                record.uscc, record.source, kind, record.value, record.as_of + shift,
                record.provenance,
            )  # fmt: skip
            value = json.dumps(stored_value(record.value))
            records.append((source, kind, value, moved.as_of, moved.provenance, fingerprint(moved)))
        out.append(Template(merchant.uscc, tuple(records)))
    return out


def codes(rng: random.Random, first: Sequence[str], count: int) -> Iterator[str]:
    """``first``, then fresh codes (same shape, valid check character) until ``count``."""
    taken = set(first)
    yield from first[:count]
    districts = sorted(DISTRICTS)
    for _ in range(count - min(count, len(first))):
        while True:
            head = ("92" if rng.random() < 0.3 else "91") + rng.choice(districts)
            first17 = head + "".join(rng.choices(CHARSET, k=9))
            code = first17 + check_character(first17)
            if code not in taken:
                break
        if uscc_problem(code):  # pragma: no cover - a bench self-check
            raise RuntimeError(f"drew an invalid code {code}: {uscc_problem(code)}")
        taken.add(code)
        yield code


def load(url: str, shapes: list[Template], count: int, seed: int) -> list[tuple[uuid.UUID, str]]:
    """COPY ``count`` merchants and their records; merchant i reuses template i mod templates."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    merchants = []
    with psycopg.connect(libpq_url(url)) as conn, conn.cursor() as cur:
        with cur.copy(COPY_MERCHANTS) as copy:
            for n, code in enumerate(codes(rng, [t.uscc for t in shapes], count)):
                merchant_id = uuid.UUID(int=rng.getrandbits(128), version=4)
                district = DISTRICTS[code[2:8]]
                name = f"杭州{district}测试商户{n:06d}有限公司"
                address = f"杭州市{district}文三路{n % 999 + 1}号"
                row = (merchant_id, code, name, "retail", district, address, "active", 3000, now)
                copy.write_row(row)
                merchants.append((merchant_id, code))
        with cur.copy(COPY_RECORDS) as copy:
            for n, (merchant_id, _) in enumerate(merchants):
                for record in shapes[n % len(shapes)].records:
                    copy.write_row((merchant_id, *record, now))
        conn.commit()
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("ANALYZE")
    return merchants


def summary(values: Sequence[float], *, unit: float = 1000.0) -> str:
    """Median, p90, p99 and max of ``values`` (seconds), in ms by default."""
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * unit

    median = statistics.median(ordered) * unit
    return f"median {median:7.1f}  p90 {at(0.9):7.1f}  p99 {at(0.99):7.1f}  max {at(1):7.1f} ms"


@contextlib.contextmanager
def instrumented(engine: AsyncEngine, timings: Timings) -> Iterator[None]:
    """Time every statement on ``engine``, and the model, until the block ends."""

    def before(conn: Any, *_: Any) -> None:  # noqa: ANN401
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:  # noqa: ANN401
        spent = time.perf_counter() - conn.info["bench_started"].pop()
        kind = next((k for text, k in STATEMENT_KINDS if text in statement), "other statements")
        timings.statements[kind].append(spent)

    def timed(method: Callable[..., Any], into: list[float]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                with timings.lock:
                    into.append(time.perf_counter() - started)

        return wrapper

    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", before)
    event.listen(sync, "after_cursor_execute", after)
    rater_assess = timed(Rater.assess, timings.rater)
    rater_attribute = timed(Rater.attribute, timings.predict)
    try:
        with (
            mock.patch.object(Rater, "assess", rater_assess),
            mock.patch.object(Rater, "attribute", rater_attribute),
        ):
            yield
    finally:
        event.remove(sync, "before_cursor_execute", before)
        event.remove(sync, "after_cursor_execute", after)


def breakdown(timings: Timings, total: float, rounds: int | None = None) -> None:
    """Where ``total`` seconds went, largest first: in all, or in ms a round if ``rounds``."""
    scale, unit = (1.0, "s ") if rounds is None else (1000.0 / rounds, "ms")

    def line(what: str, spent: float, count: str = "") -> None:
        print(f"    {what:<44}{spent * scale:>8.2f} {unit} {spent / total:>6.1%}  {count}")

    rows = [(k, sum(v), len(v)) for k, v in timings.statements.items()]
    database = sum(spent for _, spent, _ in rows)
    model, predict = sum(timings.rater), sum(timings.predict)
    for kind, spent, calls in sorted(rows, key=lambda r: -r[1]):
        line(kind, spent, f"{calls} statements")
    line("= all statements (round trips included)", database)
    line("Rater.assess (model, grades, reasons)", model, f"{len(timings.rater)} calls")
    line("  of which Rater.attribute (scores, walks)", predict, f"{len(timings.predict)} calls")
    line("rest: ORM, Python, commits, thread hand-off", total - database - model)


async def batch(
    engine: AsyncEngine, sessions: Sessions, args: argparse.Namespace
) -> tuple[float, Timings]:
    """Re-rate every merchant with ``rerate_all``; return the seconds and the breakdown."""
    timings = Timings()
    guard = contextlib.nullcontext() if args.no_breakdown else instrumented(engine, timings)
    with guard:
        started = time.perf_counter()
        rated = await rerate_all(sessions, batch=args.batch, lanes=args.lanes)
        seconds = time.perf_counter() - started
    if rated != args.merchants:
        raise RuntimeError(f"rerate_all rated {rated} merchants, not {args.merchants}")
    return seconds, timings


async def check_ratings(sessions: Sessions, expected: int) -> None:
    """One rating a merchant, and how the grades fall."""
    async with sessions() as s:
        rows = await s.execute(sqlalchemy.text("SELECT grade, count(*) FROM ratings GROUP BY 1"))
        grades = Counter(dict(rows.all()))
        changes = await s.scalar(sqlalchemy.text("SELECT count(*) FROM rating_changes"))
    total = grades.total()
    verdict = "ok" if total == expected else f"WRONG, expected {expected}"
    print(f"  ratings rows  {total} ({verdict}); grade changes recorded {changes}")
    shares = "  ".join(f"{g} {grades[g]} ({grades[g] / max(total, 1):.1%})" for g in GRADES)
    print(f"  grades        {shares}")
    if total != expected:
        raise RuntimeError(f"{total} ratings stored for {expected} merchants")


async def wait_rated(
    conn: psycopg.AsyncConnection[Any], merchant_id: uuid.UUID, after: datetime
) -> str:
    """Poll the merchant's rating until it is later than ``after``; return its cause."""
    deadline = time.perf_counter() + LIVE_TIMEOUT
    while time.perf_counter() < deadline:
        row = await (await conn.execute(RATED_AT, (merchant_id,))).fetchone()
        if row is not None and row[0] > after:
            return str(row[1])
        await asyncio.sleep(POLL_RATINGS_EVERY)
    raise TimeoutError(f"merchant {merchant_id} was not re-rated within {LIVE_TIMEOUT}s")


async def live(
    sessions: Sessions,
    conn: psycopg.AsyncConnection[Any],
    merchants: Sequence[tuple[uuid.UUID, str]],
    *,
    rounds: int,
    interval: float,
    rng: random.Random,
) -> list[float]:
    """Seconds from the commit of one new record to the merchant's new rating, ``rounds`` times."""
    yesterday = (today() - timedelta(days=1)).isoformat()
    token = uuid.uuid4().hex
    latencies = []
    worker = RerateWorker(sessions, interval=interval)
    worker.start()
    try:
        for n in range(rounds):
            await asyncio.sleep(rng.uniform(0, interval))
            merchant_id, code = rng.choice(merchants)
            arrears = float(rng.randrange(0, 5_000_000))
            provenance = f"bench:live:{token}:{interval}:{n}"
            row = Row(1, code, "tax", "arrears_fen", arrears, yesterday, provenance)
            async with sessions() as s:
                async with s.begin():
                    report = await import_rows(
                        s,
                        [row],
                        channel="api",
                        origin="bench/rating_speed.py",
                        digest=hashlib.sha256(provenance.encode()).digest(),
                        source="tax",
                        on_error="refuse",
                        imported_by=None,
                    )
                    if report.accepted != 1:
                        raise RuntimeError(f"the live record was not accepted: {report.to_dict()}")
                    committing = utcnow()  # any rating the commit causes is stamped later
                started = time.perf_counter()
            cause = await wait_rated(conn, merchant_id, committing)
            latencies.append(time.perf_counter() - started)
            if not cause.startswith("indicator tax/arrears_fen"):
                raise RuntimeError(f"merchant {merchant_id} was re-rated for {cause!r}")
    finally:
        await worker.stop()
    return latencies


async def direct(
    engine: AsyncEngine,
    sessions: Sessions,
    merchants: Sequence[tuple[uuid.UUID, str]],
    rounds: int,
    rng: random.Random,
) -> tuple[list[float], list[float], Timings]:
    """Seconds of ``rate()`` for one merchant, and of its whole transaction, ``rounds`` times."""
    rating, transaction, timings = [], [], Timings()
    with instrumented(engine, timings):
        for _ in range(rounds):
            merchant_id, _code = rng.choice(merchants)
            started = time.perf_counter()
            async with sessions() as s, s.begin():
                began = time.perf_counter()
                await rate(s, {merchant_id: Cause("bench: direct re-rate")})
                rating.append(time.perf_counter() - began)
            transaction.append(time.perf_counter() - started)
    return rating, transaction, timings


async def prepare(
    url: str, sessions: Sessions, args: argparse.Namespace
) -> list[tuple[uuid.UUID, str]]:
    """Train and activate a model, load the merchants and their records; return the merchants."""
    started = time.perf_counter()
    data, about = await asyncio.to_thread(train, args.seed)
    async with sessions() as s, s.begin():
        model_version, queued = await add_model(s, data, activate=True, by=None)
    print(f"model   : {about}; trained and activated in {time.perf_counter() - started:.1f}s"
          f" ({queued} merchants queued)")  # fmt: skip

    started = time.perf_counter()
    count = min(args.templates, args.merchants)
    world = await asyncio.to_thread(generate, count, args.seed + 1)
    shapes = templates(world, today())
    del world
    records = sum(len(t.records) for t in shapes)
    print(f"world   : {count} synthetic merchants drawn (seed {args.seed + 1}) in"
          f" {time.perf_counter() - started:.1f}s, reduced to\n          the latest record"
          f" of each kind before the scoring date ({records / count:.1f} a merchant),\n"
          "          re-dated so that the scoring date is today")  # fmt: skip
    if args.merchants > count:
        print(f"          the other {args.merchants - count} merchants reuse those records"
              f" (merchant i: template i mod {count})\n          under freshly drawn"
              " codes with valid GB 32100 check characters")  # fmt: skip

    started = time.perf_counter()
    merchants = await asyncio.to_thread(load, url, shapes, args.merchants, args.seed)
    async with sessions() as s:
        stored = await s.scalar(sqlalchemy.text("SELECT count(*) FROM indicator_records"))
    print(f"load    : {len(merchants)} merchants and {stored} indicator records by COPY,"
          f" then ANALYZE,\n          in {time.perf_counter() - started:.1f}s (not part of"
          " any figure below)")  # fmt: skip

    started = time.perf_counter()
    async with sessions() as s:
        await MODELS.active(s)
    print(f"          model {model_version} loaded from the database into this process in"
          f" {time.perf_counter() - started:.2f}s\n")  # fmt: skip
    return merchants


async def bench(url: str, args: argparse.Namespace) -> None:
    engine = create_engine(url)
    sessions = session_factory(engine)
    rng = random.Random(args.seed)
    try:
        async with engine.connect() as conn:
            version = (await conn.execute(sqlalchemy.text("SELECT version()"))).scalar_one()
        print(header(url, version, args))
        merchants = await prepare(url, sessions, args)

        for what in (
            "first rating (every grade is new)",
            "re-rating (the nightly batch)",
            "re-rating, every merchant read from its records (as after a bulk import)",
        ):
            if what.startswith("re-rating, every"):
                async with sessions() as s, s.begin():
                    await s.execute(sqlalchemy.text("DELETE FROM rating_inputs"))
            print(
                f"batch, {what}: rerate_all(batch={args.batch}, lanes={args.lanes}),"
                " one transaction per batch"
            )
            seconds, timings = await batch(engine, sessions, args)
            print(f"  merchants     {args.merchants}")
            print(f"  seconds       {seconds:.2f}")
            print(f"  merchants/s   {args.merchants / seconds:.0f}")
            if not args.no_breakdown:
                print("  where the time went (wall clock; the model runs in a worker thread):")
                breakdown(timings, seconds)
            await check_ratings(sessions, args.merchants)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"  peak RSS of this process so far: {peak:.0f} MiB\n")

        libpq = libpq_url(url)
        async with await psycopg.AsyncConnection.connect(libpq, autocommit=True) as poller:
            for interval in args.poll:
                print(f"\nlive re-rating: RerateWorker(interval={interval}), {args.live} rounds")
                latencies = await live(
                    sessions, poller, merchants, rounds=args.live, interval=interval, rng=rng
                )
                print(f"  commit -> new rating   {summary(latencies)}")
        rating, transaction, timings = await direct(engine, sessions, merchants, args.live, rng)
        print(f"\ndirect rate() for one merchant, no queue: {args.live} rounds")
        print(f"  rate()                 {summary(rating)}")
        print(f"  its transaction        {summary(transaction)}")
        print("  where a transaction's time went (mean a round):")
        breakdown(timings, sum(transaction), rounds=len(transaction))
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merchants", type=int, default=100_000, help="merchants to re-rate")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic worlds")
    parser.add_argument("--live", type=int, default=200, help="live re-rates per poll interval")
    parser.add_argument("--batch", type=int, default=1000, help="merchants per transaction")
    parser.add_argument(
        "--lanes", type=int, default=LANES, help="batches rated at once (rerate_all lanes)"
    )
    parser.add_argument(
        "--poll", default="0.05,0.25", help="comma-separated worker poll intervals, seconds"
    )
    parser.add_argument(
        "--templates", type=int, default=10_000, help="synthetic histories drawn (then reused)"
    )
    parser.add_argument("--no-breakdown", action="store_true", help="time the batch bare")
    parser.add_argument("--database-url", help="server to use (default: DATABASE_URL or embedded)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="the shortest run through every path (300 merchants, 5 rounds): proves the bench"
        " runs and its ratings check out; the figures mean nothing",
    )
    args = parser.parse_args()
    if args.smoke:
        args.merchants, args.templates, args.live, args.batch = 300, 100, 5, 100
        args.poll = "0.25"
        print("SMOKE RUN: every path once on tiny data; the figures mean nothing")
    args.poll = [float(p) for p in args.poll.split(",")]
    if (
        min(args.merchants, args.live, args.batch, args.templates, args.lanes) < 1
        or min(args.poll) <= 0
    ):
        parser.error("counts and poll intervals must be positive")
    server = async_url(args.database_url) if args.database_url else database_url()
    wire()  # ratings and imports publish events: their handlers first
    with scratch_database(server, "pguard_bench") as url:
        asyncio.run(bench(url, args))
    print("checks: passed (one rating a merchant after each batch; every live re-rate seen)")


if __name__ == "__main__":
    main()
