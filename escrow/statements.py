"""The ledger's SQL, built once at import.

Building a SQLAlchemy statement costs more Python time than PostgreSQL spends running it,
so every statement is made here, with bind parameters, and reused. The two that every
operation runs (lock and write) are plain psycopg texts, sent on the session's own
connection; the rest are SQLAlchemy Core, run on that connection without the ORM.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Table,
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
    CardTransfer,
    IdempotencyRecord,
    JournalEntry,
    MerchantBook,
    Payable,
    Posting,
)

BOOKS: Table = MerchantBook.__table__  # type: ignore[assignment]
ACCOUNTS: Table = Account.__table__  # type: ignore[assignment]
CARDS: Table = Card.__table__  # type: ignore[assignment]
ENTRIES: Table = JournalEntry.__table__  # type: ignore[assignment]
POSTINGS: Table = Posting.__table__  # type: ignore[assignment]
KEYS: Table = IdempotencyRecord.__table__  # type: ignore[assignment]
PAYABLES: Table = Payable.__table__  # type: ignore[assignment]
TRANSFERS: Table = CardTransfer.__table__  # type: ignore[assignment]

FIND_KEY = select(KEYS.c.operation, KEYS.c.request_hash, KEYS.c.result).where(
    KEYS.c.merchant_id == bindparam("merchant_id"), KEYS.c.key == bindparam("key")
)

CARD_COLUMNS = tuple(CARDS.c)

GET_CARD = select(*CARD_COLUMNS).where(
    CARDS.c.merchant_id == bindparam("merchant_id"), CARDS.c.id == bindparam("card_id")
)

LOCK_OPEN_CARDS = (
    select(*CARD_COLUMNS)
    .where(CARDS.c.merchant_id == bindparam("merchant_id"), CARDS.c.status == "open")
    .order_by(CARDS.c.id)
    .with_for_update()
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
INSERT_TRANSFER = insert(TRANSFERS)

COMPENSATED = select(func.coalesce(_PENDING, 0)).where(
    POSTINGS.c.merchant_id == bindparam("merchant_id"),
    POSTINGS.c.card_id == bindparam("card_id"),
    POSTINGS.c.account == "merchant_receivable",
    ENTRIES.c.merchant_id == POSTINGS.c.merchant_id,
    ENTRIES.c.seq == POSTINGS.c.seq,
    ENTRIES.c.kind == "compensation",
)
"""Everything already decided as compensation on one card, from the postings (the truth)."""

LOCK_BOOKS = (
    select(BOOKS.c.merchant_id)
    .where(BOOKS.c.merchant_id.in_(bindparam("books", expanding=True)))
    .order_by(BOOKS.c.merchant_id)
    .with_for_update()
)
"""Lock several books in ascending id order: the order every transfer locks its two in."""

BALANCES = select(ACCOUNTS.c.kind, ACCOUNTS.c.balance).where(
    ACCOUNTS.c.merchant_id == bindparam("merchant_id")
)

# -- the hot path: plain psycopg on the session's own connection ---------------------------
#
# Every operation runs two statements of its own: BEGIN_OPERATION (lock, replay, card) and
# write_entry_sql (card, entry, postings, record, chain head). They go to psycopg directly,
# with constant texts under its 4,096-character cache, so each is parsed once and prepared
# by the server after a few uses; SQLAlchemy's compile and greenlet hops cost more per call
# than PostgreSQL spends running them.

CARD_FIELDS = (
    "id",
    "merchant_id",
    "kind",
    "status",
    "paid",
    "units_total",
    "units_remaining",
    "custody_ratio_bp",
    "outstanding",
    "custody_share",
    "insured_share",
)
_CARD_SELECT = ", ".join(f"c.{field}" for field in CARD_FIELDS)

BEGIN_OPERATION = (
    "SELECT b.seq, b.head_hash, b.status,"  # noqa: S608 - the column list is a constant
    " (SELECT s.seq FROM merchant_books s WHERE s.merchant_id = %(book)s),"
    f" k.operation, k.request_hash, k.result::text, {_CARD_SELECT}"
    " FROM merchant_books b"
    " LEFT JOIN idempotency_records k ON k.merchant_id = b.merchant_id AND k.key = %(key)s"
    " LEFT JOIN cards c ON c.id = %(card)s"
    " WHERE b.merchant_id = %(book)s FOR UPDATE OF b"
)
"""Lock the book and, in the same round trip, read the key's record and the card.

