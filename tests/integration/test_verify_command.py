"""``pguard ledger verify`` finds what was edited behind the triggers' back."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text

from app.db import create_engine, session_factory
from tests.integration.books import Books

if TYPE_CHECKING:
    import uuid
    from collections.abc import AsyncIterator, Callable

    from tests.conftest import Databases


def _verify(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "ledger", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
async def scratch(databases: Databases) -> AsyncIterator[tuple[str, Books]]:
    """A database of its own: tampering with it must not disturb other tests."""
    url = databases.create()
    engine = create_engine(url)
    yield url, Books(session_factory(engine))
    await engine.dispose()


async def _populated(books: Books) -> tuple[uuid.UUID, uuid.UUID]:
    quiet, victim = await books.open(), await books.open()
    for m in (quiet, victim):
        card = (await books.buy(m, paid=80_000, units=100_000)).card.card_id
        await books.do(
            lambda ledger, m=m, c=card: ledger.redeem(m, c, units=5_000, idempotency_key="r1")
        )
        await books.do(
            lambda ledger, m=m, c=card: ledger.redeem(m, c, units=5_000, idempotency_key="r2")
        )
    return quiet, victim


async def _tamper(books: Books, sql: str, merchant: uuid.UUID) -> None:
    """Edit as a superuser would, with triggers switched off for the session."""
    async with books.sessions() as session, session.begin():
        await session.execute(text("SET LOCAL session_replication_role = replica"))
        await session.execute(text(sql), {"m": merchant})


async def test_clean_ledger_verifies(
    scratch: tuple[str, Books], cli_env: Callable[..., dict[str, str]]
) -> None:
    url, books = scratch
    await _populated(books)
    result = _verify(cli_env(url))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ledger ok")
    assert "2 merchants, 6 entries, 2 cards" in result.stdout


async def test_altered_posting_amount_is_named_with_its_entry(
    scratch: tuple[str, Books], cli_env: Callable[..., dict[str, str]]
) -> None:
    url, books = scratch
    quiet, victim = await _populated(books)
    await _tamper(
        books,
        "UPDATE postings SET amount = amount + 100 WHERE merchant_id = :m AND seq = 2 AND line = 1",
        victim,
    )
    result = _verify(cli_env(url))
    assert result.returncode == 1
    first_line = result.stdout.splitlines()[0]
    assert f"first broken entry is merchant {victim} entry 2" in first_line
    assert "content does not match its hash" in first_line
    assert str(quiet) not in result.stdout  # the untouched merchant is not blamed


async def test_deleted_last_entry_is_found_missing(
    scratch: tuple[str, Books], cli_env: Callable[..., dict[str, str]]
) -> None:
    url, books = scratch
    _, victim = await _populated(books)
    await _tamper(books, "DELETE FROM postings WHERE merchant_id = :m AND seq = 3", victim)
    await _tamper(books, "DELETE FROM journal_entries WHERE merchant_id = :m AND seq = 3", victim)
    result = _verify(cli_env(url))
    assert result.returncode == 1
    assert f"merchant {victim} entry 3" in result.stdout
    assert "missing" in result.stdout


async def test_edited_balance_is_found(
    scratch: tuple[str, Books], cli_env: Callable[..., dict[str, str]]
) -> None:
    url, books = scratch
    _, victim = await _populated(books)
    await _tamper(
        books,
        "UPDATE accounts SET balance = balance + 1 WHERE merchant_id = :m AND kind = 'merchant'",
        victim,
    )
    result = _verify(cli_env(url))
    assert result.returncode == 1
    assert "account merchant holds" in result.stdout
