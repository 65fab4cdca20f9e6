"""Recompute the books from the postings and report every place they disagree.

The stored balances (``accounts.balance``, the card columns, the chain heads) are running
totals kept for speed; the postings and the hash chain are the truth. ``verify`` trusts
nothing it can recompute, so an edit made behind the triggers' back is found.
Run it inside one REPEATABLE READ transaction so that concurrent writers cannot make a
consistent book look broken.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from escrow.chain import GENESIS_HASH, Leg, entry_hash
from escrow.money import refundable

if TYPE_CHECKING:
    from collections.abc import Collection

    from sqlalchemy.ext.asyncio import AsyncSession


ALL_BOOKS = uuid.UUID(int=0)
"""The merchant a problem names when it is about all books together (money between them)."""


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One disagreement; ``seq`` names the broken entry where there is one."""

    merchant_id: uuid.UUID
    seq: int | None
    message: str

    def __str__(self) -> str:
        """Readable form used by the CLI."""
        where = "all books" if self.merchant_id == ALL_BOOKS else f"merchant {self.merchant_id}"
        if self.seq is not None:
            where += f" entry {self.seq}"
        return f"{where}: {self.message}"


@dataclass(slots=True)
class VerifyReport:
    """What ``verify`` looked at and what it found."""

    merchants: int = 0
    entries: int = 0
    cards: int = 0
    payables: int = 0
    settled: dict[str, int] = field(default_factory=dict)
    """Fen of payables that reached consumers, per way: merchant, netting, insurer."""
    pending: int = 0
    """Fen of payables not yet with their consumers (owed by merchants, or claimed)."""
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing disagrees."""
        return not self.problems

    @property
    def first_broken_entry(self) -> Problem | None:
        """The earliest problem tied to an entry, in merchant then sequence order."""
        tied = sorted(p for p in self.problems if p.seq is not None)
        return tied[0] if tied else None


_ENTRIES = text("""
    SELECT e.merchant_id, e.seq, e.kind, e.card_id, e.units, e.idempotency_key, e.created_at,
           e.prev_hash, e.hash,
           coalesce(
             json_agg(json_build_array(p.line, p.account, p.ledger, p.card_id, p.amount,
                                       p.payable_seq)
                      ORDER BY p.line) FILTER (WHERE p.line IS NOT NULL),
             '[]') AS legs
      FROM journal_entries e
      LEFT JOIN postings p ON p.merchant_id = e.merchant_id AND p.seq = e.seq
     WHERE e.merchant_id = ANY(:merchants) OR :everyone
     GROUP BY e.merchant_id, e.seq
     ORDER BY e.merchant_id, e.seq
""")

_BOOKS = text("""
    SELECT merchant_id, seq, head_hash FROM merchant_books
     WHERE merchant_id = ANY(:merchants) OR :everyone
""")

_ACCOUNTS = text("""
    SELECT a.merchant_id, a.kind, a.balance, coalesce(sum(p.amount), 0) AS recomputed
      FROM accounts a
      LEFT JOIN postings p ON p.merchant_id = a.merchant_id AND p.account = a.kind
     WHERE a.merchant_id = ANY(:merchants) OR :everyone
     GROUP BY a.merchant_id, a.kind, a.balance
    HAVING a.balance <> coalesce(sum(p.amount), 0)
""")

_CARDS = text("""
    WITH legs AS (
      SELECT merchant_id, card_id,
             sum(amount) FILTER (WHERE account = 'custody') AS custody,
             sum(amount) FILTER (WHERE account = 'cards_cover') AS cover,
             sum(amount) FILTER (WHERE account = 'claims_pending' AND payable_seq IS NULL)
               AS claims,
             sum(amount) FILTER (WHERE account = 'consumers' AND payable_seq IS NULL)
               AS consumers,
             -sum(amount) FILTER (WHERE account = 'consumers' AND amount < 0) AS bought
        FROM postings
       WHERE card_id IS NOT NULL AND (merchant_id = ANY(:merchants) OR :everyone)
       GROUP BY merchant_id, card_id
    ), used AS (
      SELECT merchant_id, card_id, sum(units) AS units
        FROM journal_entries
       WHERE kind = 'redemption' AND (merchant_id = ANY(:merchants) OR :everyone)
       GROUP BY merchant_id, card_id
    )
    SELECT c.merchant_id, c.id, c.status, c.paid, c.units_total, c.units_remaining,
           c.custody_ratio_bp, c.outstanding, c.custody_share, c.insured_share,
           coalesce(l.custody, 0) AS custody, coalesce(l.cover, 0) AS cover,
           coalesce(l.claims, 0) AS claims, coalesce(l.consumers, 0) AS consumers,
           coalesce(l.bought, 0) AS bought, coalesce(u.units, 0) AS used
      FROM cards c
      LEFT JOIN legs l ON l.merchant_id = c.merchant_id AND l.card_id = c.id
      LEFT JOIN used u ON u.merchant_id = c.merchant_id AND u.card_id = c.id
     WHERE c.merchant_id = ANY(:merchants) OR :everyone
