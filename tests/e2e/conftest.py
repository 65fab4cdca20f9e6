"""Fixtures for tests through the HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.asgi import create_app
from tests.e2e.api import Api
from tests.live import Server


@pytest.fixture
async def client(engine: AsyncEngine) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(engine)) as c:
        yield c


@pytest.fixture
def api(client: AsyncTestClient[Litestar], sessions: async_sessionmaker[AsyncSession]) -> Api:
    return Api(client, sessions)


@pytest.fixture(scope="module")
def live(database_url: str) -> Iterator[Server]:
    """The app on a port, for requests that must really run at the same time."""
    with Server(database_url) as running:
        yield running