The record and the card are read in the statement's snapshot, taken before the lock was
granted; the sub-select reads the book's ``seq`` in that snapshot too. Every write for a
merchant moves its ``seq`` under this lock, so when the two ``seq`` agree nothing was written
for the merchant between the snapshot and the lock, and the record and card are current.
When they differ, a concurrent operation committed meanwhile: :data:`FIND_RECORD` and
:data:`FIND_CARD` read both again, each in a snapshot of its own."""

FIND_RECORD = (
    "SELECT operation, request_hash, result::text FROM idempotency_records"
    " WHERE merchant_id = %s AND key = %s"
)
FIND_CARD = f"SELECT {_CARD_SELECT} FROM cards c WHERE c.id = %s"  # noqa: S608 - constants

_ENTRY = (
    "entry AS (INSERT INTO journal_entries (merchant_id, seq, kind, card_id, units,"
    " idempotency_key, created_at, prev_hash, hash) VALUES (%(book)s, %(seq)s, %(kind)s,"
    " %(card)s, %(units)s, %(key)s, %(at)s, %(prev)s, %(hash)s))"
)
_RECORD = (
    "record AS (INSERT INTO idempotency_records (merchant_id, key, operation, request_hash,"
    " result, created_at) VALUES (%(book)s, %(key)s, %(operation)s, %(request)s,"
    " %(result)s::jsonb, %(at)s))"
)
_LEGS = (
    "legs AS (INSERT INTO postings (merchant_id, seq, line, account, ledger, card_id, amount,"
    " payable_seq) SELECT %(book)s, %(seq)s, l.* FROM unnest(%(lines)s::int4[],"
    " %(accounts)s::text[], %(ledgers)s::text[], %(cards)s::uuid[], %(amounts)s::int8[],"
    " %(payables)s::int8[]) AS l)"
)
_NEW_CARD = (
    "new_card AS (INSERT INTO cards (id, merchant_id, kind, status, paid, units_total,"
    " units_remaining, custody_ratio_bp, outstanding, custody_share, insured_share, created_at)"
    " VALUES (%(card)s, %(book)s, %(c_kind)s, %(c_status)s, %(c_paid)s, %(c_units_total)s,"
    " %(c_units_remaining)s, %(c_ratio)s, %(c_outstanding)s, %(c_custody)s, %(c_insured)s,"
    " %(at)s))"
)
_CHANGED_CARD = (
    "changed_card AS (UPDATE cards SET status = %(c_status)s,"
    " units_remaining = %(c_units_remaining)s, outstanding = %(c_outstanding)s,"
    " custody_share = %(c_custody)s, insured_share = %(c_insured)s WHERE id = %(card)s)"
)
_HEAD = (
    " UPDATE merchant_books SET seq = %(seq)s, head_hash = %(hash)s WHERE merchant_id = %(book)s"
)

WRITE_ENTRY = {
    card: "WITH " + ", ".join([*parts, _ENTRY, _RECORD, _LEGS]) + _HEAD
    for card, parts in (("", []), ("new", [_NEW_CARD]), ("changed", [_CHANGED_CARD]))
}
"""Card (new, changed, or none), entry, postings, record and chain head in one statement.

The postings come as one array a column (``unnest``), so the text is the same for any number
of legs and a default with thousands of cards is still one statement. PostgreSQL runs the
data-modifying CTEs as one statement: the foreign keys and the statement trigger that keeps
account balances run at its end, the balanced-entry check at COMMIT."""
