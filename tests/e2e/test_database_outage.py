"""PostgreSQL killed under a running app: 503s to retry meanwhile, and back without a restart.

The test runs its own throw-away PostgreSQL (``initdb`` and ``postgres`` from Debian's
``/usr/lib/postgresql/15/bin``) on a free loopback port, so that killing it with SIGKILL
harms nothing else; it is skipped, saying why, where those binaries are missing.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from litestar.testing import AsyncTestClient

from app.asgi import create_app
from app.auth.middleware import SESSION_COOKIE
from app.auth.models import Role
from app.db import create_database, create_engine, session_factory, upgrade_schema
from tests.e2e.api import Api, sign_in_form

if TYPE_CHECKING:
    from collections.abc import Iterator

    from httpx import Response

BINDIR = Path(os.environ.get("PGUARD_TEST_PG_BINDIR", "/usr/lib/postgresql/15/bin"))
READY_TIMEOUT_SECONDS = 30.0


class Cluster:
    """One PostgreSQL server in a temporary directory, a child of this process.

    Started as ``postgres`` directly (not through ``pg_ctl``), so that this process reaps it
    after a SIGKILL and the next start finds no dead postmaster holding the lock file.
    """

    def __init__(self, root: Path, user: str | None) -> None:
        self.root = root
        self.data = root / "data"
        self.user = user
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.server: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def initdb(self) -> None:
        command = [str(BINDIR / "initdb"), "-D", str(self.data), "-U", "postgres"]
        command += ["--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C"]
        subprocess.run(command, check=True, capture_output=True, user=self.user)

    def start(self) -> None:
        """Start the server and wait until it takes connections."""
        command = [str(BINDIR / "postgres"), "-D", str(self.data), "-p", str(self.port)]
        command += ["-k", str(self.root), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]
        for _ in range(20):  # a killed server's last backends may hold its memory a moment
            with (self.root / "log").open("ab") as log:
                self.server = subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, user=self.user
                )
            if self._wait_ready():
                return
            time.sleep(0.2)
        log = (self.root / "log").read_text(errors="replace")[-2000:]
        pytest.fail(f"the throw-away PostgreSQL did not start:\n{log}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.server is not None
            if self.server.poll() is not None:
                return False
            with contextlib.suppress(psycopg.OperationalError):
                psycopg.connect(self.url, connect_timeout=2).close()
                return True
            time.sleep(0.05)
        return False

    def kill(self) -> None:
        """SIGKILL the postmaster, as the kernel's OOM killer or a crash would."""
        assert self.server is not None
        self.server.send_signal(signal.SIGKILL)
        self.server.wait()

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGQUIT)  # immediate shutdown: nothing to keep
            try:
                self.server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()


def _unprivileged_user() -> str | None:
    """Whom PostgreSQL runs as: this user, or ``postgres`` when this is root (it refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
    return "postgres"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    missing = [name for name in ("initdb", "postgres") if not (BINDIR / name).is_file()]
    if missing:
        pytest.skip(
            f"no {' and '.join(missing)} in {BINDIR} (Debian's postgresql-15; set"
            " PGUARD_TEST_PG_BINDIR to another PostgreSQL's bin directory)"
        )
    user = _unprivileged_user()
    root = Path(tempfile.mkdtemp(prefix="pguard-outage-"))
    if user is not None:
        shutil.chown(root, user)
    made = Cluster(root, user)
    try:
        made.initdb()
        made.start()
        yield made
    finally:
        made.stop()
        shutil.rmtree(root, ignore_errors=True)


def _unavailable(response: Response, *, page: bool = False) -> None:
    """A 503 that tells the client to retry: never a 500."""
    assert response.status_code == 503, (response.status_code, response.text[:500])
    assert int(response.headers["retry-after"]) > 0
    if page:
        assert response.headers["content-type"].startswith("text/html")
        assert "数据库" in response.text  # the visitor's language, Chinese by default
        return
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == "/problems/database-unavailable"
    assert body["status"] == 503
    assert body["detail"]


async def test_a_killed_database_is_a_503_to_retry_and_the_app_recovers_by_itself(
    cluster: Cluster,
) -> None:
    url = create_database(cluster.url, "pguard")
    upgrade_schema(url)
    engine = create_engine(url)  # the engine the app runs with: default settings
    try:
        async with AsyncTestClient(app=create_app(engine)) as client:
            api = Api(client, session_factory(engine))
            regulator = await api.staff_user(Role.REGULATOR, "上城区")
            token = await api.sign_in(regulator)
            await sign_in_form(client, regulator)
            page = {"Cookie": f"{SESSION_COOKIE}={client.cookies[SESSION_COOKIE]}"}
            client.cookies.clear()  # the API calls go without it

            async def calls() -> list[Response]:
                """An anonymous read, a signed-in read, a sign-in, and a page."""
                credentials = {"username": regulator, "password": "wrong password"}
                return [
                    await client.get("/qr/keys"),
                    await client.get("/merchants", headers={"Authorization": f"Bearer {token}"}),
                    await client.post("/auth/sign-in", json=credentials),
                    await client.get("/dashboard", headers=page),
                ]

            assert [r.status_code for r in await calls()] == [200, 200, 401, 200]

            cluster.kill()
            for _ in range(2):  # the pool's dead connections, then refused new ones
                keys, merchants, sign_in, dashboard = await calls()
                for response in (keys, merchants, sign_in):
                    _unavailable(response)
                _unavailable(dashboard, page=True)
            assert (await client.get("/health")).status_code == 503

            cluster.start()
            assert [r.status_code for r in await calls()] == [200, 200, 401, 200]

            # killed and back before any request came: the pooled connections are all dead,
            # and the very first request after must not be the one that finds out
            cluster.kill()
            cluster.start()
            assert [r.status_code for r in await calls()] == [200, 200, 401, 200]
            assert (await client.get("/health")).status_code == 200
    finally:
        await engine.dispose()


async def test_an_exhausted_connection_pool_is_a_503_to_retry(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    try:
        async with engine.connect() as held:  # the pool's only connection, kept busy
            await held.exec_driver_sql("SELECT 1")
            async with AsyncTestClient(app=create_app(engine)) as client:
                busy = await client.get("/merchants/industries")
        assert busy.status_code == 503, busy.text
        assert busy.headers["retry-after"] == "5"
        assert busy.json()["type"] == "/problems/database-busy"
        async with AsyncTestClient(app=create_app(engine)) as client:
            assert (await client.get("/merchants/industries")).status_code == 200
    finally:
        await engine.dispose()
