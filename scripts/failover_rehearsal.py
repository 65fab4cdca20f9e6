"""Kill the primary PostgreSQL under load; check that no acknowledged purchase is lost or doubled.

Run on demand by ``scripts/failover-rehearsal``, never by ``make test``: it takes a minute or
two and needs Debian's ``pg_autoctl`` (``postgresql-15-auto-failover``, ``pg-auto-failover-cli``).

In a temporary directory it starts a pg_auto_failover monitor and two nodes, a primary and
its synchronous standby, on loopback ports; creates and migrates the database with ``pguard
db upgrade`` over the URL ``pg_autoctl show uri`` prints (both servers in it); sets up
merchants and consumers through the API as ``bench/api_load.py`` does; and starts two ``pguard
run`` (workers in process). Clients buy cards through both (order, the provider's signed
notification, the order read back as paid), retrying a 503 or a refused connection with the
same idempotency key and the same notification, and record every purchase the service
acknowledged. Mid-load the primary's postmaster is killed with SIGKILL, and its pg_autoctl
with it (left alive, it would start PostgreSQL again at once and nothing would fail over);
the monitor promotes the standby and the clients go on. At the end the new primary must hold
each acknowledged purchase's paid order, card and journal entry, none twice, and ``pguard
ledger verify`` must pass. One line goes to stdout::

    acknowledged N, missing 0, duplicated 0, ledger ok, outage S s

(outage: the longest time in which no purchase was acknowledged); progress goes to stderr.
Exit status 0 when nothing is missing or doubled, the ledger verifies, purchases were
acknowledged after the failover and no request got an answer other than its own or a 503.
Everything is stopped and the directory removed, also on failure or Ctrl-C.

PostgreSQL refuses to run as root: as root, the pg_autoctl processes run as ``postgres``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import getpass
import importlib.util
import itertools
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import psycopg
from psycopg import sql

import app.models  # noqa: F401 - every table's mapper, for the setup's own writes
from app.db import create_engine, libpq_url
from app.payments.sandbox import SandboxProvider

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
PG_BINDIR = Path(os.environ.get("PG_BINDIR", "/usr/lib/postgresql/15/bin"))
DATABASE = "pguard"
NODES = ("node1", "node2")
FAST_FAILOVER = {
    "pgautofailover.health_check_period": "1000",
    "pgautofailover.health_check_timeout": "1000",
    "pgautofailover.health_check_max_retries": "1",
    "pgautofailover.health_check_retry_delay": "500",
    "pgautofailover.node_considered_unhealthy_timeout": "2000",
    "pgautofailover.primary_demote_timeout": "3000",
}
"""The monitor's timings, in ms. Its defaults (health checks every 5 s, a node unhealthy after
20 s, 30 s for a primary to demote itself) add up to about a minute before a dead primary is
given up; on loopback a second or two is plenty."""
WRITABLE = frozenset({"single", "primary", "wait_primary"})
"""Node states in which a node takes writes."""
RETRY_PAUSE = 0.25
"""Seconds a client waits after a 503 before it retries (it does not wait the Retry-After
the service asks for: the rehearsal measures the service's outage, not the clients' patience)."""
PURCHASE_DEADLINE = 120.0
"""Seconds one purchase is retried before it is given up (counted, never acknowledged)."""
STEP_TIMEOUT = 180.0
"""Seconds any one step (a pg_autoctl command, a node to come up, a promotion) may take."""

STARTED = time.monotonic()


class RehearsalError(RuntimeError):
    """The rehearsal could not be run to its end."""


class Unexpected(RuntimeError):
    """The service answered something other than what was asked for or a 503."""


class Abandoned(RuntimeError):
    """A purchase still failed after :data:`PURCHASE_DEADLINE` seconds of retrying."""


def say(message: str) -> None:
    """A progress line on stderr (stdout holds only the summary)."""
    sys.stderr.write(f"[{time.monotonic() - STARTED:6.1f}s] {message}\n")
    sys.stderr.flush()


def load_bench() -> ModuleType:
    """``bench/api_load.py``, whose setup and server helpers the rehearsal reuses.

    Loaded by path: ``bench/`` is not a package.
    """
    spec = importlib.util.spec_from_file_location("bench_http", ROOT / "bench" / "api_load.py")
    if spec is None or spec.loader is None:
        raise RehearsalError("bench/api_load.py cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


def wait_until(check: Callable[[], bool], what: str, timeout: float = STEP_TIMEOUT) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(psycopg.Error):
            if check():
                return
        time.sleep(0.2)
    raise RehearsalError(f"timed out after {timeout:.0f}s waiting for {what}")


class Cluster:
    """A pg_auto_failover monitor and two nodes under ``root``, run as ``user``."""

    def __init__(self, root: Path, autoctl: str, user: str | None, ports: list[int]) -> None:
        self.root = root
        self.autoctl_path = autoctl
        self.superuser = user or getpass.getuser()
        """PostgreSQL's superuser: initdb names it after the user running it."""
        self.as_user: dict[str, Any] = {}
        if user is not None:
            entry = pwd.getpwnam(user)
            self.as_user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        self.ports = dict(zip(("monitor", *NODES), ports, strict=True))
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.env = os.environ | {
            "PATH": f"{PG_BINDIR}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(root),
            "XDG_CONFIG_HOME": str(root / "config"),
            "XDG_DATA_HOME": str(root / "share"),
            "XDG_RUNTIME_DIR": str(root / "run"),
        }
        for sub in ("config", "share", "run"):
            (root / sub).mkdir(mode=0o700)
            if user is not None:
                shutil.chown(root / sub, user, user)

    def pgdata(self, name: str) -> Path:
        """Where node ``name`` keeps its data."""
        return self.root / name

    def url(self, name: str, user: str, database: str) -> str:
        """A URL to one server of the cluster."""
        return f"postgresql://{user}@127.0.0.1:{self.ports[name]}/{database}?sslmode=disable"

    @property
    def monitor_url(self) -> str:
        """The monitor's database, as the nodes reach it."""
        return self.url("monitor", "autoctl_node", "pg_auto_failover")

    def autoctl(self, *args: str) -> str:
        """Run one ``pg_autoctl`` command to its end; its output, or fail with its errors."""
        done = subprocess.run(  # noqa: S603 - Debian's pg_autoctl with our own arguments
            [self.autoctl_path, *args],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
            check=False,
            **self.as_user,
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr)[-3000:]
            raise RehearsalError(f"pg_autoctl {' '.join(args[:2])} failed:\n{output}")
        return done.stdout

    def run(self, name: str) -> None:
        """``pg_autoctl run`` for one node, in a process group of its own (to kill it whole)."""
        with (self.root / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(  # noqa: S603 - as above
                [self.autoctl_path, "run", "--pgdata", str(self.pgdata(name))],
                env=self.env,
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **self.as_user,
            )

    def start_monitor(self) -> None:
        """Create and run the monitor, listening on loopback only, quick to give a node up."""
        pgdata, port = str(self.pgdata("monitor")), str(self.ports["monitor"])
        self.autoctl(
            "create", "monitor", "--pgdata", pgdata, "--pgport", port, "--hostname", "127.0.0.1",
            "--auth", "trust", "--no-ssl", "--pgctl", str(PG_BINDIR / "pg_ctl"),
        )  # fmt: skip
        self.autoctl(
            "config", "set", "--pgdata", pgdata, "postgresql.listen_addresses", "127.0.0.1"
        )
        self.run("monitor")
        wait_until(lambda: self.states() is not None, "the monitor to take connections")
        superuser = self.url("monitor", self.superuser, "pg_auto_failover")
        with psycopg.connect(superuser, autocommit=True) as conn:
            for name, value in FAST_FAILOVER.items():
                conn.execute(
                    sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.SQL(name), sql.Literal(value))
                )
            conn.execute("SELECT pg_reload_conf()")

    def start_node(self, name: str) -> None:
        """Create and run a node: the first is the primary, the next its synchronous standby."""
        self.autoctl(
            "create", "postgres", "--pgdata", str(self.pgdata(name)),
            "--pgport", str(self.ports[name]), "--hostname", "127.0.0.1", "--listen", "127.0.0.1",
            "--name", name, "--dbname", DATABASE, "--auth", "trust", "--no-ssl",
            "--monitor", self.monitor_url, "--pgctl", str(PG_BINDIR / "pg_ctl"),
        )  # fmt: skip
        self.run(name)

    def states(self) -> dict[str, tuple[str, str]]:
        """Each node's reported and assigned state, as the monitor has them."""
        with psycopg.connect(self.monitor_url, connect_timeout=2) as conn:
            rows = conn.execute(
                "SELECT nodename, reportedstate::text, goalstate::text FROM pgautofailover.node"
            ).fetchall()
        return {str(name): (str(reported), str(goal)) for name, reported, goal in rows}

    def primary(self) -> str | None:
        """The node that takes writes now, if the monitor and that node agree on it."""
        for name, (reported, goal) in self.states().items():
            if reported in WRITABLE and goal == reported:
                return name
        return None

    def healthy_pair(self) -> bool:
        """Whether the monitor sees one primary and one secondary, both where they should be."""
        states = sorted(reported for reported, goal in self.states().values() if reported == goal)
        return states == ["primary", "secondary"]

    def uri(self) -> str:
        """The formation's URL as ``pg_autoctl show uri`` prints it, with our user in it."""
        shown = self.autoctl(
            "show", "uri", "--pgdata", str(self.pgdata("monitor")), "--formation", "default"
        ).strip()
        scheme, _, rest = shown.partition("://")
        return f"{scheme}://{self.superuser}@{rest}" if "@" not in rest.split("/")[0] else shown

    def kill(self, name: str) -> int:
        """SIGKILL the node's postmaster, and its pg_autoctl so that nothing starts it again."""
        postmaster = int((self.pgdata(name) / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGKILL)
        os.killpg(self.processes[name].pid, signal.SIGKILL)
        self.processes[name].wait()
        return postmaster

    def stop(self) -> None:
        """Stop every pg_autoctl (each stops its PostgreSQL), killing what lingers."""
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for name in ("monitor", *NODES):  # a PostgreSQL that outlived its pg_autoctl
            with contextlib.suppress(OSError, ValueError, IndexError):
                pid = int((self.pgdata(name) / "postmaster.pid").read_text().split()[0])
                if str(self.pgdata(name)).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)


