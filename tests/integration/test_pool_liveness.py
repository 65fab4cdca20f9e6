"""A pooled connection whose server closed it is refused at checkout, with no round trip."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from sqlalchemy import text

from app.db import create_engine, libpq_url


async def _terminate(database_url: str, pid: int) -> None:
    """End one backend as a restart or a failover would, and wait until it is gone."""
    with psycopg.connect(libpq_url(database_url), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
        for _ in range(200):
            gone = admin.execute(
                "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %s)", (pid,)
            ).fetchone()
            if gone == (True,):
                return
            await asyncio.sleep(0.01)
    pytest.fail(f"backend {pid} did not end")


async def test_a_connection_the_server_closed_is_replaced_before_use(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1, max_overflow=0, pool_pre_ping=False)
    try:
        async with engine.connect() as conn:
            first = await conn.scalar(text("SELECT pg_backend_pid()"))
        await _terminate(database_url, first)
        async with engine.connect() as conn:  # the pool's only connection is dead
            second = await conn.scalar(text("SELECT pg_backend_pid()"))
        assert second != first
    finally:
        await engine.dispose()


async def test_without_the_check_the_dead_connection_reaches_the_caller(
    database_url: str,
) -> None:
    """What the check prevents: the same pool, its checkout hook removed."""
    from sqlalchemy import event  # noqa: PLC0415 - only this test takes the hook away

    from app import db  # noqa: PLC0415

    engine = create_engine(database_url, pool_size=1, max_overflow=0, pool_pre_ping=False)
    event.remove(engine.sync_engine, "checkout", db._refuse_closed)
    try:
        async with engine.connect() as conn:
            first = await conn.scalar(text("SELECT pg_backend_pid()"))
        await _terminate(database_url, first)
        with pytest.raises(Exception, match=r"terminat|closed|server"):
            async with engine.connect() as conn:
                await conn.scalar(text("SELECT 1"))
    finally:
        await engine.dispose()
