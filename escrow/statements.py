"""The ledger's SQL, built once at import.

Building a SQLAlchemy statement costs more Python time than PostgreSQL spends running it,
so every statement the hot path needs is made here, with bind parameters, and reused. They
run on the session's connection (Core), which skips the ORM's per-call bookkeeping.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Table,
    TextClause,
    bindparam,
    cast,
    func,
    insert,
    select,
    text,
    update,
)

from escrow.models import (
    Account,
    Card,
    IdempotencyRecord,
    JournalEntry,
    MerchantBook,
    Payable,
    Posting,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

BOOKS: Table = MerchantBook.__table__  # type: ignore[assignment]
ACCOUNTS: Table = Account.__table__  # type: ignore[assignment]
CARDS: Table = Card.__table__  # type: ignore[assignment]
ENTRIES: Table = JournalEntry.__table__  # type: ignore[assignment]
POSTINGS: Table = Posting.__table__  # type: ignore[assignment]
KEYS: Table = IdempotencyRecord.__table__  # type: ignore[assignment]
PAYABLES: Table = Payable.__table__  # type: ignore[assignment]

LOCK_BOOK = (
    select(BOOKS.c.seq, BOOKS.c.head_hash, BOOKS.c.status)
    .where(BOOKS.c.merchant_id == bindparam("merchant_id"))
    .with_for_update()
)
"""Every write locks its merchant's book first: the chain head, and the one lock order."""

FIND_KEY = select(KEYS.c.operation, KEYS.c.request_hash, KEYS.c.result).where(
    KEYS.c.merchant_id == bindparam("merchant_id"), KEYS.c.key == bindparam("key")
)
"""Run after LOCK_BOOK, as its own statement, so it sees a concurrent twin's commit."""

CARD_COLUMNS = tuple(CARDS.c)

LOCK_CARD = (
    select(*CARD_COLUMNS)
    .where(CARDS.c.merchant_id == bindparam("merchant_id"), CARDS.c.id == bindparam("card_id"))
    .with_for_update()
)

GET_CARD = select(*CARD_COLUMNS).where(
    CARDS.c.merchant_id == bindparam("merchant_id"), CARDS.c.id == bindparam("card_id")
)

LOCK_OPEN_CARDS = (
    select(*CARD_COLUMNS)
    .where(CARDS.c.merchant_id == bindparam("merchant_id"), CARDS.c.status == "open")
    .order_by(CARDS.c.id)
    .with_for_update()
)

CARD_EXISTS = select(CARDS.c.id).where(CARDS.c.id == bindparam("card_id"))

INSERT_CARD = insert(CARDS)

UPDATE_CARD = (
    update(CARDS)
    .where(CARDS.c.id == bindparam("card_id"))
    .values(
        status=bindparam("new_status"),
        units_remaining=bindparam("new_units_remaining"),
        outstanding=bindparam("new_outstanding"),
        custody_share=bindparam("new_custody_share"),
        insured_share=bindparam("new_insured_share"),
    )
)

DEFAULT_OPEN_CARDS = (
    update(CARDS)
    .where(CARDS.c.merchant_id == bindparam("book"), CARDS.c.status == "open")
    .values(status="defaulted", outstanding=0, custody_share=0, insured_share=0)
)


FREEZE_BOOK = (
    update(BOOKS).where(BOOKS.c.merchant_id == bindparam("book")).values(status="defaulted")
)

_PENDING = cast(func.sum(POSTINGS.c.amount), BigInteger)
PENDING_CLAIMS = (
    select(POSTINGS.c.card_id, POSTINGS.c.payable_seq, _PENDING.label("pending"))
    .where(
        POSTINGS.c.merchant_id == bindparam("merchant_id"),
        POSTINGS.c.account == "claims_pending",
    )
    .group_by(POSTINGS.c.card_id, POSTINGS.c.payable_seq)
    .having(_PENDING > 0)
    .order_by(POSTINGS.c.card_id, POSTINGS.c.payable_seq)
)
"""Each claim line still unpaid (a defaulted card's, or a payable's), from the postings."""

OWED_PAYABLES = text("""
    SELECT y.seq, y.card_id, y.due_at, sum(p.amount)::bigint AS owed
      FROM payables y
      JOIN postings p ON p.merchant_id = y.merchant_id AND p.payable_seq = y.seq
                     AND p.account = 'payables_cover'
     WHERE y.merchant_id = :merchant_id
     GROUP BY y.seq, y.card_id, y.due_at
    HAVING sum(p.amount) > 0
     ORDER BY y.due_at, y.seq
""")
"""The payables the merchant still owes and may pay itself (not yet claimed), oldest deadline
first, each with what is left of it: the cover it still holds, from the postings."""

