"""Test database: a fresh PostgreSQL database per run, built by ``alembic upgrade head``.

With ``DATABASE_URL`` set, the databases are made on that server; without it, on the embedded
server under ``var/test/pgdata`` (kept apart from the development data). Nothing is mocked:
the schema, its triggers and its CHECKs are the ones production runs.
"""

from __future__ import annotations

import os
import secrets
from typing import TYPE_CHECKING

import pytest

from app.db import (
    async_url,
    create_database,
    create_engine,
    drop_database,
    embedded_server_url,
    session_factory,
    upgrade_schema,
)
from app.settings import PROJECT_ROOT, get_settings
from app.wiring import wire

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

SERVER_URL_ENV = "DATABASE_URL"

# Every test request comes from one client address; the per-address sign-in limit is
# tested on its own (tests/integration/test_rate_limit.py), the per-identity one over HTTP.
os.environ["PGUARD_SIGN_IN_IP_LIMIT"] = "1000000"
os.environ["PGUARD_REGISTRATION_LIMIT"] = "1000000"  # tested on its own, like the above
# The test client runs the app's start-up hooks on an event loop of its own, where a worker
# would share the tests' connection pool across loops. Tests that need the re-rating worker
# start it on their own loop (tests/e2e/test_risk.py).
os.environ["PGUARD_WORKERS"] = "off"


def _server_url() -> str:
    given = os.environ.get(SERVER_URL_ENV)
    if given:
        return async_url(given)
    return embedded_server_url((PROJECT_ROOT / "var" / "test" / "pgdata").resolve(), "postgres")


class Databases:
    """Creates fresh migrated databases on the test server and drops them afterwards."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.created: list[str] = []

    def create(self, *, migrate: bool = True) -> str:
        url = create_database(self.server_url, f"pguard_test_{secrets.token_hex(6)}")
        self.created.append(url)
        if migrate:
            upgrade_schema(url)
        return url

    def drop_all(self) -> None:
        for url in self.created:
            drop_database(url)


@pytest.fixture(scope="session")
def databases() -> Iterator[Databases]:
    dbs = Databases(_server_url())
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def database_url(databases: Databases) -> str:
    """The run's shared database; tests keep apart by using their own merchants."""
    return databases.create()


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(database_url, pool_size=20, max_overflow=60)
    yield eng
    await eng.dispose()


@pytest.fixture(scope="session")
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
def cli_env(database_url: str) -> Callable[[str], dict[str, str]]:
    """Environment for running ``pguard`` against a given test database."""

    def env(url: str = database_url) -> dict[str, str]:
        return {**os.environ, SERVER_URL_ENV: url, "PYTHONUNBUFFERED": "1"}

    return env


def pytest_configure(config: pytest.Config) -> None:
    """Register the domain-event handlers once, as the app and the CLI do at start-up."""
    wire()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set environment variables for one test; settings are read again, then restored."""

    def set_(**values: str) -> None:
        for k, v in values.items():
            monkeypatch.setenv(k, v)
        get_settings.cache_clear()

    yield set_
    monkeypatch.undo()
    get_settings.cache_clear()
