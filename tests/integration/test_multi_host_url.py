"""A URL naming several servers: the app connects to the one that answers and takes writes."""

from __future__ import annotations

import socket

import psycopg
from sqlalchemy import make_url, text

from app.db import create_engine, libpq_url


def _nobody_listening() -> str:
    """``127.0.0.1:port`` where no server listens: a primary that died."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def _multi_host(database_url: str) -> str:
    """The test database behind a dead server, as a failed-over pair looks to a client."""
    url = make_url(database_url)
    live = url.query.get("host") or f"{url.host}:{url.port or 5432}"
    assert isinstance(live, str)
    hosts = f"{_nobody_listening()},{live}"
    user = url.username or "postgres"
    return f"postgresql://{user}@/{url.database}?host={hosts}&target_session_attrs=read-write"


async def test_the_engine_skips_a_dead_server_for_the_writable_one(database_url: str) -> None:
    url = _multi_host(database_url)
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            assert await conn.scalar(text("SELECT NOT pg_is_in_recovery()")) is True
    finally:
        await engine.dispose()
    with psycopg.connect(libpq_url(url)) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (make_url(url).database,)