@dataclass
class Seen:
    """What the clients saw."""

    acknowledged: dict[str, str] = field(default_factory=dict)
    """Order id -> card id of every purchase the service acknowledged."""
    times: list[float] = field(default_factory=list)
    """When each was acknowledged (monotonic seconds)."""
    retries: int = 0
    replayed: int = 0
    """Orders whose first answer was lost and whose retry got it back (``Idempotent-Replayed``)."""
    unexpected: list[str] = field(default_factory=list)
    abandoned: int = 0


async def persist(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    seen: Seen,
    *,
    expect: int,
    deadline: float,
    **request: Any,  # noqa: ANN401 - httpx's own keyword arguments
) -> dict[str, Any]:
    """One request, repeated as it is while the service answers 503 or cannot be reached."""
    while True:
        try:
            response: httpx.Response | None = await client.request(method, path, **request)
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code == expect:
            body: dict[str, Any] = response.json()
            return body
        if response is not None and response.headers.get("idempotent-replayed") == "true":
            seen.replayed += 1  # the first attempt was done, its answer lost: 200, not 201
            replayed: dict[str, Any] = response.json()
            return replayed
        if response is not None and (
            response.status_code != 503 or "retry-after" not in response.headers  # noqa: PLR2004
        ):
            detail = f"{method} {path}: {response.status_code} {response.text[:300]}"
            raise Unexpected(detail)
        seen.retries += 1
        if time.monotonic() > deadline:
            raise Abandoned
        await asyncio.sleep(RETRY_PAUSE)