""")

_EXPOSURE = text("""
    SELECT b.merchant_id,
           (SELECT balance FROM accounts WHERE merchant_id = b.merchant_id AND kind = 'custody')
             AS custody,
           (SELECT coalesce(sum(custody_share), 0) FROM cards WHERE merchant_id = b.merchant_id)
             AS cards_custody,
           (SELECT -balance FROM accounts WHERE merchant_id = b.merchant_id AND kind = 'policy')
             AS exposure,
           (SELECT coalesce(sum(insured_share), 0) FROM cards WHERE merchant_id = b.merchant_id)
             + (SELECT sum(balance) FROM accounts
                 WHERE merchant_id = b.merchant_id AND kind IN ('claims_pending', 'payables_cover'))
             AS covered
      FROM merchant_books b
     WHERE b.merchant_id = ANY(:merchants) OR :everyone
""")


_PAYABLES = text("""
    SELECT y.merchant_id, y.seq, y.card_id, y.amount, y.custody_paid,
           coalesce(sum(p.amount) FILTER (WHERE p.account = 'merchant_receivable'
                                            AND p.seq = y.seq), 0) AS created,
           coalesce(sum(p.amount) FILTER (WHERE p.account = 'merchant_receivable'), 0)
             AS receivable,
           -coalesce(sum(p.amount) FILTER (WHERE p.account = 'refunds_payable'), 0) AS pending,
           coalesce(sum(p.amount) FILTER (WHERE p.account = 'payables_cover'), 0) AS covered,
           coalesce(sum(p.amount) FILTER (WHERE p.account = 'claims_pending'), 0) AS claimed,
           coalesce(sum(p.amount) FILTER (WHERE p.account = 'consumers'), 0) AS received,
           coalesce(sum(p.amount) FILTER (WHERE p.account = 'consumers'
                                            AND e.kind = 'receivable_settlement'), 0)
             AS by_merchant,
           coalesce(sum(p.amount) FILTER (WHERE p.account = 'consumers'
                                            AND e.kind = 'payable_netting'), 0) AS netted,
           coalesce(sum(p.amount) FILTER (WHERE p.account = 'consumers'
                                            AND e.kind = 'claim_payment'), 0) AS by_insurer,
           (SELECT coalesce(sum(c.amount), 0) FROM postings c
             WHERE c.merchant_id = y.merchant_id AND c.seq = y.seq AND c.card_id = y.card_id
               AND c.account = 'consumers' AND c.payable_seq IS NULL) AS custody
      FROM payables y
      LEFT JOIN postings p ON p.merchant_id = y.merchant_id AND p.payable_seq = y.seq
      LEFT JOIN journal_entries e ON e.merchant_id = p.merchant_id AND e.seq = p.seq
     WHERE y.merchant_id = ANY(:merchants) OR :everyone
     GROUP BY y.merchant_id, y.seq, y.card_id, y.amount, y.custody_paid
""")


_TRANSFERS = text("""
    SELECT t.from_merchant_id, t.from_card_id, t.from_seq, t.to_merchant_id, t.to_card_id,
           t.amount, n.paid AS new_paid, o.status AS old_status,
           (SELECT coalesce(sum(p.amount), 0) FROM postings p
             WHERE p.merchant_id = t.from_merchant_id AND p.seq = t.from_seq
               AND p.account = 'transfers') AS sent,
           (SELECT -coalesce(sum(p.amount), 0) FROM postings p
             WHERE p.merchant_id = t.from_merchant_id AND p.seq = t.from_seq
               AND p.account IN ('custody', 'cards_cover')) AS released,
           (SELECT -coalesce(sum(p.amount), 0) FROM postings p
             WHERE p.merchant_id = t.to_merchant_id AND p.seq = t.to_seq
               AND p.account = 'transfers') AS received
      FROM card_transfers t
      JOIN cards o ON o.merchant_id = t.from_merchant_id AND o.id = t.from_card_id
      JOIN cards n ON n.merchant_id = t.to_merchant_id AND n.id = t.to_card_id
     WHERE t.from_merchant_id = ANY(:merchants) OR t.to_merchant_id = ANY(:merchants) OR :everyone
