"""PostgreSQL itself refuses what the ledger must never contain, whatever the code does."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from tests.integration.books import Books

ENTRY = """
INSERT INTO journal_entries (merchant_id, seq, kind, idempotency_key, created_at, prev_hash, hash)
VALUES (:m, :seq, 'receivable_settlement', 'raw', now(), decode(repeat('00', 32), 'hex'),
        decode(repeat('11', 32), 'hex'))
"""
POSTING = """
INSERT INTO postings (merchant_id, seq, line, account, ledger, amount)
VALUES (:m, :seq, :line, :account, 'money', :amount)
"""


async def _next_seq(session: AsyncSession, merchant: uuid.UUID) -> int:
    seq = await session.scalar(
        text("SELECT coalesce(max(seq), 0) + 1 FROM journal_entries WHERE merchant_id = :m"),
        {"m": merchant},
    )
    assert isinstance(seq, int)
    return seq


async def test_unbalanced_entry_fails_at_commit_not_before(
    books: Books, sessions: async_sessionmaker[AsyncSession]
) -> None:
    m = await books.open()
    before = await books.counts(m)
    async with sessions() as session:
        seq = await _next_seq(session, m)
        await session.execute(text(ENTRY), {"m": m, "seq": seq})
        params = {"m": m, "seq": seq}
        await session.execute(
            text(POSTING), {**params, "line": 1, "account": "merchant", "amount": -100}
        )
        await session.execute(
            text(POSTING), {**params, "line": 2, "account": "consumers", "amount": 99}
        )
        # the check is deferred: the inserts themselves went through
        with pytest.raises(IntegrityError, match="unbalanced journal entry"):
            await session.commit()
    assert await books.counts(m) == before


async def test_balanced_raw_entry_is_accepted_so_the_trigger_is_not_blanket(
    books: Books, sessions: async_sessionmaker[AsyncSession]
) -> None:
    m = await books.open()
    async with sessions() as session, session.begin():
        seq = await _next_seq(session, m)
        await session.execute(text(ENTRY), {"m": m, "seq": seq})
        params = {"m": m, "seq": seq}
        await session.execute(
            text(POSTING), {**params, "line": 1, "account": "merchant", "amount": -100}
        )
        await session.execute(
            text(POSTING), {**params, "line": 2, "account": "consumers", "amount": 100}
        )
    counts = await books.counts(m)
    assert counts["postings"] == 2
    # …and verify notices that this entry was not written by the ledger (its hash is fake)
    report = await books.verify(m)
    assert report.first_broken_entry is not None
    assert report.first_broken_entry.seq == seq


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE postings SET amount = amount + 1 WHERE merchant_id = :m",
        "DELETE FROM postings WHERE merchant_id = :m",
        "UPDATE journal_entries SET idempotency_key = 'x' WHERE merchant_id = :m",
        "DELETE FROM journal_entries WHERE merchant_id = :m",
        "TRUNCATE postings CASCADE",
        "TRUNCATE journal_entries CASCADE",
    ],
)
async def test_postings_and_entries_are_append_only(
    books: Books, sessions: async_sessionmaker[AsyncSession], statement: str
) -> None:
    m = await books.open()
    await books.buy(m, paid=1_000)
    before = await books.counts(m)
    async with sessions() as session:
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(text(statement), {"m": m})
        await session.rollback()
    assert await books.counts(m) == before


@pytest.mark.parametrize(
    ("statement", "constraint"),
    [
        (
            "UPDATE cards SET custody_share = custody_share - 1, insured_share = insured_share + 1",
            "ck_cards_custody_is_ceil_of_ratio",
        ),
        ("UPDATE cards SET insured_share = insured_share + 1", "ck_cards_shares_add_up"),
        (
            "UPDATE cards SET outstanding = 1001, custody_share = 301, insured_share = 700",
            "ck_cards_outstanding",
        ),
        ("UPDATE cards SET units_remaining = units_total + 1", "ck_cards_units_remaining"),
        ("UPDATE accounts SET balance = -1 WHERE kind = 'custody'", "ck_accounts_non_negative"),
        ("UPDATE accounts SET balance = 1 WHERE kind = 'policy'", "ck_accounts_non_positive"),
    ],
)
async def test_checks_refuse_impossible_balances(
    books: Books, sessions: async_sessionmaker[AsyncSession], statement: str, constraint: str
) -> None:
    m = await books.open()
    await books.buy(m, paid=1_000)
    before = await books.counts(m)
    where = " AND " if " WHERE " in statement else " WHERE "
    async with sessions() as session:
        with pytest.raises(IntegrityError, match=constraint):
            await session.execute(text(statement + where + "merchant_id = :m"), {"m": m})
        await session.rollback()
    assert await books.counts(m) == before