class Shop(Protocol):
    """What one shopper buys with: ``bench/api_load.py``'s ``Slot``."""

    merchant_id: str
    k: str
    s: str
    product_id: str
    consumer_token: str


async def buy(
    client: httpx.AsyncClient, slot: Shop, provider: SandboxProvider, seen: Seen, key: str
) -> None:
    """One purchase to its end: order, notification, order paid with its card."""
    deadline = time.monotonic() + PURCHASE_DEADLINE
    auth = {"Authorization": f"Bearer {slot.consumer_token}"}
    order = {"merchant_id": slot.merchant_id, "k": slot.k, "s": slot.s}
    order["product_id"] = slot.product_id
    placed = await persist(
        client, "POST", "/orders", seen, expect=201, deadline=deadline, json=order,
        headers=auth | {"Idempotency-Key": key},
    )  # fmt: skip
    headers, notice = provider.notification(placed["provider_order_id"], placed["amount"])
    headers["content-type"] = "application/json"
    done = await persist(
        client, "POST", "/payments/sandbox/notify", seen, expect=200, deadline=deadline,
        content=notice, headers=headers,
    )  # fmt: skip
    if done["outcome"] not in {"issued", "duplicate", "already paid"}:
        raise Unexpected(f"the notification of order {placed['id']} was {done['outcome']!r}")
    path = f"/orders/{placed['id']}"
    paid = await persist(client, "GET", path, seen, expect=200, deadline=deadline, headers=auth)
    if paid["status"] != "paid" or not paid["card_id"]:
        raise Unexpected(f"order {placed['id']} is {paid['status']} after its notification")
    seen.acknowledged[placed["id"]] = paid["card_id"]
    seen.times.append(time.monotonic())


