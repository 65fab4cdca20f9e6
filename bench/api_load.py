"""Throughput of the HTTP API end to end, against the ``GET /health`` floor.

Starts the real server (``python -m app.cli run``, as ``pguard run``; ``--processes N`` web
processes, default ``PGUARD_PROCESSES`` or 1, as the service runs for users) on a fresh
``pguard_bench_<hex>`` database migrated by Alembic, sets up merchants and consumers through
the API, then drives it from 1 and 8 concurrent asyncio clients (httpx, one keep-alive
connection each) for a fixed time per cell and measures:

* purchases per second: ``POST /orders``, the payment provider's signed notification, and
  ``GET /orders/{id}`` showing the order paid (3 requests an operation);
* redemptions per second: the consumer's ``POST /me/cards/{id}/redemption-code``, then the
  merchant's ``POST /merchants/me/redemptions`` with the 6 digits (2 requests an operation);
* the floor: ``GET /health``, the cheapest request the service is meant to answer. It
  crosses the same client, loopback, uvicorn, Litestar routing and middleware and reads the
  schema revision from the database, but authenticates no one and writes nothing, so every
  API request should cost at least as much: its requests per second bound what any route
  can reach on this machine, and the ratio of an operation's requests per second to it is
  what authentication and the business logic cost on top. A ratio above 1 means /health
  does more work than a floor should, and the bench says so.

Nothing but 127.0.0.1 is contacted. At the end ``pguard ledger verify`` runs over the bench
database, and the paid orders and redemption entries in it are compared with the operations
the bench counted; the script exits with status 1 if either disagrees (any unexpected answer
of the API stops it earlier, with an error). The database is dropped, even on error; the
server is stopped in any case. The figures are never judged.

``--smoke`` is the shortest run that still takes every measured path and checks the result
(CI runs it: tests/test_benchmarks.py): 2 merchants, 2 clients, 0.1 s of warm-up and 0.5 s
measured per cell. Options given with it override its values. Its figures mean nothing.

    python bench/api_load.py [--smoke] [--seconds N] [--clients 1,8] [--merchants N]
                             [--processes N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import litestar
import psycopg
import sqlalchemy
import uvicorn
from sqlalchemy import func, make_url, select

from app.auth.admin import create_staff
from app.auth.models import Role, SandboxSms
from app.cards.models import Order
from app.db import (
    async_url,
    create_engine,
    database_url,
    libpq_url,
    scratch_database,
    session_factory,
)
from app.ledger import verify_ledger
from app.merchants.uscc import CHARSET, check_character
from app.outbox.service import create_insurer
from app.payments.sandbox import SandboxProvider
from app.security.pii import PiiCipher
from app.settings import PROJECT_ROOT, get_settings
from escrow.models import JournalEntry

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sqlalchemy.ext.asyncio import AsyncEngine

    Op = Callable[[httpx.AsyncClient, "Slot"], Awaitable[None]]

MERCHANTS = 16  # at least this many (--merchants); more if more clients, so none share one
DISTRICT = "上城区"
PASSWORD = secrets.token_urlsafe(18)  # of every account the bench makes
BUY_PRICE = 50_000  # ¥500, the card each measured purchase buys
HOLD_PRICE = 500_000  # ¥5,000, the most a registered card may hold: 500,000 1-fen redemptions
BUY = {"name": "储值卡 500 元", "kind": "stored_value", "price": BUY_PRICE, "units": BUY_PRICE}
HOLD = {"name": "储值卡 5000 元", "kind": "stored_value", "price": HOLD_PRICE, "units": HOLD_PRICE}
REAL_NAME = {"real_name": "张三", "id_number": "11010519491231002X"}
REQUESTS = {"health": 1, "purchase": 3, "redeem": 2}
WARMUP_SECONDS = 0.5
FULL = {"seconds": 5.0, "clients": "1,8", "merchants": MERCHANTS, "warmup": WARMUP_SECONDS}
SMOKE = {"seconds": 0.5, "clients": "2", "merchants": 2, "warmup": 0.1}
"""``--smoke``: every measured path once, at 2 clients, on tiny data; the figures mean nothing."""
START_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 15.0
HTTP_TIMEOUT_SECONDS = 60.0
NO_LIMIT = "10000000"  # setup signs in many people from one address
SERVER_ENV = {
    "PGUARD_LOG_LEVEL": "WARNING",
    "PGUARD_SIGN_IN_IP_LIMIT": NO_LIMIT,
    "PGUARD_SIGN_IN_LIMIT": NO_LIMIT,
    "PGUARD_REGISTRATION_LIMIT": NO_LIMIT,
    "PYTHONUNBUFFERED": "1",
}

TROUBLE = ("WARNING", "ERROR", "CRITICAL", "Traceback", "[warning", "[error", "[critical")
"""What marks a server output line as a warning or an error (stdlib or structlog format)."""


class BenchError(RuntimeError):
    """The service answered something a correct run never gets."""


@dataclass(frozen=True)
class Slot:
    """One merchant, with its counter code and product, and one consumer holding a card there."""

    merchant_id: str
    merchant_token: str
    k: str
    s: str
    product_id: str
    consumer_token: str
    card_id: str


@dataclass
class Run:
    """What one timed run of one operation did."""

    ops: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    """How long and how wide the bench runs, and on how many merchants at least."""

    seconds: float
    clients: list[int]
    merchants: int
    warmup: float
    processes: int
    smoke: bool


@dataclass
class Done:
    """Operations completed over the whole bench (warm-ups included), to check the database."""

    purchases: int = 0
    redemptions: int = 0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def new_uscc() -> str:
    """A fresh, valid unified social credit code."""
    body = "9133" + "0102" + "".join(secrets.choice(CHARSET[:10]) for _ in range(9))
    return body + check_character(body)


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# -- the server -------------------------------------------------------------------------


def start_server(url: str, port: int, log: IO[bytes], processes: int) -> subprocess.Popen[bytes]:
    """``python -m app.cli run`` on the bench database, its output into ``log``."""
    env = os.environ | SERVER_ENV | {"DATABASE_URL": libpq_url(url)}
    command = [sys.executable, "-m", "app.cli", "run", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--processes", str(processes)]
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
        command, env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT
    )


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn shuts down gracefully), then SIGKILL if it lingers."""
    if server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def server_output(log: IO[bytes]) -> list[str]:
    """What the server printed, less its start-up banner."""
    log.flush()
    log.seek(0)
    lines = log.read().decode(errors="replace").splitlines()
    return [line for line in lines if not line.startswith("Prepaid Guard on http://")]


