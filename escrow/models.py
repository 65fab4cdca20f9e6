"""Tables of the escrow books.

Every table carries ``merchant_id`` and every key starts with it, so the books can be
sharded by merchant (Citus) with each money operation staying on one shard. The schema is
created only by Alembic (``migrations/``), which also installs the triggers that guard it.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of the escrow tables, with its own metadata."""

    metadata = MetaData(naming_convention=NAMING)


class Ledger(enum.StrEnum):
    """The two ledgers; each balances to zero on its own."""

    MONEY = "money"
    """Where the cash is."""
    COVER = "cover"
    """How much of each card the insurer guarantees."""


class AccountKind(enum.StrEnum):
    """The accounts every merchant's book holds."""

    CONSUMERS = "consumers"
    """Money ledger: cash from and back to consumers (an outside party)."""
    CUSTODY = "custody"
    """Money ledger: cash at the custody bank, per card; never negative."""
    MERCHANT = "merchant"
    """Money ledger: cash paid out to the merchant (an outside party)."""
    MERCHANT_RECEIVABLE = "merchant_receivable"
    """Money ledger: refund money the merchant still owes; never negative."""
    REFUNDS_PAYABLE = "refunds_payable"
    """Money ledger: refund money consumers are still owed by the merchant; never positive."""
    INSURER = "insurer"
    """Money ledger: cash paid by the insurer on claims (an outside party)."""
    POLICY = "policy"
    """Cover ledger: the insurer's exposure on the merchant's policy; never positive."""
    CARDS_COVER = "cards_cover"
    """Cover ledger: insured share of each open card; never negative."""
    CLAIMS_PENDING = "claims_pending"
    """Cover ledger: claims awaiting the insurer, per card (a defaulted card's insured share,
    or a refund payable the merchant did not pay in time); never negative."""
    PAYABLES_COVER = "payables_cover"
    """Cover ledger: refund payables the merchant still owes, per card and payable, which the
    insurer covers until they are paid; never negative."""
    TRANSFERS = "transfers"
    """Money ledger: custody money sent to (positive) or received from (negative) another
    merchant's book with a card moved to a successor; over all books it sums to zero."""


LEDGER_OF: dict[AccountKind, Ledger] = {
    AccountKind.CONSUMERS: Ledger.MONEY,
    AccountKind.CUSTODY: Ledger.MONEY,
    AccountKind.MERCHANT: Ledger.MONEY,
    AccountKind.MERCHANT_RECEIVABLE: Ledger.MONEY,
    AccountKind.REFUNDS_PAYABLE: Ledger.MONEY,
    AccountKind.INSURER: Ledger.MONEY,
    AccountKind.POLICY: Ledger.COVER,
    AccountKind.CARDS_COVER: Ledger.COVER,
    AccountKind.CLAIMS_PENDING: Ledger.COVER,
    AccountKind.PAYABLES_COVER: Ledger.COVER,
    AccountKind.TRANSFERS: Ledger.MONEY,
}

PER_CARD_ACCOUNTS = (
    AccountKind.CUSTODY,
    AccountKind.CARDS_COVER,
    AccountKind.CLAIMS_PENDING,
    AccountKind.PAYABLES_COVER,
)
"""Accounts whose every posting names a card, so per-card balances can be recomputed."""


class CardKind(enum.StrEnum):
    """Stored value counts fen of face value; sessions count uses."""

    STORED_VALUE = "stored_value"
    SESSIONS = "sessions"


class CardStatus(enum.StrEnum):
    """A card is open until refunded, paid out on default, or moved to a successor."""

    OPEN = "open"
    REFUNDED = "refunded"
    DEFAULTED = "defaulted"
    TRANSFERRED = "transferred"
    """Moved with its money to a successor merchant's book, as a new card linked to it."""


class BookStatus(enum.StrEnum):
    """A book is frozen for good once the merchant is declared in default."""

    OPEN = "open"
    DEFAULTED = "defaulted"


class EntryKind(enum.StrEnum):
    """The business operations that write journal entries."""

    PURCHASE = "purchase"
    REDEMPTION = "redemption"
    REFUND = "refund"
    RECEIVABLE_SETTLEMENT = "receivable_settlement"
    DEFAULT_PAYOUT = "default_payout"
    CLAIM_PAYMENT = "claim_payment"
    COMPENSATION = "compensation"
    PAYABLE_NETTING = "payable_netting"
    """Refund payables paid out of the merchant's next sales proceeds."""
    PAYABLE_CLAIM = "payable_claim"
    """Refund payables past their deadline, moved to a claim on the merchant's policy."""
    TRANSFER_OUT = "transfer_out"
    """A card leaving a closing merchant's book for a successor's, with its custody share."""
    TRANSFER_IN = "transfer_in"
    """The same card arriving on the successor's book, at the successor's custody ratio."""