async def shopper(base: str, slot: Shop, seen: Seen, stop: asyncio.Event) -> None:
    """Buys cards one after another until told to stop (finishing the one in hand)."""
    provider = SandboxProvider()
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=30.0) as client:
        while not stop.is_set():
            try:
                await buy(client, slot, provider, seen, secrets.token_hex(16))
            except Unexpected as error:
                seen.unexpected.append(str(error))
                await asyncio.sleep(RETRY_PAUSE)
            except Abandoned:
                seen.abandoned += 1


@dataclass
class Timeline:
    """When the load ran, when the primary was killed and when the standby took writes."""

    started: float = 0.0
    killed: float = 0.0
    promoted: float = 0.0
    ended: float = 0.0


async def drive(
    cluster: Cluster, url: str, bases: list[str], args: argparse.Namespace, seen: Seen
) -> Timeline:
    """Set up shoppers, load both apps, kill the primary mid-load, go on after the promotion."""
    bench = sys.modules["bench_http"]
    engine = create_engine(url, pool_size=2)
    try:
        async with httpx.AsyncClient(base_url=bases[0], trust_env=False, timeout=60.0) as client:
            slots = await bench.Setup(client, engine).slots(args.clients)
    finally:
        await engine.dispose()
    say(f"{args.clients} merchants and consumers set up; buying through {len(bases)} apps")
    stop = asyncio.Event()
    when = Timeline(started=time.monotonic())
    shoppers = [
        asyncio.create_task(shopper(bases[n % len(bases)], slot, seen, stop))
        for n, slot in enumerate(slots)
    ]
    await asyncio.sleep(args.before)
    old = await asyncio.to_thread(cluster.primary)
    if old is None:
        raise RehearsalError(f"no primary to kill: {cluster.states()}")
    before = len(seen.acknowledged)
    postmaster = await asyncio.to_thread(cluster.kill, old)
    when.killed = time.monotonic()
    say(f"{before} purchases acknowledged; SIGKILL to {old}'s postmaster (pid {postmaster})")

    def promoted() -> bool:
        return cluster.primary() not in {None, old}

    await asyncio.to_thread(wait_until, promoted, "the standby to be promoted")
    when.promoted = time.monotonic()
    say(f"{cluster.primary()} promoted {when.promoted - when.killed:.1f}s after the kill")
    await asyncio.sleep(args.after)
    stop.set()
    await asyncio.gather(*shoppers)
    when.ended = time.monotonic()
    return when