INSERT_PAYABLE = insert(PAYABLES)

COMPENSATED = select(func.coalesce(_PENDING, 0)).where(
    POSTINGS.c.merchant_id == bindparam("merchant_id"),
    POSTINGS.c.card_id == bindparam("card_id"),
    POSTINGS.c.account == "merchant_receivable",
    ENTRIES.c.merchant_id == POSTINGS.c.merchant_id,
    ENTRIES.c.seq == POSTINGS.c.seq,
    ENTRIES.c.kind == "compensation",
)
"""Everything already decided as compensation on one card, from the postings (the truth)."""

BALANCES = select(ACCOUNTS.c.kind, ACCOUNTS.c.balance).where(
    ACCOUNTS.c.merchant_id == bindparam("merchant_id")
)

POSTING_COLUMNS = (
    "merchant_id",
    "seq",
    "line",
    "account",
    "ledger",
    "card_id",
    "amount",
    "payable_seq",
)
MAX_ROWS_PER_INSERT = 1_000
"""Keeps one statement's parameters well under PostgreSQL's 65,535."""


def _postings_sql(rows: int) -> str:
    values = ", ".join(_values(f"p{i}_", POSTING_COLUMNS) for i in range(rows))
    return f"INSERT INTO postings ({', '.join(POSTING_COLUMNS)}) VALUES {values}"  # noqa: S608


def _postings_params(rows: int) -> list[BindParameter[Any]]:
    return [p for i in range(rows) for p in _typed(f"p{i}_", POSTINGS, POSTING_COLUMNS)]


@lru_cache(maxsize=32)
def insert_postings(rows: int) -> TextClause:
    """One multi-row INSERT for ``rows`` postings, so the balance trigger fires once.

    Written as text: SQLAlchemy does not cache the compiled form of a multi-VALUES insert,
    and compiling it again on every call cost more than the rest of the operation.
    """
    return text(_postings_sql(rows)).bindparams(*_postings_params(rows))


def postings_params(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Flatten posting rows into the bind parameters of :func:`insert_postings`."""
    return {f"p{i}_{col}": row[col] for i, row in enumerate(rows) for col in POSTING_COLUMNS}


ENTRY_COLUMNS = (
    "merchant_id",
    "seq",
    "kind",
    "card_id",
    "units",
    "idempotency_key",
    "created_at",
    "prev_hash",
    "hash",
)
KEY_COLUMNS = ("merchant_id", "key", "operation", "request_hash", "result", "created_at")


def _values(prefix: str, columns: Sequence[str]) -> str:
    return "(" + ", ".join(f":{prefix}{col}" for col in columns) + ")"


def _typed(prefix: str, table: Table, columns: Sequence[str]) -> list[BindParameter[Any]]:
    return [bindparam(f"{prefix}{col}", type_=table.c[col].type) for col in columns]


@lru_cache(maxsize=32)
def write_entry(rows: int) -> TextClause:
    """Entry, ``rows`` postings, idempotency record and chain head in one statement.

    PostgreSQL runs the data-modifying CTEs as one statement: the postings' foreign keys and
    the statement trigger that keeps account balances run at its end, the balanced-entry
    check at COMMIT.
    """
    # Every interpolated name is a constant of this module; values are bind parameters.
    parts = [
        (
            f"entry AS (INSERT INTO journal_entries ({', '.join(ENTRY_COLUMNS)})"  # noqa: S608
            f" VALUES {_values('e_', ENTRY_COLUMNS)})"
        ),
        (
            f"record AS (INSERT INTO idempotency_records ({', '.join(KEY_COLUMNS)})"  # noqa: S608
            f" VALUES {_values('k_', KEY_COLUMNS)})"
        ),
    ]
    params = _typed("e_", ENTRIES, ENTRY_COLUMNS) + _typed("k_", KEYS, KEY_COLUMNS)
    if rows:
        parts.append(f"legs AS ({_postings_sql(rows)})")
        params += _postings_params(rows)
    head = (
        " UPDATE merchant_books SET seq = :new_seq, head_hash = :new_head WHERE merchant_id = :book"
    )
    return text("WITH " + ", ".join(parts) + head).bindparams(
        *params,
        bindparam("new_seq", type_=BOOKS.c.seq.type),
        bindparam("new_head", type_=BOOKS.c.head_hash.type),
        bindparam("book", type_=BOOKS.c.merchant_id.type),
    )