""")

_UNLINKED = text("""
    SELECT e.merchant_id, e.seq, e.kind FROM journal_entries e
     WHERE e.kind IN ('transfer_out', 'transfer_in')
       AND (e.merchant_id = ANY(:merchants) OR :everyone)
       AND NOT EXISTS (SELECT 1 FROM card_transfers t
                        WHERE (t.from_merchant_id, t.from_seq) = (e.merchant_id, e.seq)
                           OR (t.to_merchant_id, t.to_seq) = (e.merchant_id, e.seq))
    UNION ALL
    SELECT c.merchant_id, NULL, 'card ' || c.id FROM cards c
     WHERE c.status = 'transferred' AND (c.merchant_id = ANY(:merchants) OR :everyone)
       AND NOT EXISTS (SELECT 1 FROM card_transfers t WHERE t.from_card_id = c.id)
""")

_TRANSFERS_TOTAL = text("SELECT coalesce(sum(balance), 0) FROM accounts WHERE kind = 'transfers'")


async def _check_transfers(
    session: AsyncSession, report: VerifyReport, scope: dict[str, Any]
) -> None:
    """Every card moved to a successor arrived whole: no fen made or lost between two books.

    The closing book sent the card's custody share and released its cover, together what the
    card was worth; the successor's book received the same custody money and its new card was
    priced at that worth. Over all books the ``transfers`` account sums to zero.
    """
    for t in await session.execute(_TRANSFERS, scope):
        found: list[str] = []
        if t.old_status != "transferred":
            found.append(f"the old card is {t.old_status}, not transferred")
        if t.released != t.amount or t.new_paid != t.amount:
            found.append(
                f"it was worth {t.amount} fen, its old book released {t.released} and its new"
                f" card {t.to_card_id} was priced {t.new_paid}"
            )
        if t.sent != t.received:
            found.append(
                f"custody sent {t.sent} fen but the successor's book received {t.received}"
            )
        report.problems.extend(
            Problem(t.from_merchant_id, t.from_seq, f"transfer of card {t.from_card_id}: {what}")
            for what in found
        )
    for row in await session.execute(_UNLINKED, scope):
        report.problems.append(
            Problem(row.merchant_id, row.seq, f"{row.kind} has no record of where the card went")
        )
    if scope["everyone"]:
        total = int((await session.execute(_TRANSFERS_TOTAL)).scalar_one())
        if total != 0:
            report.problems.append(
                Problem(
                    ALL_BOOKS,
                    None,
                    f"the books sent {total} fen more custody money to each other than they"
                    " received",
                )
            )


async def verify(
    session: AsyncSession, merchants: Collection[uuid.UUID] | None = None
) -> VerifyReport:
    """Recompute every balance and the hash chains from the postings.

    ``merchants`` limits the check to those books (each book is self-contained).
    """
    report = VerifyReport()
    scope = {"merchants": list(merchants or ()), "everyone": merchants is None}
    heads = await _check_chains(session, report, scope)
    for row in await session.execute(_BOOKS, scope):
        report.merchants += 1
        seq, head = heads.get(row.merchant_id, (0, GENESIS_HASH))
        if row.seq != seq or bytes(row.head_hash) != head:
            report.problems.append(
                Problem(
                    row.merchant_id,
                    seq + 1 if row.seq > seq else None,
                    f"chain head says entry {row.seq}, but the entries end at {seq}"
                    " (an entry is missing or the head was altered)",
                )
            )
    for row in await session.execute(_ACCOUNTS, scope):
        report.problems.append(
            Problem(
                row.merchant_id,
                None,
                f"account {row.kind} holds {row.balance} but its postings add up to"
                f" {row.recomputed}",
            )
        )
    for row in await session.execute(_CARDS, scope):
        report.cards += 1
        _check_card(row, report)
    for row in await session.execute(_PAYABLES, scope):
        report.payables += 1
        _check_payable(row, report)
    await _check_transfers(session, report, scope)
    for row in await session.execute(_EXPOSURE, scope):
        if row.custody != row.cards_custody:
            report.problems.append(
                Problem(
                    row.merchant_id,
                    None,
                    f"custody account holds {row.custody} but the cards' custody shares add up"
                    f" to {row.cards_custody}",
                )
            )
        if row.exposure != row.covered:
            report.problems.append(
                Problem(
                    row.merchant_id,
                    None,
                    f"policy exposure is {row.exposure} but insured shares and pending claims"
                    f" add up to {row.covered}",
                )
            )
    return report


async def _check_chains(
    session: AsyncSession, report: VerifyReport, scope: dict[str, Any]
) -> dict[uuid.UUID, tuple[int, bytes]]:
    """Walk every merchant's chain; return each one's last (seq, hash) as stored."""
    heads: dict[uuid.UUID, tuple[int, bytes]] = {}
    result = await session.stream(_ENTRIES, scope)
    async for row in result:
        report.entries += 1
        merchant_id: uuid.UUID = row.merchant_id
        prev_seq, prev_hash = heads.get(merchant_id, (0, GENESIS_HASH))
        stored_prev, stored_hash = bytes(row.prev_hash), bytes(row.hash)
        if row.seq != prev_seq + 1:
            report.problems.append(
                Problem(merchant_id, prev_seq + 1, f"entry {prev_seq + 1} is missing")
            )
        elif stored_prev != prev_hash:
            report.problems.append(
                Problem(merchant_id, row.seq, "does not link to the hash of the entry before it")
            )
        legs = [
            Leg(line, account, ledger, None if card is None else uuid.UUID(card), amount, payable)
            for line, account, ledger, card, amount, payable in row.legs
        ]
        recomputed = entry_hash(
            stored_prev,
            merchant_id=merchant_id,
            seq=row.seq,
            kind=row.kind,
            card_id=row.card_id,
            units=row.units,
            idempotency_key=row.idempotency_key,
            created_at=row.created_at,
            legs=legs,
        )
        if recomputed != stored_hash:
            report.problems.append(
                Problem(merchant_id, row.seq, "content does not match its hash (altered)")
            )
        for ledger in {leg.ledger for leg in legs}:
            total = sum(leg.amount for leg in legs if leg.ledger == ledger)
            if total != 0:
                report.problems.append(
                    Problem(merchant_id, row.seq, f"{ledger} ledger is off balance by {total}")
                )
        heads[merchant_id] = (row.seq, stored_hash)
    return heads


def _check_payable(y: Any, report: VerifyReport) -> None:  # noqa: ANN401 - a Row of _PAYABLES
    """Every refund reaches its consumer whole.

    Custody paid its share at once, and the payable's ``amount = paid by the merchant +
    withheld from its sales + paid by the insurer + still pending``.
    """
    ways = (("merchant", y.by_merchant), ("netting", y.netted), ("insurer", y.by_insurer))
    for way, fen in ways:
        report.settled[way] = report.settled.get(way, 0) + int(fen)
    report.pending += int(y.pending)
    found: list[str] = []
    if y.created != y.amount:
        found.append(f"it is recorded as {y.amount} fen but its entry made it {y.created}")
    if y.custody != y.custody_paid:
        found.append(f"custody paid {y.custody} fen at once, the payable says {y.custody_paid}")
    if y.received != y.by_merchant + y.netted + y.by_insurer:
        found.append(f"its consumer got {y.received} fen, not all by a way a payable is paid")
    if y.pending != y.amount - y.received:
        found.append(
            f"{y.amount} fen owed, {y.received} paid, but {y.pending} still pending"
            " (the refund does not reach its consumer whole)"
        )
    if y.pending < 0 or y.receivable != y.pending:
        found.append(f"the merchant owes {y.receivable} fen of it, but {y.pending} is pending")
    if y.covered < 0 or y.claimed < 0 or y.covered + y.claimed != y.pending:
        found.append(f"{y.pending} fen pending, but {y.covered} is covered and {y.claimed} claimed")
    report.problems.extend(
        Problem(y.merchant_id, y.seq, f"payable of card {y.card_id}: {what}") for what in found
    )


def _check_card(c: Any, report: VerifyReport) -> None:  # noqa: ANN401 - a Row of _CARDS
    found: list[str] = []
    if c.custody_share != c.custody:
        found.append(f"custody share {c.custody_share} but postings say {c.custody}")
    if c.insured_share != c.cover:
        found.append(f"insured share {c.insured_share} but postings say {c.cover}")
    if c.units_remaining != c.units_total - c.used:
        found.append(
            f"{c.units_remaining} units left but redemptions leave {c.units_total - c.used}"
        )
    owed = refundable(c.paid, c.units_remaining, c.units_total)
    if c.status == "open" and c.outstanding != owed:
        found.append(f"outstanding {c.outstanding} but its units are worth {owed}")
    if c.claims < 0:
        found.append(f"the insurer paid {-c.claims} more than the card's claim")
    if c.status != "defaulted" and c.claims != 0:
        found.append(f"a claim of {c.claims} is pending but the card is {c.status}")
    if c.status == "defaulted":
        # Units stay as they were at default: the consumer is owed exactly what they were worth.
        # A purchase posted -paid on this card; a card that came by transfer was paid for at
        # its old merchant, so nothing came from its consumer on this book.
        returned = c.consumers + c.bought
        if returned + c.claims != owed:
            found.append(
                f"its consumer got {returned} back with {c.claims} still claimed, but the card"
                f" was worth {owed} at default"
            )
    report.problems.extend(Problem(c.merchant_id, None, f"card {c.id}: {what}") for what in found)