def verify(url: str, seen: Seen) -> tuple[int, int, bool]:
    """Missing and doubled acknowledged purchases on the new primary; whether the ledger holds."""
    found = """
        SELECT o.id::text, o.status, o.card_id::text,
               (SELECT count(*) FROM cards c WHERE c.id = o.card_id),
               (SELECT count(*) FROM card_holders h WHERE h.order_id = o.id),
               (SELECT count(*) FROM journal_entries j
                 WHERE j.card_id = o.card_id AND j.kind = 'purchase')
          FROM orders o WHERE o.id = ANY(%s::uuid[])
    """
    doubled_elsewhere = """
        SELECT count(*) FROM (
            SELECT card_id FROM journal_entries
             WHERE kind = 'purchase' AND NOT card_id = ANY(%s::uuid[])
             GROUP BY card_id HAVING count(*) > 1) twice
    """
    cards = list(seen.acknowledged.values())
    with psycopg.connect(libpq_url(url)) as conn:
        rows = conn.execute(found, (list(seen.acknowledged),)).fetchall()
        elsewhere = conn.execute(doubled_elsewhere, (cards,)).fetchone()
    held = {row[0]: row for row in rows}
    duplicated = int(elsewhere[0]) if elsewhere else 0
    missing = 0
    for order_id, card_id in seen.acknowledged.items():
        row = held.get(order_id)
        if row is None or row[1] != "paid" or row[2] != card_id or 0 in row[3:]:
            missing += 1
        elif max(row[3:]) > 1:
            duplicated += 1
    verified = subprocess.run(
        [sys.executable, "-m", "app.cli", "ledger", "verify"],
        env=os.environ | {"DATABASE_URL": url},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    ledger_ok = verified.returncode == 0 and verified.stdout.startswith("ledger ok")
    say(f"pguard ledger verify: {(verified.stdout or verified.stderr).strip()[:500]}")
    return missing, duplicated, ledger_ok


def longest_gap(when: Timeline, seen: Seen) -> float:
    """The longest time in which no purchase was acknowledged, over the whole load."""
    moments = sorted([when.started, *seen.times, when.ended])
    return max(later - earlier for earlier, later in itertools.pairwise(moments))


def prerequisites() -> tuple[str, str | None]:
    """``pg_autoctl``'s path and whom PostgreSQL runs as, or why the rehearsal cannot run."""
    autoctl = shutil.which("pg_autoctl")
    if autoctl is None or not (PG_BINDIR / "pg_ctl").is_file():
        raise RehearsalError(
            f"needs pg_autoctl on PATH and PostgreSQL in {PG_BINDIR} (PG_BINDIR): on Debian,"
            " apt-get install postgresql-15-auto-failover pg-auto-failover-cli"
        )
    if os.geteuid() != 0:
        return autoctl, None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise RehearsalError("running as root, and there is no 'postgres' user") from None
    return autoctl, "postgres"


def rehearse(args: argparse.Namespace, root: Path, cleanup: list[Callable[[], None]]) -> int:
    """The rehearsal itself; ``cleanup`` collects how to undo each thing started."""
    bench = load_bench()
    autoctl, user = prerequisites()
    if user is not None:
        shutil.chown(root, user, user)
    cluster = Cluster(root, autoctl, user, [bench.free_port() for _ in range(3)])
    cleanup.append(cluster.stop)
    cluster.start_monitor()
    say(f"monitor up on 127.0.0.1:{cluster.ports['monitor']}")
    cluster.start_node("node1")
    wait_until(lambda: cluster.primary() == "node1", "node1 to run alone")
    cluster.start_node("node2")
    wait_until(cluster.healthy_pair, "node1 and node2 to be primary and secondary")
    url = cluster.uri()
    say(f"primary and synchronous standby up; DATABASE_URL={url}")

    env = os.environ | {"DATABASE_URL": url}
    upgrade = [sys.executable, "-m", "app.cli", "db", "upgrade"]
    done = subprocess.run(upgrade, env=env, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RehearsalError(f"pguard db upgrade failed:\n{done.stderr[-3000:]}")

    bases = []
    for n in range(2):
        port = bench.free_port()
        log = (root / f"app{n + 1}.log").open("w+b")
        cleanup.append(log.close)
        server = bench.start_server(url, port, log)
        cleanup.append(lambda server=server: bench.stop_server(server))
        bases.append(f"http://127.0.0.1:{port}")
        asyncio.run(bench.wait_healthy(bases[-1], server, log))
    say(f"pguard run on {' and '.join(bases)}")

    seen = Seen()
    when = asyncio.run(drive(cluster, url, bases, args, seen))
    after = sum(1 for t in seen.times if t > when.promoted)
    say(
        f"{len(seen.acknowledged)} purchases acknowledged, {after} after the promotion;"
        f" {seen.retries} requests retried, {seen.replayed} orders replayed,"
        f" {seen.abandoned} purchases given up,"
        f" {len(seen.unexpected)} unexpected answers"
    )
    for answer in seen.unexpected[:10]:
        say(f"  unexpected: {answer}")
    missing, duplicated, ledger_ok = verify(url, seen)
    outage = longest_gap(when, seen)
    sys.stdout.write(
        f"acknowledged {len(seen.acknowledged)}, missing {missing}, duplicated {duplicated},"
        f" ledger {'ok' if ledger_ok else 'broken'}, outage {outage:.1f} s\n"
    )
    good = not (missing or duplicated or seen.unexpected) and ledger_ok and after > 0
    return 0 if good else 1


def main() -> int:
    """Rehearse, then tear everything down whatever happened; the exit status says how it went."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent shoppers (default 8)")
    parser.add_argument(
        "--before", type=float, default=8.0, help="seconds of load before the kill (default 8)"
    )
    parser.add_argument(
        "--after",
        type=float,
        default=12.0,
        help="seconds of load after the standby takes writes (default 12)",
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="pguard-failover-"))
    # one master key for the apps and the setup (which reads the sandbox's SMS codes)
    os.environ["PGUARD_MASTER_KEY"] = base64.b64encode(secrets.token_bytes(32)).decode()
    os.environ["PGUARD_VAR_DIR"] = str(root / "var")
    cleanup: list[Callable[[], None]] = []
    try:
        return rehearse(args, root, cleanup)
    except RuntimeError as error:  # ours, or bench/api_load.py's BenchError
        say(f"FAILED: {error}")
        return 1
    finally:
        for undo in reversed(cleanup):
            with contextlib.suppress(Exception):
                undo()
        shutil.rmtree(root, ignore_errors=True)
        say("torn down")


if __name__ == "__main__":
    sys.exit(main())
