"""The escrow ledger: double entry, append-only, integer fen, one chain per merchant.

Invariants. Each is enforced by PostgreSQL where it can be, and all are recomputed from the
postings by :func:`escrow.verify.verify` (``pguard ledger verify``):

1. Every journal entry's postings sum to zero on each ledger (money, cover).
   *Deferred constraint trigger: an unbalanced entry fails at COMMIT.*
2. Entries and postings are never updated or deleted; a mistake is corrected by a new entry.
   *Triggers reject UPDATE, DELETE and TRUNCATE.*
3. For every card, with r its custody ratio fixed at purchase:
   ``custody_share = ceil(outstanding * r / 10000)``,
   ``custody_share + insured_share = outstanding`` and ``0 <= outstanding <= paid``.
   *CHECK constraints on ``cards``.*
4. An open card's ``outstanding = ceil(paid * units_remaining / units_total)``.
5. A merchant's custody account equals the sum of its cards' custody shares, and its cards
   cover account the sum of their insured shares. *Every posting on a per-card account names
   its card (CHECK); the balance trigger keeps account totals.*
6. The insurer's exposure on a policy, ``-policy``, equals the sum of the insured shares of
   open cards, plus the refund payables the merchant still owes (``payables_cover``), plus
   the claims pending (defaulted cards, and payables past their deadline).
7. Custody, receivables, card cover, payables cover and pending claims never go negative; the
   policy and refunds payable never go positive. *CHECK constraints on ``accounts``.*
8. A merchant's entries are numbered 1..n and chained by SHA-256 (``escrow.chain``).
9. A defaulted card's consumer gets exactly the card's outstanding at default: custody paid
   at default, plus claims paid by the insurer, plus the claim still pending, equals
   ``ceil(paid * units_remaining / units_total)``. A card's pending claim never goes
   negative, so no claim is paid twice.

10. Every refund reaches its consumer whole. A refund (or a dispute's compensation) creates a
    *payable*: custody pays its share at once, the merchant owes the rest by a deadline. Each
    leg that settles it names it (``payable_seq``), so for every payable
    ``amount = paid by the merchant + withheld from its sales + paid by the insurer + still
    pending``, where pending is what the consumer has not yet received; the pending part is
    covered (``payables_cover`` while the merchant owes it, ``claims_pending`` once it is
    claimed), so the insurer's exposure includes it. *Recomputed by ``verify``.*

11. A card moved to a successor merchant (:meth:`EscrowLedger.transfer`) arrives whole: the
    old book releases its custody share and cover, together its outstanding; the new card on
    the successor's book is priced at exactly that, and the custody money sent equals the
    money received. Each book keeps balancing on its own through its ``transfers`` account,
    and over all books that account sums to zero. *Recomputed by ``verify`` from
    ``card_transfers`` and the postings of both entries.*

Compensation: the compensations decided on one card never add up to more than the price
paid for it. *Checked by :meth:`EscrowLedger.compensate` under the book lock, from the
postings; not recomputed by ``verify``.*

A default freezes the book for good: every payable the merchant still owed is claimed with
the cards' insured shares, and after it only :meth:`EscrowLedger.pay_claim` (and replays of
earlier requests) still write to it.

Concurrency: every operation first locks its merchant's book row (the chain head), and every
write of a card happens under its merchant's book lock. Every write for one merchant is thus
serialised by one lock taken first, so racing operations can neither overdraw nor deadlock;
the one card an operation names is read under that lock and needs no lock of its own (a
default, which closes every open card, also locks them, in ascending id order). A transfer,
the one operation on two books, locks both in ascending merchant-id order, so two transfers
crossing between the same books cannot deadlock either; a caller running several transfers
in one transaction locks every book they touch first (:meth:`EscrowLedger.lock_books`), so
that its locks, too, are taken in one order.

Idempotency: every operation takes a key, unique per merchant. Its first result is stored
in the same transaction; a repeat of the same request returns it, a different request with
the same key raises :class:`~escrow.errors.IdempotencyConflict`.

Entry kinds: each operation writes entries of its own kind (``journal_entries.kind`` has a
CHECK listing them; migration 0005 added ``claim_payment`` and ``compensation``).

The ledger only flushes; the caller owns the transaction (one use case, one unit of work).

Speed: an operation sends two statements of its own, both plain psycopg on the session's
connection (:mod:`escrow.statements`): one locks the book and reads the key's record and the
card, one writes the card, the entry, its postings (one array a column), the record and the
chain head. Measured with ``bench/ledger.py`` (2 cores, PostgreSQL 15, one worker): five
statements through SQLAlchemy Core gave 344 purchases/s, these two give about 470/s (the
app's pool checking its connections by their sockets instead of a round trip), and the same
two statements by hand, without the session, about 640/s. The rest is fixed cost per
transaction: the session and pool (BEGIN, COMMIT and their Python) and PostgreSQL's own
work, about 0.45 ms for the write (EXPLAIN ANALYZE: 18 foreign-key checks 0.1 ms, the
balance trigger 0.1 ms). Measured and left: the deferred balanced-entry check costs nothing
visible, and a psycopg pipeline for BEGIN and the lock made it slower. Going further means
less work per transaction than this schema asks (the plain floor, a 5-row entry with no
trigger, runs at about 1,600/s) or more operations per transaction (group commit). The hash
chain stays in Python: it needs the previous head, read under the lock, and ``verify``
recomputes it from the same function.

Size: this module is longer than 500 lines on purpose. It is the ledger: one class whose
operations share one lock order, one idempotency replay and one way of writing a chained
entry, and the invariants above hold across all of them; split by operation, they would be
read and changed one part at a time. What the operations return is :mod:`escrow.receipts`,
their SQL :mod:`escrow.statements`, their errors :mod:`escrow.errors`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import msgspec
from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert

from escrow import statements as sql
from escrow.chain import GENESIS_HASH, Leg, entry_hash
from escrow.errors import (
    BookFrozen,
    CardNotOpen,
    CardUsed,
    CompensationOverPrice,
    IdempotencyConflict,
    InsufficientBalance,
    InvalidAmount,
    InvalidRequest,
    NoClaimPending,
    UnknownBook,
    UnknownCard,
)
from escrow.models import (
    LEDGER_OF,
    AccountKind,
    BookStatus,
    CardKind,
    CardStatus,
    EntryKind,
    PayableKind,
)
from escrow.money import (
    DEFAULT_CUSTODY_RATIO_BP,
    MAX_UNITS,
    check_positive,
    check_ratio,
    custody_part,
    refundable,
    split,
)
from escrow.receipts import (
    CardBalance,
    CardClaim,
    CardPayout,
    ClaimPaymentReceipt,
    CompensationReceipt,
    DefaultPayoutReceipt,
    PayableClaimReceipt,
    PayablePart,
    PurchaseReceipt,
    RedemptionReceipt,
    RefundReceipt,
    SettlementReceipt,
    TransferReceipt,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence

    import psycopg
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

MAX_KEY_LENGTH = 200
_KEY_REUSED = (
    "this idempotency key was already used for a different request; use a new key for a new request"
)


ReceiptT = TypeVar(
    "ReceiptT",
    PurchaseReceipt,
    RedemptionReceipt,
    RefundReceipt,
    SettlementReceipt,
    DefaultPayoutReceipt,
    ClaimPaymentReceipt,
    CompensationReceipt,
    PayableClaimReceipt,
    TransferReceipt,
)

CLAIM_PAYMENT = EntryKind.CLAIM_PAYMENT.value
"""Operation name of :meth:`EscrowLedger.pay_claim` (idempotency records, receipts)."""
PAYABLE_CLAIM = EntryKind.PAYABLE_CLAIM.value
"""Operation name of :meth:`EscrowLedger.claim_payables`."""
COMPENSATION = EntryKind.COMPENSATION.value
"""Operation name of :meth:`EscrowLedger.compensate`."""

JOURNAL_KIND_OF: dict[str, EntryKind] = {kind.value: kind for kind in EntryKind}
"""The journal entry kind each operation is written as: its own."""
MAX_REFERENCE_LENGTH = 200


@dataclass(frozen=True, slots=True)
class _Book:
    merchant_id: uuid.UUID
    seq: int
    head_hash: bytes
    status: str


Legs = list[tuple[AccountKind, uuid.UUID | None, int] | tuple[AccountKind, uuid.UUID, int, int]]
"""(account, card, amount) or (account, card, amount, payable seq)."""
VIA = {"merchant": EntryKind.RECEIVABLE_SETTLEMENT, "netting": EntryKind.PAYABLE_NETTING}
"""How a merchant settles payables, and the entry kind each way is written as."""


@dataclass(frozen=True, slots=True)
class _Entry:
    """A journal entry computed in full (hash included) before anything is written."""

    book: _Book
    seq: int
    kind: EntryKind
    operation: str
    """What the idempotency record calls it; the kind's name except for interim kinds."""
    idempotency_key: str
    legs: list[Leg]
    created_at: datetime
    card_id: uuid.UUID | None
    units: int | None
    digest: bytes


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise InvalidRequest(
            f"an idempotency key must be a non-blank string of at most {MAX_KEY_LENGTH} characters",
            code="idempotency-key-invalid",
            max_length=MAX_KEY_LENGTH,
        )
    return key