class PayableKind(enum.StrEnum):
    """What the merchant owes a consumer for."""

    REFUND = "refund"
    """The insured part of a refunded card."""
    COMPENSATION = "compensation"
    """A regulator's decision in a dispute."""


def _in(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class MerchantBook(Base):
    """One per merchant: its status and the head of its hash chain (locked by every write)."""

    __tablename__ = "merchant_books"
    __table_args__ = (
        CheckConstraint(_in("status", BookStatus), name="status"),
        CheckConstraint("seq >= 0", name="seq"),
        CheckConstraint("octet_length(head_hash) = 32", name="head_hash"),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[bytes] = mapped_column(LargeBinary)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Account(Base):
    """A merchant's account on one ledger; ``balance`` is kept by a trigger on postings."""

    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("merchant_id", "kind", "ledger", name="uq_accounts_kind_ledger"),
        ForeignKeyConstraint(["merchant_id"], ["merchant_books.merchant_id"]),
        CheckConstraint(_in("kind", AccountKind), name="kind"),
        CheckConstraint(_in("ledger", Ledger), name="ledger"),
        CheckConstraint(
            "kind NOT IN ('custody', 'merchant_receivable', 'cards_cover', 'claims_pending',"
            " 'payables_cover') OR balance >= 0",
            name="non_negative",
        ),
        CheckConstraint(
            "kind NOT IN ('policy', 'refunds_payable') OR balance <= 0", name="non_positive"
        ),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    ledger: Mapped[str] = mapped_column(String(8))
    balance: Mapped[int] = mapped_column(BigInteger)


class Card(Base):
    """A prepaid card's balances; postings are the truth, this row is their running total."""

    __tablename__ = "cards"
    __table_args__ = (
        UniqueConstraint("merchant_id", "id", name="uq_cards_merchant_id"),
        ForeignKeyConstraint(["merchant_id"], ["merchant_books.merchant_id"]),
        CheckConstraint(_in("kind", CardKind), name="kind"),
        CheckConstraint(_in("status", CardStatus), name="status"),
        CheckConstraint("paid > 0", name="paid"),
        CheckConstraint("units_total > 0", name="units_total"),
        CheckConstraint("units_remaining BETWEEN 0 AND units_total", name="units_remaining"),
        CheckConstraint("custody_ratio_bp BETWEEN 0 AND 10000", name="ratio"),
        CheckConstraint("outstanding BETWEEN 0 AND paid", name="outstanding"),
        CheckConstraint("insured_share >= 0", name="insured_share"),
        CheckConstraint("custody_share + insured_share = outstanding", name="shares_add_up"),
        CheckConstraint(
            "custody_share = (outstanding * custody_ratio_bp + 9999) / 10000",
            name="custody_is_ceil_of_ratio",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    merchant_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    paid: Mapped[int] = mapped_column(BigInteger)
    units_total: Mapped[int] = mapped_column(BigInteger)
    units_remaining: Mapped[int] = mapped_column(BigInteger)
    custody_ratio_bp: Mapped[int] = mapped_column(Integer)
    outstanding: Mapped[int] = mapped_column(BigInteger)
    custody_share: Mapped[int] = mapped_column(BigInteger)
    insured_share: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class JournalEntry(Base):
    """One business operation; append-only, chained by hash per merchant."""

    __tablename__ = "journal_entries"
    __table_args__ = (
        ForeignKeyConstraint(["merchant_id"], ["merchant_books.merchant_id"]),
        ForeignKeyConstraint(["merchant_id", "card_id"], ["cards.merchant_id", "cards.id"]),
        CheckConstraint(_in("kind", EntryKind), name="kind"),
        CheckConstraint("seq > 0", name="seq"),
        CheckConstraint("units IS NULL OR units > 0", name="units"),
        CheckConstraint("octet_length(prev_hash) = 32", name="prev_hash"),
        CheckConstraint("octet_length(hash) = 32", name="hash"),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    card_id: Mapped[uuid.UUID | None]
    units: Mapped[int | None] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class Posting(Base):
    """One leg of an entry: a signed amount of fen on one account, maybe for one card."""

    __tablename__ = "postings"
    __table_args__ = (
        ForeignKeyConstraint(
            ["merchant_id", "seq"], ["journal_entries.merchant_id", "journal_entries.seq"]
        ),
        ForeignKeyConstraint(
            ["merchant_id", "account", "ledger"],
            ["accounts.merchant_id", "accounts.kind", "accounts.ledger"],
        ),
        ForeignKeyConstraint(["merchant_id", "card_id"], ["cards.merchant_id", "cards.id"]),
        ForeignKeyConstraint(
            ["merchant_id", "payable_seq"],
            ["payables.merchant_id", "payables.seq"],
            deferrable=True,
            initially="DEFERRED",
        ),
        Index("ix_postings_card", "merchant_id", "card_id"),
        Index(
            "ix_postings_payable",
            "merchant_id",
            "payable_seq",
            postgresql_where=text("payable_seq IS NOT NULL"),
        ),
        CheckConstraint("amount <> 0", name="amount_non_zero"),
        CheckConstraint(
            "account NOT IN ('custody', 'cards_cover', 'claims_pending', 'payables_cover')"
            " OR card_id IS NOT NULL",
            name="per_card_accounts_name_card",
        ),
        CheckConstraint(
            "account <> 'payables_cover' OR payable_seq IS NOT NULL",
            name="payables_cover_names_payable",
        ),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(32))
    ledger: Mapped[str] = mapped_column(String(8))
    card_id: Mapped[uuid.UUID | None]
    amount: Mapped[int] = mapped_column(BigInteger)
    payable_seq: Mapped[int | None] = mapped_column(BigInteger)
    """The refund payable this leg creates, settles or claims (its creating entry's seq)."""


class Payable(Base):
    """What a merchant owes one consumer after a refund or a dispute decision, and by when.

    Written with the entry that creates it (keyed by that entry's ``seq``) and never changed:
    what has been paid, and by whom, is read from the postings that name it.
    """

    __tablename__ = "payables"
    __table_args__ = (
        ForeignKeyConstraint(
            ["merchant_id", "seq"], ["journal_entries.merchant_id", "journal_entries.seq"]
        ),
        ForeignKeyConstraint(["merchant_id", "card_id"], ["cards.merchant_id", "cards.id"]),
        CheckConstraint(_in("kind", PayableKind), name="kind"),
        CheckConstraint("amount > 0", name="amount"),
        Index("ix_payables_due", "due_at"),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    card_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    custody_paid: Mapped[int] = mapped_column(BigInteger)
    """What custody paid the consumer at once in the same refund (0 for a compensation)."""
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    """The merchant's deadline; unpaid then, the payable becomes a claim on its policy."""


class CardTransfer(Base):
    """A card moved from one merchant's book to another's: the link between its two ids.

    Written with the two entries of the move (one in each book's chain) and never changed. The
    old card keeps its history on the old book; the new one starts with ``paid`` equal to what
    the old one was worth, so no fen is made or lost across the two books.
    """

    __tablename__ = "card_transfers"
    __table_args__ = (
        ForeignKeyConstraint(
            ["from_merchant_id", "from_card_id"], ["cards.merchant_id", "cards.id"]
        ),
        ForeignKeyConstraint(["to_merchant_id", "to_card_id"], ["cards.merchant_id", "cards.id"]),
        ForeignKeyConstraint(
            ["from_merchant_id", "from_seq"], ["journal_entries.merchant_id", "journal_entries.seq"]
        ),
        ForeignKeyConstraint(
            ["to_merchant_id", "to_seq"], ["journal_entries.merchant_id", "journal_entries.seq"]
        ),
        UniqueConstraint("to_card_id", name="uq_card_transfers_to_card_id"),
        CheckConstraint("from_merchant_id <> to_merchant_id", name="two_books"),
        CheckConstraint("amount > 0", name="amount"),
        Index("ix_card_transfers_to", "to_merchant_id"),
    )

    from_card_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    from_merchant_id: Mapped[uuid.UUID]
    from_seq: Mapped[int] = mapped_column(BigInteger)
    to_merchant_id: Mapped[uuid.UUID]
    to_card_id: Mapped[uuid.UUID]
    to_seq: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    """What the card was worth when it moved (its outstanding), in fen: the new card's price."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IdempotencyRecord(Base):
    """The first result of every keyed operation, replayed for a repeated request."""

    __tablename__ = "idempotency_records"
    __table_args__ = (ForeignKeyConstraint(["merchant_id"], ["merchant_books.merchant_id"]),)

    merchant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    operation: Mapped[str] = mapped_column(String(32))
    request_hash: Mapped[bytes] = mapped_column(LargeBinary)
    result: Mapped[dict[str, object]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


metadata = Base.metadata
"""All escrow tables, for Alembic."""