def report_output(lines: list[str]) -> None:
    """How much the server printed, and its warnings and errors (or its last lines)."""
    if not lines:
        return
    bad = [line for line in lines if any(mark in line for mark in TROUBLE)]
    print(
        f"\nserver output (PGUARD_LOG_LEVEL={SERVER_ENV['PGUARD_LOG_LEVEL']}): {len(lines)} lines,"
        f" {len(bad)} of them warnings or errors; the last{' of those' if bad else ''}:"
    )
    for line in (bad or lines)[-10:]:
        print(f"  {line[:200]}")


async def wait_healthy(base: str, server: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    """Poll ``GET /health`` until it answers 200; fail if the server dies or takes too long."""
    deadline = time.perf_counter() + START_TIMEOUT_SECONDS
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=5.0) as client:
        while time.perf_counter() < deadline:
            if server.poll() is not None:
                output = "\n".join(server_output(log)[-20:])
                raise BenchError(f"the server exited with {server.returncode}:\n{output}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/health")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise BenchError(f"the server did not answer /health in {START_TIMEOUT_SECONDS}s")


# -- the API as each role drives it -----------------------------------------------------


async def call(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    token: str | None = None,
    *,
    expect: int = 200,
    json: dict[str, Any] | None = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One request; anything but the ``expect`` status stops the bench with the problem."""
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    response = await client.request(method, path, json=json, content=content, headers=sent)
    if response.status_code != expect:
        raise BenchError(
            f"{method} {path}: {response.status_code} (expected {expect}): {response.text[:500]}"
        )
    body: dict[str, Any] = response.json()
    return body


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


class Setup:
    """Makes the merchants, consumers and cards the bench uses, through the API."""

    def __init__(self, client: httpx.AsyncClient, engine: AsyncEngine) -> None:
        self.client = client
        self.sessions = session_factory(engine)
        self.cipher = PiiCipher.from_master_key()
        self.provider = SandboxProvider()

    async def sign_in(self, username: str) -> str:
        body = {"username": username, "password": PASSWORD}
        return str((await call(self.client, "POST", "/auth/sign-in", json=body))["token"])

    async def regulator(self) -> str:
        """A district regulator, made in the database as ``pguard users create`` does."""
        username = f"regulator-{secrets.token_hex(4)}@bench"
        async with self.sessions() as session, session.begin():
            await create_staff(
                session,
                username=username,
                password=PASSWORD,
                role=Role.REGULATOR,
                district=DISTRICT,
            )
        return await self.sign_in(username)

    async def insurer(self) -> str:
        """An insurer's staff member, both made as ``pguard insurers create`` and ``pguard users
        create`` make them; it registers each merchant's policy, as activation needs."""
        username = f"insurer-{secrets.token_hex(4)}@bench"
        async with self.sessions() as session, session.begin():
            made, _ = await create_insurer(session, self.cipher, name=f"保险公司 {username}")
            await create_staff(
                session,
                username=username,
                password=PASSWORD,
                role=Role.INSURER,
                organisation=made.name,
                insurer_id=made.id,
            )
        return await self.sign_in(username)

    async def sms_code(self, phone: str) -> str:
        """The code the sandbox texted, found by the phone's keyed hash (shared master key)."""
        phone_hash = self.cipher.lookup_hash(phone, field="phone")
        async with self.sessions() as session:
            body = await session.scalar(
                select(SandboxSms.body)
                .where(SandboxSms.phone_hash == phone_hash)
                .order_by(SandboxSms.id.desc())
                .limit(1)
            )
        if body is None:
            raise BenchError(
                "no sandbox SMS found by the phone's lookup hash: do the bench and the server"
                " use the same master key (PGUARD_MASTER_KEY or var/master.key)?"
            )
        return body.split("验证码 ")[1][:6]

    async def consumer(self, phone: str) -> str:
        await call(self.client, "POST", "/auth/sms-code", json={"phone": phone}, expect=202)
        body = {"phone": phone, "code": await self.sms_code(phone)}
        return str((await call(self.client, "POST", "/auth/sms-sign-in", json=body))["token"])

    async def slot(self, n: int, regulator: str, insurer: str) -> Slot:
        """An active merchant with two products, a consumer, and a ¥5,000 card to redeem."""
        username = f"bench-shop-{n}-{secrets.token_hex(4)}"
        registration = {
            "uscc": new_uscc(),
            "legal_name": f"杭州示范健身有限公司{n}",
            "industry": "fitness",
            "district": DISTRICT,
            "address": "杭州市上城区解放路1号",
            "owner_username": username,
            "owner_password": PASSWORD,
            "custody_bank": "杭州银行",
            "custody_account": "6222020200112233445",
            "policy_ref": f"PB-{secrets.token_hex(4)}",
        }
        merchant = await call(self.client, "POST", "/merchants", json=registration, expect=201)
        token = await self.sign_in(username)
        await call(self.client, "POST", f"/merchants/{merchant['id']}/approve", regulator)
        policy = {
            "uscc": registration["uscc"],
            "number": registration["policy_ref"],
            "coverage_fen": 10**10,
            "starts_on": "2026-01-01",
        }
        await call(self.client, "POST", "/insurer/policies", insurer, json=policy, expect=201)
        await call(self.client, "POST", "/merchants/me/activate", token)
        products = "/merchants/me/products"
        buy = await call(self.client, "POST", products, token, json=BUY, expect=201)
        hold = await call(self.client, "POST", products, token, json=HOLD, expect=201)
        url = urlsplit((await call(self.client, "GET", "/merchants/me/qr", token))["url"])
        query = parse_qs(url.query)
        k, s = query["k"][0], query["s"][0]
        consumer = await self.consumer(f"139{n:08d}")
        slot = Slot(merchant["id"], token, k, s, buy["id"], consumer, card_id="")
        # the first order puts the consumer's real name on file; later ones need none
        paid = await purchase(self.client, slot, self.provider, hold["id"], REAL_NAME)
        return Slot(merchant["id"], token, k, s, buy["id"], consumer, paid["card_id"])

    async def slots(self, count: int) -> list[Slot]:
        regulator, insurer = await self.regulator(), await self.insurer()
        return list(await asyncio.gather(*(self.slot(n, regulator, insurer) for n in range(count))))


async def purchase(
    client: httpx.AsyncClient,
    slot: Slot,
    provider: SandboxProvider,
    product_id: str | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Order, the provider's signed notification, and the order read back as paid."""
    body = {"merchant_id": slot.merchant_id, "k": slot.k, "s": slot.s}
    body |= {"product_id": product_id or slot.product_id, **(extra or {})}
    token = slot.consumer_token
    placed = await call(client, "POST", "/orders", token, json=body, headers=key(), expect=201)
    headers, notice = provider.notification(placed["provider_order_id"], placed["amount"])
    path = "/payments/sandbox/notify"
    done = await call(client, "POST", path, content=notice, headers=headers)
    if done["outcome"] != "issued":
        raise BenchError(f"the notification of order {placed['id']} was {done['outcome']!r}")
    paid = await call(client, "GET", f"/orders/{placed['id']}", token)
    if paid["status"] != "paid" or not paid["card_id"]:
        raise BenchError(f"order {placed['id']} is {paid['status']} after its notification")
    return paid


# -- the measured operations ------------------------------------------------------------


def operation(name: str, provider: SandboxProvider, done: Done) -> Op:
    async def health(client: httpx.AsyncClient, _slot: Slot) -> None:
        await call(client, "GET", "/health")

    async def buy(client: httpx.AsyncClient, slot: Slot) -> None:
        await purchase(client, slot, provider)
        done.purchases += 1

    async def redeem(client: httpx.AsyncClient, slot: Slot) -> None:
        path = f"/me/cards/{slot.card_id}/redemption-code"
        consent = {"max_units": 1}  # the holder agrees to what this redemption takes
        code = await call(client, "POST", path, slot.consumer_token, json=consent, expect=201)
        body = {"digits": code["digits"], "units": 1}
        path = "/merchants/me/redemptions"
        used = await call(client, "POST", path, slot.merchant_token, json=body, headers=key())
        if used["units"] != 1 or used["replayed"] or used["card"]["card_id"] != slot.card_id:
            raise BenchError(f"unexpected redemption receipt: {used}")
        done.redemptions += 1

    return {"health": health, "purchase": buy, "redeem": redeem}[name]


def lanes(slots: list[Slot], clients: int) -> list[list[Slot]]:
    """Client ``c`` takes slots ``c, c + C, c + 2C, ...``: no two clients share a merchant."""
    return [slots[c::clients] for c in range(clients)]


async def run_for(
    op: Op, clients: list[httpx.AsyncClient], work: list[list[Slot]], s: float
) -> Run:
    """Every client loops on ``op`` over its own slots until ``s`` seconds have passed.

    Each client does at least one operation, however short the time.
    """
    run = Run()
    deadline = time.perf_counter() + s

    async def client_loop(client: httpx.AsyncClient, mine: list[Slot]) -> None:
        n = 0
        while n == 0 or time.perf_counter() < deadline:
            started = time.perf_counter()
            await op(client, mine[n % len(mine)])
            run.latencies.append(time.perf_counter() - started)
            n += 1

    started = time.perf_counter()
    await asyncio.gather(*(client_loop(c, w) for c, w in zip(clients, work, strict=True)))
    run.seconds = time.perf_counter() - started
    run.ops = len(run.latencies)
    return run


async def cell(base: str, op: Op, work: list[list[Slot]], plan: Plan) -> Run:
    """Warm up, then measure, each client on a keep-alive connection of its own."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=base, trust_env=False, timeout=HTTP_TIMEOUT_SECONDS, limits=limits
                )
            )
            for _ in work
        ]
        await run_for(op, clients, work, plan.warmup)
        return await run_for(op, clients, work, plan.seconds)


# -- the report -------------------------------------------------------------------------


def header(version: str, database: str, plan: Plan, slots: int) -> str:
    pool = get_settings().database.pool_size
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    clients, seconds, warmup = plan.clients, plan.seconds, plan.warmup
    smoke = "\nSMOKE RUN: every path once on tiny data; the figures mean nothing\n"
    return f"""\
machine : nproc={os.cpu_count()}, load average {load}, Python {platform.python_version()},
          {platform.platform()},
          litestar {litestar.__version__.formatted(short=True)}, uvicorn {uvicorn.__version__},
          SQLAlchemy {sqlalchemy.__version__}, psycopg {psycopg.__version__},
          httpx {httpx.__version__}
server  : {version}
database: {database} (fresh, migrated by Alembic, dropped at exit)
service : python -m app.cli run --processes {plan.processes} on 127.0.0.1, pool_size={pool}
          a process, log level WARNING; load generator and service share the cores
clients : {", ".join(map(str, clients))} concurrent asyncio clients (httpx, one keep-alive
          connection each); {warmup}s warm-up, then {seconds}s measured, per cell
workload: {slots} active merchants, each with one consumer holding a ¥{HOLD_PRICE // 100:,} card
          there; client c of C takes merchants c, c+C, c+2C, ... so concurrent clients never
          wait on the same merchant's book lock (nor the same card's or consumer's rows)
          purchase = POST /orders (¥{BUY_PRICE // 100} stored-value card)
                     + signed POST /payments/sandbox/notify + GET /orders/{{id}} = paid
          redeem   = POST /me/cards/{{id}}/redemption-code {{"max_units": 1}} (consumer)
                     + POST /merchants/me/redemptions (merchant, 6 digits, 1 unit)
          health   = GET /health, meant as the floor (no sign-in, no write, reads the
                     schema revision): every request should cost at least this
{smoke if plan.smoke else ""}"""


def row(name: str, clients: int, run: Run, floor: float | None) -> float:
    """Print one line of the table; return its requests per second."""
    ops = run.ops / run.seconds
    rps = ops * REQUESTS[name]
    ordered = sorted(run.latencies)
    p50, p99 = percentile(ordered, 0.50) * 1000, percentile(ordered, 0.99) * 1000
    ratio = f"{rps / floor:>10.2f}" if floor else f"{'-':>10}"
    figures = f"{ops:>10.1f}{rps:>10.1f}{p50:>10.1f}{p99:>10.1f}{ratio}"
    print(f"{name:<10}{clients:>8}{figures}{run.ops:>8}")
    return rps


async def measure(base: str, slots: list[Slot], plan: Plan) -> Done:
    done = Done()
    provider = SandboxProvider()
    columns = ("clients", "ops/s", "req/s", "p50 ms", "p99 ms", "/health", "ops")
    print(
        f"{'operation':<10}"
        + "".join(f"{c:>{w}}" for c, w in zip(columns, (8, *[10] * 5, 8), strict=True))
    )
    floors: dict[int, float] = {}
    above = False
    for name in ("health", "purchase", "redeem"):
        for count in plan.clients:
            run = await cell(base, operation(name, provider, done), lanes(slots, count), plan)
            rps = row(name, count, run, floors.get(count))
            if name == "health":
                floors[count] = rps
            else:
                above |= rps > floors[count]
    print(
        "\nops/s: operations a second; req/s: HTTP requests a second (purchase 3, redeem 2,"
        " health 1\nper operation); p50/p99: latency of a whole operation; /health: req/s as a"
        " share of\nthe /health req/s at the same client count; ops: operations measured"
    )
    if above:
        print(
            "a share above 1 means an operation's requests cost less on average than GET /health:"
            "\nhere /health is heavier than the API requests, so it is no floor for them"
        )
    return done


async def check(url: str, engine: AsyncEngine, slots: int, done: Done) -> bool:
    """Verify the ledger; compare what the database holds with what the bench did.

    Print what was found and return True if the ledger verifies and the counts agree.
    """
    started = time.perf_counter()
    report = await verify_ledger(url)
    verdict = "the ledger verifies" if report.ok else f"FAILED, {len(report.problems)} problems"
    print(f"\npguard ledger verify over the bench database: {verdict}")
    print(
        f"  {report.merchants} books, {report.entries} entries, {report.cards} cards checked in"
        f" {time.perf_counter() - started:.2f}s"
    )
    for problem in report.problems[:10]:
        print(f"  {problem}")
    async with session_factory(engine)() as session:
        paid = await session.scalar(
            select(func.count()).select_from(Order).where(Order.status == "paid")
        )
        redeemed = await session.scalar(
            select(func.count()).select_from(JournalEntry).where(JournalEntry.kind == "redemption")
        )
    purchases = done.purchases + slots  # the setup bought one card a slot
    agree = (paid, redeemed) == (purchases, done.redemptions)
    print(
        f"  paid orders {paid} (bench {purchases}, setup included), redemption entries"
        f" {redeemed} (bench {done.redemptions}), warm-ups included:"
        f" {'agree' if agree else 'DISAGREE'}"
    )
    ok = report.ok and agree
    print(f"\nchecks: {'passed' if ok else 'FAILED'}")
    return ok


async def bench(url: str, base: str, plan: Plan) -> bool:
    """Set up, measure every cell, then check the database; True if every check holds."""
    engine = create_engine(url, pool_size=2)
    try:
        async with engine.connect() as conn:
            version = (await conn.execute(sqlalchemy.text("SELECT version()"))).scalar_one()
        count = max(plan.merchants, *plan.clients)
        started = time.perf_counter()
        async with httpx.AsyncClient(
            base_url=base, trust_env=False, timeout=HTTP_TIMEOUT_SECONDS
        ) as client:
            slots = await Setup(client, engine).slots(count)
        print(header(version, make_url(url).database or "?", plan, count))
        print(
            f"setup   : {count} merchants registered, approved, insured, activated;"
            f" {count} consumers"
            f" signed in by SMS code\n          (read from sandbox_sms by the phone's lookup"
            f" hash: ok), each bought its card, in {time.perf_counter() - started:.1f}s\n"
        )
        done = await measure(base, slots, plan)
        return await check(url, engine, count, done)
    finally:
        await engine.dispose()


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
    parser.add_argument("--clients", help="comma-separated client counts (default 1,8; smoke 2)")
    parser.add_argument(
        "--merchants",
        type=int,
        help=f"merchants at least, one a client or more (default {MERCHANTS}; smoke 2)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=get_settings().server.processes,
        help="web processes of the server (default PGUARD_PROCESSES or 1), as `pguard run`",
    )
    parser.add_argument("--database-url", help="server to use (default: DATABASE_URL or embedded)")
    args = parser.parse_args()
    for name, value in (SMOKE if args.smoke else FULL).items():
        if getattr(args, name, None) is None:  # an option given with --smoke overrides it
            setattr(args, name, value)
    plan = Plan(
        seconds=args.seconds,
        clients=[int(c) for c in args.clients.split(",")],
        merchants=args.merchants,
        warmup=args.warmup,
        processes=args.processes,
        smoke=args.smoke,
    )
    if min(*plan.clients, plan.merchants, plan.processes) < 1 or plan.seconds <= 0:
        parser.error("client counts, --merchants, --processes and --seconds must be positive")
    server_url = async_url(args.database_url) if args.database_url else database_url()
    with scratch_database(server_url, "pguard_bench") as url:
        port = free_port()
        with tempfile.TemporaryFile() as log:
            server = start_server(url, port, log, plan.processes)
            try:
                base = f"http://127.0.0.1:{port}"
                asyncio.run(wait_healthy(base, server, log))
                ok = asyncio.run(bench(url, base, plan))
            finally:
                stop_server(server)
                report_output(server_output(log))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