def _check_reference(reference: str) -> str:
    if (
        not isinstance(reference, str)
        or not reference.strip()
        or len(reference) > MAX_REFERENCE_LENGTH
    ):
        raise InvalidRequest(
            f"a payment reference must be a non-blank string of at most {MAX_REFERENCE_LENGTH}"
            " characters",
            code="payment-reference-invalid",
            max_length=MAX_REFERENCE_LENGTH,
        )
    return reference


def _request_hash(operation: str, params: dict[str, Any]) -> bytes:
    body = json.dumps({"op": operation, **params}, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).digest()


def _balance(row: Any) -> CardBalance:  # noqa: ANN401 - a card's columns by name
    return CardBalance(
        card_id=row.id,
        status=row.status,
        paid=row.paid,
        units_total=row.units_total,
        units_remaining=row.units_remaining,
        custody_ratio_bp=row.custody_ratio_bp,
        outstanding=row.outstanding,
        custody_share=row.custody_share,
        insured_share=row.insured_share,
    )


class EscrowLedger:
    """The escrow operations for one unit of work (an ``AsyncSession`` the caller commits)."""

    def __init__(self, session: AsyncSession, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self._session = session
        self._clock = clock

    async def _conn(self) -> AsyncConnection:
        """The session's connection: the caller's transaction, without ORM bookkeeping."""
        return await self._session.connection()

    # -- books ---------------------------------------------------------------------------

    async def open_book(self, merchant_id: uuid.UUID) -> None:
        """Open a merchant's book and its accounts; opening it again changes nothing."""
        conn = await self._conn()
        opened = await conn.execute(
            pg_insert(sql.BOOKS)
            .values(
                merchant_id=merchant_id,
                status=BookStatus.OPEN,
                seq=0,
                head_hash=GENESIS_HASH,
                opened_at=self._clock(),
            )
            .on_conflict_do_nothing()
            .returning(sql.BOOKS.c.merchant_id)
        )
        if opened.first() is None:
            return
        await conn.execute(
            insert(sql.ACCOUNTS),
            [
                {"merchant_id": merchant_id, "kind": kind, "ledger": ledger, "balance": 0}
                for kind, ledger in LEDGER_OF.items()
            ],
        )

    async def lock_books(self, merchant_ids: Collection[uuid.UUID]) -> None:
        """Lock these books now, in ascending id order, until the caller's transaction ends.

        A unit of work that runs several operations on several books (a batch of transfers to
        different successors) calls this first with all of them: each operation then finds
        its locks held, and two such batches cannot deadlock, whatever order their cards come
        in.
        """
        if merchant_ids:
            await (await self._conn()).execute(sql.LOCK_BOOKS, {"books": sorted(merchant_ids)})

    async def balances(self, merchant_id: uuid.UUID) -> dict[AccountKind, int]:
        """Current balance of every account of the merchant's book."""
        rows = await (await self._conn()).execute(sql.BALANCES, {"merchant_id": merchant_id})
        found = {AccountKind(kind): balance for kind, balance in rows}
        if not found:
            raise UnknownBook(
                f"no escrow book is open for merchant {merchant_id}", merchant_id=merchant_id
            )
        return found

    async def card(self, merchant_id: uuid.UUID, card_id: uuid.UUID) -> CardBalance:
        """A card's current balances."""
        row = (
            await (await self._conn()).execute(
                sql.GET_CARD, {"merchant_id": merchant_id, "card_id": card_id}
            )
        ).first()
        if row is None:
            raise UnknownCard(f"card {card_id} does not exist at this merchant", card_id=card_id)
        return _balance(row)

    async def recorded_redemption(
        self, merchant_id: uuid.UUID, idempotency_key: str
    ) -> RedemptionReceipt | None:
        """The receipt of a redemption already made under this key, if any.

        Lets a caller answer a retry before re-checking what the first call consumed (a
        one-time code that has since expired, say).
        """
        row = (
            await (await self._conn()).execute(
                sql.FIND_KEY, {"merchant_id": merchant_id, "key": idempotency_key}
            )
        ).first()
        if row is None:
            return None
        if row.operation != EntryKind.REDEMPTION:
            raise IdempotencyConflict(_KEY_REUSED)
        receipt = msgspec.convert(row.result, RedemptionReceipt)
        return msgspec.structs.replace(receipt, replayed=True)

    # -- operations ----------------------------------------------------------------------

    async def purchase(
        self,
        merchant_id: uuid.UUID,
        *,
        kind: CardKind,
        paid: int,
        units_total: int,
        idempotency_key: str,
        custody_ratio_bp: int = DEFAULT_CUSTODY_RATIO_BP,
        card_id: uuid.UUID | None = None,
    ) -> PurchaseReceipt:
        """Issue a card for ``paid`` fen and split the money between custody and insurance.

        ``units_total`` is the face value in fen for a stored-value card, or the number of
        sessions. Custody gets ``ceil(paid * r / 10000)``; the rest is paid to the merchant at
        once and covered by the insurer's policy.
        """
        kind = _card_kind(kind)
        check_positive(paid, "the price paid")
        check_positive(units_total, "the card's units", MAX_UNITS, units=True)
        check_ratio(custody_ratio_bp)
        _check_key(idempotency_key)
        params = {
            "kind": kind.value,
            "paid": paid,
            "units_total": units_total,
            "ratio": custody_ratio_bp,
            "card_id": card_id,
        }
        conn = await self._conn()
        start = await self._begin(
            conn,
            merchant_id,
            idempotency_key,
            EntryKind.PURCHASE,
            params,
            PurchaseReceipt,
            card_id=card_id,
        )
        if start.replay is not None:
            return start.replay
        book = start.book
        _require_open(book)

        if card_id is None:
            card_id = uuid.uuid4()
        elif start.card is not None:
            raise InvalidRequest(
                f"card {card_id} already exists", code="card-exists", card_id=card_id
            )
        card = _new_card(card_id, paid, units_total, custody_ratio_bp)
        parts = split(paid, custody_ratio_bp)
        now = self._clock()
        entry = self._entry(
            book,
            EntryKind.PURCHASE,
            idempotency_key,
            [
                (AccountKind.CONSUMERS, card_id, -paid),
                (AccountKind.CUSTODY, card_id, parts.custody),
                (AccountKind.MERCHANT, card_id, parts.insured),
                (AccountKind.POLICY, card_id, -parts.insured),
                (AccountKind.CARDS_COVER, card_id, parts.insured),
            ],
            now=now,
            card_id=card_id,
        )
        receipt = PurchaseReceipt(
            merchant_id=merchant_id,
            seq=entry.seq,
            custody=parts.custody,
            insured=parts.insured,
            custody_ratio_bp=custody_ratio_bp,
            card=card,
        )
        return await self._write(conn, entry, params, receipt, new_card=(kind, card))

    async def redeem(
        self,
        merchant_id: uuid.UUID,
        card_id: uuid.UUID,
        *,
        units: int,
        idempotency_key: str,
    ) -> RedemptionReceipt:
        """Use ``units`` of a card (fen of face value, or sessions) and release custody.

        The card's custody share is brought down to ``ceil(outstanding' * r / 10000)``; the
        difference goes from custody to the merchant, and the insured share falls by the rest.
        """
        check_positive(units, "the units to redeem", MAX_UNITS, units=True)
        _check_key(idempotency_key)
        params = {"card_id": card_id, "units": units}
        conn = await self._conn()
        start = await self._begin(
            conn,
            merchant_id,
            idempotency_key,
            EntryKind.REDEMPTION,
            params,
            RedemptionReceipt,
            card_id=card_id,
        )
        if start.replay is not None:
            return start.replay
        book = start.book
        _require_open(book)

        card, kind = _open_card(start, merchant_id, card_id)
        if units > card.units_remaining:
            raise _short(card, kind, units)
        remaining = card.units_remaining - units
        outstanding = refundable(card.paid, remaining, card.units_total)
        custody = custody_part(outstanding, card.custody_ratio_bp)
        after = msgspec.structs.replace(
            card,
            units_remaining=remaining,
            outstanding=outstanding,
            custody_share=custody,
            insured_share=outstanding - custody,
        )
        released_custody = card.custody_share - after.custody_share
        released_cover = card.insured_share - after.insured_share
        now = self._clock()
        entry = self._entry(
            book,
            EntryKind.REDEMPTION,
            idempotency_key,
            [
                (AccountKind.CUSTODY, card_id, -released_custody),
                (AccountKind.MERCHANT, card_id, released_custody),
                (AccountKind.CARDS_COVER, card_id, -released_cover),
                (AccountKind.POLICY, card_id, released_cover),
            ],
            now=now,
            card_id=card_id,
            units=units,
        )
        receipt = RedemptionReceipt(
            merchant_id=merchant_id,
            seq=entry.seq,
            units=units,
            released_from_custody=released_custody,
            released_from_cover=released_cover,
            card=after,
        )
        return await self._write(conn, entry, params, receipt, changed_card=after)

    async def refund(
        self,
        merchant_id: uuid.UUID,
        card_id: uuid.UUID,
        *,
        idempotency_key: str,
        payable_due_at: datetime,
        require_unused: bool = False,
    ) -> RefundReceipt:
        """Refund a card's whole outstanding amount while the merchant is solvent.

        Custody pays its share to the consumer at once; the merchant owes the insured part as
        a payable due at ``payable_due_at`` (the insurer keeps covering it until it is paid).
        The card closes. With ``require_unused`` (a cooling-off refund) a card already used is
        refused, checked under the book's lock so that a racing redemption cannot slip in.
        """
        _check_key(idempotency_key)
        params = {"card_id": card_id, "require_unused": require_unused}
        conn = await self._conn()
        start = await self._begin(
            conn,
            merchant_id,
            idempotency_key,
            EntryKind.REFUND,
            params,
            RefundReceipt,
            card_id=card_id,
        )
        if start.replay is not None:
            return start.replay
        book = start.book
        _require_open(book)

        card = _open_card(start, merchant_id, card_id)[0]
        if require_unused and card.units_remaining != card.units_total:
            raise CardUsed(
                "the card has been used, so it is not refunded in full on request", card_id=card_id
            )
        owed = card.insured_share
        payable = book.seq + 1 if owed else None
        legs: Legs = [
            (AccountKind.CUSTODY, card_id, -card.custody_share),
            (AccountKind.CONSUMERS, card_id, card.custody_share),
        ]
        if payable is not None:
            legs += [
                (AccountKind.CARDS_COVER, card_id, -owed),
                (AccountKind.PAYABLES_COVER, card_id, owed, payable),
                (AccountKind.MERCHANT_RECEIVABLE, card_id, owed, payable),
                (AccountKind.REFUNDS_PAYABLE, card_id, -owed, payable),
            ]
        entry = self._entry(
            book, EntryKind.REFUND, idempotency_key, legs, now=self._clock(), card_id=card_id
        )
        after = msgspec.structs.replace(
            card, status=CardStatus.REFUNDED, outstanding=0, custody_share=0, insured_share=0
        )
        receipt = RefundReceipt(
            merchant_id=merchant_id,
            seq=entry.seq,
            refunded=card.outstanding,
            paid_from_custody=card.custody_share,
            owed_by_merchant=owed,
            card=after,
            payable_seq=payable,
            due_at=payable_due_at if payable else None,
        )
        written = await self._write(conn, entry, params, receipt, changed_card=after)
        if payable is not None:
            await self._add_payable(
                conn, entry, card_id, PayableKind.REFUND, owed, card.custody_share, payable_due_at
            )
        return written

    async def transfer(
        self,
        merchant_id: uuid.UUID,
        card_id: uuid.UUID,
        *,
        to_merchant_id: uuid.UUID,
        new_card_id: uuid.UUID,
        kind: CardKind,
        units_per_unit: int,
        idempotency_key: str,
        custody_ratio_bp: int = DEFAULT_CUSTODY_RATIO_BP,
    ) -> TransferReceipt:
        """Move an open card, with its money, to a successor merchant's book.

        The card's worth (its outstanding) becomes the price of a new card on the successor's
        book, of ``kind``, with ``units_per_unit`` units for each unit left on the old card
        (the agreed exchange), counted under the lock so that a redemption racing the move
        cannot leave the new card with units the old one no longer had. The closing book
        sends the card's custody share and drops its cover; the successor's book holds
        ``ceil(worth * r / 10000)`` in custody at its own ratio ``r`` and the rest under its
        own policy, and the successor settles the difference of the custody shares with its
        custody account. Both entries are written in the caller's one transaction, each in
        its own book's chain, the books locked in merchant-id order.
        """
        kind = _card_kind(kind)
        check_positive(units_per_unit, "the units a unit left becomes", MAX_UNITS, units=True)
        check_ratio(custody_ratio_bp)
        _check_key(idempotency_key)
        if to_merchant_id == merchant_id:
            raise InvalidRequest(
                "a card is transferred to another merchant, not its own",
                code="transfer-same-merchant",
                merchant_id=merchant_id,
            )
        params = {
            "card_id": card_id,
            "to": to_merchant_id,
            "new_card_id": new_card_id,
            "kind": kind.value,
            "per_unit": units_per_unit,
            "ratio": custody_ratio_bp,
        }
        conn = await self._conn()
        starts: dict[uuid.UUID, _Start[TransferReceipt]] = {}
        for book_id in sorted((merchant_id, to_merchant_id)):
            out = book_id == merchant_id
            starts[book_id] = await self._begin(
                conn,
                book_id,
                idempotency_key,
                EntryKind.TRANSFER_OUT if out else EntryKind.TRANSFER_IN,
                params,
                TransferReceipt,
                card_id=card_id if out else new_card_id,
            )
        source, target = starts[merchant_id], starts[to_merchant_id]
        if source.replay is not None:
            return source.replay
        if target.replay is not None:  # the key was used for a transfer into this book
            raise IdempotencyConflict(_KEY_REUSED)
        _require_open(source.book)
        _require_open(target.book)
        card = _open_card(source, merchant_id, card_id)[0]
        if target.card is not None:
            raise InvalidRequest(
                f"card {new_card_id} already exists", code="card-exists", card_id=new_card_id
            )
        worth = card.outstanding
        units_total = card.units_remaining * units_per_unit
        if worth == 0 or units_total == 0:
            raise CardNotOpen(
                f"card {card_id} has nothing left to transfer",
                code="card-used-up",
                card_id=card_id,
            )
        check_positive(units_total, "the new card's units", MAX_UNITS, units=True)
        parts = split(worth, custody_ratio_bp)
        sent, cover = card.custody_share, card.insured_share
        now = self._clock()
        after = msgspec.structs.replace(
            card, status=CardStatus.TRANSFERRED, outstanding=0, custody_share=0, insured_share=0
        )
        arriving = _new_card(new_card_id, worth, units_total, custody_ratio_bp)
        leaving = self._entry(
            source.book,
            EntryKind.TRANSFER_OUT,
            idempotency_key,
            [
                (AccountKind.CUSTODY, card_id, -sent),
                (AccountKind.TRANSFERS, card_id, sent),
                (AccountKind.CARDS_COVER, card_id, -cover),
                (AccountKind.POLICY, card_id, cover),
            ],
            now=now,
            card_id=card_id,
        )
        coming = self._entry(
            target.book,
            EntryKind.TRANSFER_IN,
            idempotency_key,
            [
                (AccountKind.TRANSFERS, new_card_id, -sent),
                (AccountKind.CUSTODY, new_card_id, parts.custody),
                (AccountKind.MERCHANT, new_card_id, sent - parts.custody),
                (AccountKind.POLICY, new_card_id, -parts.insured),
                (AccountKind.CARDS_COVER, new_card_id, parts.insured),
            ],
            now=now,
            card_id=new_card_id,
        )
        receipt = TransferReceipt(
            merchant_id=merchant_id,
            seq=leaving.seq,
            to_merchant_id=to_merchant_id,
            to_seq=coming.seq,
            moved=worth,
            moved_from_custody=sent,
            released_from_cover=cover,
            from_successor=parts.custody - sent,
            card=after,
            new_card=arriving,
        )
        await self._write(conn, leaving, params, receipt, changed_card=after)
        await self._write(conn, coming, params, receipt, new_card=(kind, arriving))
        await conn.execute(
            sql.INSERT_TRANSFER,
            {
                "from_card_id": card_id,
                "from_merchant_id": merchant_id,
                "from_seq": leaving.seq,
                "to_merchant_id": to_merchant_id,
                "to_card_id": new_card_id,
                "to_seq": coming.seq,
                "amount": worth,
                "created_at": now,
            },
        )
        return receipt

    async def settle_payables(
        self, merchant_id: uuid.UUID, *, amount: int, via: str, idempotency_key: str
    ) -> SettlementReceipt:
        """Record the merchant paying ``amount`` fen of the payables it owes consumers.

        ``via`` says how: ``merchant`` (it paid through the payment provider) or ``netting``
        (withheld from its sales proceeds). The payables with the earliest deadline are paid
        first; a payable already claimed from the insurer is the insurer's to pay.
        """
        check_positive(amount, "the amount settled")
        _check_key(idempotency_key)
        kind = VIA.get(via)
        if kind is None:
            raise InvalidRequest(
                f"a payable is settled via merchant or netting, not {via!r}",
                code="settlement-way-unknown",
                via=via,
            )
        params = {"amount": amount, "via": via}
        conn = await self._conn()
        start = await self._begin(
            conn,
            merchant_id,
            idempotency_key,
            kind,
            params,
            SettlementReceipt,
        )
        if start.replay is not None:
            return start.replay
        book = start.book
        _require_open(book)

        owing = (await conn.execute(sql.OWED_PAYABLES, {"merchant_id": merchant_id})).all()
        owed = sum(int(row.owed) for row in owing)
        if amount > owed:
            raise InsufficientBalance(
                f"the merchant owes {owed} fen; {amount} cannot be settled",
                code="settlement-over-owed",
                owed_fen=owed,
                asked_fen=amount,
            )
        parts: list[PayablePart] = []
        left = amount
        for row in owing:
            if left == 0:
                break
            paying = min(left, int(row.owed))
            parts.append(PayablePart(payable_seq=row.seq, card_id=row.card_id, amount=paying))
            left -= paying
        legs: Legs = []
        for part in parts:
            card, payable, fen = part.card_id, part.payable_seq, part.amount
            legs += [
                (AccountKind.MERCHANT, card, -fen, payable),
                (AccountKind.CONSUMERS, card, fen, payable),
                (AccountKind.MERCHANT_RECEIVABLE, card, -fen, payable),
                (AccountKind.REFUNDS_PAYABLE, card, fen, payable),
                (AccountKind.PAYABLES_COVER, card, -fen, payable),
                (AccountKind.POLICY, card, fen, payable),
            ]
        entry = self._entry(book, kind, idempotency_key, legs, now=self._clock())
        receipt = SettlementReceipt(
            merchant_id=merchant_id,
            seq=entry.seq,
            amount=amount,
            via=via,
            parts=tuple(parts),
            receivable_left=owed - amount,
        )
        return await self._write(conn, entry, params, receipt)

    async def owed(self, merchant_id: uuid.UUID) -> int:
        """What the merchant owes consumers and may still pay itself (not yet claimed)."""
        return (await self.balances(merchant_id))[AccountKind.PAYABLES_COVER]

    async def claim_payables(
        self, merchant_id: uuid.UUID, *, due_by: datetime, idempotency_key: str
    ) -> PayableClaimReceipt:
        """Move every payable due by ``due_by`` and still unpaid to a claim on the policy.

        The insured part was covered all along: from now on the insurer pays it
        (:meth:`pay_claim`), and the merchant can no longer settle it itself.
        """
        _check_key(idempotency_key)
        params = {"due_by": due_by.isoformat()}
        conn = await self._conn()
        start = await self._begin(
            conn,
            merchant_id,
            idempotency_key,
            PAYABLE_CLAIM,
            params,
            PayableClaimReceipt,
        )
        if start.replay is not None:
            return start.replay
        book = start.book
        _require_open(book)
        owing = (await conn.execute(sql.OWED_PAYABLES, {"merchant_id": merchant_id})).all()
        lines = tuple(
            PayablePart(payable_seq=row.seq, card_id=row.card_id, amount=int(row.owed))
            for row in owing
            if row.due_at <= due_by
        )
        if not lines:
            raise NoClaimPending(
                "no refund payable of this merchant is past its deadline",
                code="no-payable-overdue",
                merchant_id=merchant_id,
            )
        entry = self._entry(
            book, PAYABLE_CLAIM, idempotency_key, _claim_legs(lines), now=self._clock()
        )
        receipt = PayableClaimReceipt(
            merchant_id=merchant_id,
            seq=entry.seq,
            lines=lines,
            total=sum(line.amount for line in lines),
        )
        return await self._write(conn, entry, params, receipt)

    async def default_payout(
        self, merchant_id: uuid.UUID, *, idempotency_key: str
    ) -> DefaultPayoutReceipt:
        """Freeze the book and pay every open card its ``outstanding``, to the fen.

        Custody pays each card's custody share to its consumer now; each insured share moves
        to pending claims, the per-card breakdown of the insurance claim, and so does every
        payable the merchant still owed: a defaulted merchant will pay none of them.
        """
        _check_key(idempotency_key)
        params: dict[str, Any] = {}
        conn = await self._conn()
        start = await self._begin(
            conn,
            merchant_id,
            idempotency_key,
            EntryKind.DEFAULT_PAYOUT,
            params,
            DefaultPayoutReceipt,
        )
        if start.replay is not None:
            return start.replay
        book = start.book
        _require_open(book)
        cards = await conn.execute(sql.LOCK_OPEN_CARDS, {"merchant_id": merchant_id})
        owing = (await conn.execute(sql.OWED_PAYABLES, {"merchant_id": merchant_id})).all()
        payables = tuple(
            PayablePart(payable_seq=row.seq, card_id=row.card_id, amount=row.owed) for row in owing
        )
        payouts: list[CardPayout] = []
        legs: Legs = _claim_legs(payables)
        for card in cards:
            payouts.append(
                CardPayout(
                    card_id=card.id,
                    outstanding=card.outstanding,
                    custody_paid=card.custody_share,
                    claim_amount=card.insured_share,
                )
            )
            legs += [
                (AccountKind.CUSTODY, card.id, -card.custody_share),
                (AccountKind.CONSUMERS, card.id, card.custody_share),
                (AccountKind.CARDS_COVER, card.id, -card.insured_share),
                (AccountKind.CLAIMS_PENDING, card.id, card.insured_share),
            ]
        now = self._clock()
        entry = self._entry(book, EntryKind.DEFAULT_PAYOUT, idempotency_key, legs, now=now)
        await conn.execute(sql.DEFAULT_OPEN_CARDS, {"book": merchant_id})
        await conn.execute(sql.FREEZE_BOOK, {"book": merchant_id})
        receipt = DefaultPayoutReceipt(
            merchant_id=merchant_id,
            seq=entry.seq,
            cards=payouts,
            total_outstanding=sum(p.outstanding for p in payouts),
            total_custody_paid=sum(p.custody_paid for p in payouts),
            total_claim=sum(p.claim_amount for p in payouts),
            payables=payables,
            total_payables=sum(p.amount for p in payables),
        )
        return await self._write(conn, entry, params, receipt)

    async def pay_claim(
        self,
        merchant_id: uuid.UUID,
        *,
        reference: str,
        idempotency_key: str,
        lines: Sequence[CardClaim] | None = None,
    ) -> ClaimPaymentReceipt:
        """Record the insurer paying claim lines to consumers, in one entry.

        A line pays a defaulted card's insured share (no ``payable_seq``) or a payable that
        went past its deadline (the merchant's debt to that consumer is then paid). Without
        ``lines``, every claim pending on the book is paid. A line asking for more than is
        pending, or a book with nothing pending, is refused with
        :class:`~escrow.errors.NoClaimPending`. The only new write a frozen book takes.
        """
        _check_reference(reference)
        _check_key(idempotency_key)
        params: dict[str, Any] = {"reference": reference}
        if lines is not None:
            params["lines"] = [[str(c.card_id), c.payable_seq, c.amount] for c in lines]
        conn = await self._conn()
        start = await self._begin(
            conn,
            merchant_id,
            idempotency_key,
            CLAIM_PAYMENT,
            params,
            ClaimPaymentReceipt,
        )
        if start.replay is not None:
            return start.replay
        book = start.book
        # The book lock serialises this against every other write to the claims.
        pending = {
            (row.card_id, row.payable_seq): int(row.pending)
            for row in await conn.execute(sql.PENDING_CLAIMS, {"merchant_id": merchant_id})
        }
        if lines is None:
            if not pending and book.status == BookStatus.DEFAULTED:
                raise NoClaimPending(
                    "this merchant's insurance claim has already been paid; nothing is pending",
                    code="claim-already-paid",
                    merchant_id=merchant_id,
                )
            if not pending:
                raise NoClaimPending(
                    "no default has been declared for this merchant and no refund payable went"
                    " past its deadline, so there is no claim to pay",
                    merchant_id=merchant_id,
                )
            lines = [
                CardClaim(card_id=card, payable_seq=payable, amount=fen)
                for (card, payable), fen in pending.items()
            ]
        claims = tuple(sorted(lines, key=lambda c: (str(c.card_id), c.payable_seq or 0)))
        for claim in claims:
            check_positive(claim.amount, "a claim line")
            held = pending.get((claim.card_id, claim.payable_seq), 0)
            if claim.amount > held:
                raise NoClaimPending(
                    f"card {claim.card_id} has {held} fen of this claim pending; a line of"
                    f" {claim.amount} fen cannot be paid",
                    code="claim-line-over-pending",
                    card_id=claim.card_id,
                    pending_fen=held,
                    asked_fen=claim.amount,
                )
            pending[claim.card_id, claim.payable_seq] = held - claim.amount
        legs: Legs = []
        for claim in claims:
            card, fen, payable = claim.card_id, claim.amount, claim.payable_seq
            if payable is None:
                legs += [
                    (AccountKind.INSURER, card, -fen),
                    (AccountKind.CONSUMERS, card, fen),
                    (AccountKind.CLAIMS_PENDING, card, -fen),
                    (AccountKind.POLICY, card, fen),
                ]
            else:
                legs += [
                    (AccountKind.INSURER, card, -fen, payable),
                    (AccountKind.CONSUMERS, card, fen, payable),
                    (AccountKind.CLAIMS_PENDING, card, -fen, payable),
                    (AccountKind.POLICY, card, fen, payable),
                    (AccountKind.MERCHANT_RECEIVABLE, card, -fen, payable),
                    (AccountKind.REFUNDS_PAYABLE, card, fen, payable),
                ]
        entry = self._entry(book, CLAIM_PAYMENT, idempotency_key, legs, now=self._clock())
        receipt = ClaimPaymentReceipt(
            merchant_id=merchant_id,
            seq=entry.seq,
            reference=reference,
            total=sum(claim.amount for claim in claims),
            cards=claims,
        )
        return await self._write(conn, entry, params, receipt)

    async def compensate(
        self,
        merchant_id: uuid.UUID,
        card_id: uuid.UUID,
        *,
        amount: int,
        idempotency_key: str,
        payable_due_at: datetime,
    ) -> CompensationReceipt:
        """Book a regulator's decision that the merchant pays a consumer ``amount`` fen.

        A partial decision in a dispute: the card stays open and keeps its value, and the
        merchant owes the compensation as a payable due at ``payable_due_at``, as it owes a
        refund's insured part; the performance bond covers it until it is paid (the policy's
        exposure grows by it), so the debt shows in its settlement. The amount is
        capped at the card's price, and so is the sum of every compensation decided on the
        card (:class:`~escrow.errors.CompensationOverPrice` names what is left): a decision
        above it is a mistake to catch, not to book. A refunded card is closed and takes none.
        """
        check_positive(amount, "the compensation")
        _check_key(idempotency_key)
        params = {"card_id": card_id, "amount": amount}
        conn = await self._conn()
        start = await self._begin(
            conn,
            merchant_id,
            idempotency_key,
            COMPENSATION,
            params,
            CompensationReceipt,
            card_id=card_id,
        )
        if start.replay is not None:
            return start.replay
        book = start.book
        _require_open(book)

        card = _open_card(start, merchant_id, card_id)[0]
        if amount > card.paid:
            raise InvalidAmount(
                f"the compensation of {amount} fen is more than the {card.paid} fen paid for"
                " the card",
                code="compensation-over-paid",
                card_id=card_id,
                asked_fen=amount,
                paid_fen=card.paid,
            )
        # Under the book lock, so racing decisions cannot both fit under the cap.
        ids = {"merchant_id": merchant_id, "card_id": card_id}
        earlier = int((await conn.execute(sql.COMPENSATED, ids)).scalar_one())
        if earlier + amount > card.paid:
            left = max(card.paid - earlier, 0)
            raise CompensationOverPrice(
                f"the card's earlier compensations total {earlier} fen of the {card.paid} fen"
                f" paid for it, so at most {left} fen more can be decided; {amount} is too much",
                code="compensation-cap-reached",
                card_id=card_id,
                earlier_fen=earlier,
                paid_fen=card.paid,
                left_fen=left,
                asked_fen=amount,
            )
        owed = (await self.balances(merchant_id))[AccountKind.MERCHANT_RECEIVABLE]
        payable = book.seq + 1
        entry = self._entry(
            book,
            COMPENSATION,
            idempotency_key,
            [
                (AccountKind.MERCHANT_RECEIVABLE, card_id, amount, payable),
                (AccountKind.REFUNDS_PAYABLE, card_id, -amount, payable),
                (AccountKind.POLICY, card_id, -amount, payable),
                (AccountKind.PAYABLES_COVER, card_id, amount, payable),
            ],
            now=self._clock(),
            card_id=card_id,
        )
        receipt = CompensationReceipt(
            merchant_id=merchant_id,
            seq=entry.seq,
            card_id=card_id,
            amount=amount,
            receivable=owed + amount,
            card=card,
            payable_seq=payable,
            due_at=payable_due_at,
        )
        written = await self._write(conn, entry, params, receipt)
        await self._add_payable(
            conn, entry, card_id, PayableKind.COMPENSATION, amount, 0, payable_due_at
        )
        return written

    # -- internals -----------------------------------------------------------------------

    async def _add_payable(
        self,
        conn: AsyncConnection,
        entry: _Entry,
        card_id: uuid.UUID,
        kind: PayableKind,
        amount: int,
        custody_paid: int,
        due_at: datetime,
    ) -> None:
        """Record the payable the entry just written created (its legs name it already)."""
        await conn.execute(
            sql.INSERT_PAYABLE,
            {
                "merchant_id": entry.book.merchant_id,
                "seq": entry.seq,
                "card_id": card_id,
                "kind": kind.value,
                "amount": amount,
                "custody_paid": custody_paid,
                "due_at": due_at,
            },
        )

    def _entry(
        self,
        book: _Book,
        operation: str,
        idempotency_key: str,
        legs: Legs,
        *,
        now: datetime,
        card_id: uuid.UUID | None = None,
        units: int | None = None,
    ) -> _Entry:
        """The next entry of the book's chain, with its non-zero legs, ready to write."""
        operation = str(operation)  # an EntryKind is its plain name in the records
        kind = JOURNAL_KIND_OF[operation]
        seq = book.seq + 1
        chained = [
            Leg(
                line,
                leg[0].value,
                LEDGER_OF[leg[0]].value,
                leg[1],
                leg[2],
                leg[3] if len(leg) == 4 else None,  # noqa: PLR2004 - a payable's leg
            )
            for line, leg in enumerate((leg for leg in legs if leg[2] != 0), start=1)
        ]
        digest = entry_hash(
            book.head_hash,
            merchant_id=book.merchant_id,
            seq=seq,
            kind=kind.value,
            card_id=card_id,
            units=units,
            idempotency_key=idempotency_key,
            created_at=now,
            legs=chained,
        )
        return _Entry(
            book, seq, kind, operation, idempotency_key, chained, now, card_id, units, digest
        )

    async def _begin(
        self,
        conn: AsyncConnection,
        merchant_id: uuid.UUID,
        key: str,
        operation: str,
        params: dict[str, Any],
        receipt_type: type[ReceiptT],
        *,
        card_id: uuid.UUID | None = None,
    ) -> _Start[ReceiptT]:
        """Lock the book; return it with the stored result of a repeated request and the card.

        One round trip (:data:`escrow.statements.BEGIN_OPERATION`); a second only when a
        concurrent operation of the merchant committed while this one waited for the lock, so
        a twin request with the same key is either seen (and replayed) or not yet started.
        The card is read under the book lock, which every write of a card holds, so it cannot
        change before this operation commits.
        """
        raw = await _driver(conn)
        found = await (
            await raw.execute(
                sql.BEGIN_OPERATION, {"book": merchant_id, "key": key, "card": card_id}
            )
        ).fetchone()
        if found is None:
            raise UnknownBook(
                f"no escrow book is open for merchant {merchant_id}", merchant_id=merchant_id
            )
        seq, head, status, seen_seq, *record_and_card = found
        record, card = tuple(record_and_card[:3]), tuple(record_and_card[3:])
        if seen_seq != seq:  # written meanwhile: read both again, after the lock
            again = await (await raw.execute(sql.FIND_RECORD, (merchant_id, key))).fetchone()
            record = tuple(again) if again else (None, None, None)
            if card_id is not None:
                card = await (await raw.execute(sql.FIND_CARD, (card_id,))).fetchone() or ()
        start: _Start[ReceiptT] = _Start(
            _Book(merchant_id, seq, head, status), None, _card_row(card)
        )
        stored_operation, request_hash, result = record
        if stored_operation is None:
            return start
        if stored_operation != operation or request_hash != _request_hash(operation, params):
            raise IdempotencyConflict(_KEY_REUSED)
        receipt = msgspec.json.decode(result, type=receipt_type)
        return _Start(start.book, msgspec.structs.replace(receipt, replayed=True), None)

    async def _write(
        self,
        conn: AsyncConnection,
        entry: _Entry,
        params: dict[str, Any],
        receipt: ReceiptT,
        *,
        new_card: tuple[CardKind, CardBalance] | None = None,
        changed_card: CardBalance | None = None,
    ) -> ReceiptT:
        """Write the card, the entry, its postings, its record and the chain head at once.

        One statement (:data:`escrow.statements.WRITE_ENTRY`): a new card (a purchase), a
        changed one, or none, then everything the entry is made of.
        """
        legs = entry.legs
        values: dict[str, Any] = {
            "book": entry.book.merchant_id,
            "seq": entry.seq,
            "kind": entry.kind.value,
            "card": entry.card_id,
            "units": entry.units,
            "key": entry.idempotency_key,
            "at": entry.created_at,
            "prev": entry.book.head_hash,
            "hash": entry.digest,
            "operation": entry.operation,
            "request": _request_hash(entry.operation, params),
            "result": msgspec.json.encode(receipt).decode(),
            "lines": [leg.line for leg in legs],
            "accounts": [leg.account for leg in legs],
            "ledgers": [leg.ledger for leg in legs],
            "cards": [leg.card_id for leg in legs],
            "amounts": [leg.amount for leg in legs],
            "payables": [leg.payable_seq for leg in legs],
        }
        card = changed_card
        shape = ""
        if new_card is not None:
            kind, card = new_card
            values["c_kind"], values["c_paid"] = kind.value, card.paid
            values["c_units_total"], values["c_ratio"] = card.units_total, card.custody_ratio_bp
            shape = "new"
        elif changed_card is not None:
            shape = "changed"
        if card is not None:
            if card.card_id != entry.card_id:
                raise ValueError("an entry writes only the card it is about")
            values["c_status"], values["c_units_remaining"] = card.status, card.units_remaining
            values["c_outstanding"], values["c_custody"] = card.outstanding, card.custody_share
            values["c_insured"] = card.insured_share
        await (await _driver(conn)).execute(sql.WRITE_ENTRY[shape], values)
        return receipt


@dataclass(frozen=True, slots=True)
class _Start(Generic[ReceiptT]):
    """What an operation finds once it holds its book's lock."""

    book: _Book
    replay: ReceiptT | None
    """The first result of this request, when it is a repeat."""
    card: tuple[CardBalance, str, uuid.UUID] | None
    """The card the operation names, with its kind and merchant, if it exists anywhere."""


async def _driver(conn: AsyncConnection) -> psycopg.AsyncConnection[Any]:
    """The psycopg connection under the session's: the same transaction, no SQLAlchemy."""
    raw = await conn.get_raw_connection()
    return cast("psycopg.AsyncConnection[Any]", raw.driver_connection)


def _new_card(card_id: uuid.UUID, paid: int, units_total: int, ratio_bp: int) -> CardBalance:
    """An unused card worth what was paid for it, split between custody and cover at ``ratio_bp``.

    What a purchase issues, and what a transfer issues on the successor's book.
    """
    parts = split(paid, ratio_bp)
    return CardBalance(
        card_id=card_id,
        status=CardStatus.OPEN,
        paid=paid,
        units_total=units_total,
        units_remaining=units_total,
        custody_ratio_bp=ratio_bp,
        outstanding=paid,
        custody_share=parts.custody,
        insured_share=parts.insured,
    )


def _card_row(row: Sequence[Any]) -> tuple[CardBalance, str, uuid.UUID] | None:
    """A card read by BEGIN_OPERATION or FIND_CARD (columns CARD_FIELDS), and its kind."""
    if not row or row[0] is None:
        return None
    card = SimpleNamespace(**dict(zip(sql.CARD_FIELDS, row, strict=True)))
    return _balance(card), str(card.kind), card.merchant_id


_CLOSED_CODE: dict[str, str] = {
    CardStatus.REFUNDED: "card-refunded",
    CardStatus.DEFAULTED: "card-defaulted",
    CardStatus.TRANSFERRED: "card-transferred",
}


def _open_card(
    start: _Start[Any], merchant_id: uuid.UUID, card_id: uuid.UUID
) -> tuple[CardBalance, str]:
    """The open card of this merchant that the operation named, and its kind."""
    if start.card is None or start.card[2] != merchant_id:
        raise UnknownCard(f"card {card_id} does not exist at this merchant", card_id=card_id)
    card, kind, _ = start.card
    if card.status != CardStatus.OPEN:
        raise CardNotOpen(
            f"card {card_id} is {card.status} and can no longer be used",
            code=_CLOSED_CODE.get(card.status),
            card_id=card_id,
        )
    return card, kind


def _claim_legs(parts: Sequence[PayablePart]) -> Legs:
    """Legs moving payables the merchant did not pay to claims on its policy."""
    legs: Legs = []
    for part in parts:
        legs += [
            (AccountKind.PAYABLES_COVER, part.card_id, -part.amount, part.payable_seq),
            (AccountKind.CLAIMS_PENDING, part.card_id, part.amount, part.payable_seq),
        ]
    return legs


def _card_kind(kind: object) -> CardKind:
    for member in CardKind:
        if kind == member.value:
            return member
    kinds = ", ".join(k.value for k in CardKind)
    raise InvalidRequest(
        f"card kind must be one of {kinds}, got {kind!r}",
        code="card-kind-unknown",
        kind=str(kind),
        kinds=kinds,
    )


def _require_open(book: _Book) -> None:
    if book.status != BookStatus.OPEN:
        raise BookFrozen(
            "this merchant has been declared in default; its book is frozen and takes no new"
            " operations",
            merchant_id=book.merchant_id,
        )


def _short(card: CardBalance, kind: str, units: int) -> InsufficientBalance:
    """A redemption above what is left, said in what the card counts: face value or sessions."""
    message = f"the card has {card.units_remaining} units left; {units} cannot be redeemed"
    if kind == CardKind.STORED_VALUE:  # its units are fen of face value
        return InsufficientBalance(
            message,
            code="card-value-short",
            card_id=card.card_id,
            balance_fen=card.units_remaining,
            asked_fen=units,
        )
    return InsufficientBalance(
        message,
        code="card-sessions-short",
        card_id=card.card_id,
        sessions_left=card.units_remaining,
        sessions_asked=units,
    )
