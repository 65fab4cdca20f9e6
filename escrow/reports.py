"""Read-only views of a book: a card's history and a merchant's settlement, from postings."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import msgspec
from sqlalchemy import text

from escrow.models import AccountKind

if TYPE_CHECKING:
    import uuid
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncSession


class CardEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One entry that touched a card, with what it moved for that card."""

    seq: int
    kind: str
    """The operation (``purchase``, ``redemption``, ``compensation``, ``claim_payment``...)."""
    at: datetime
    units: int | None
    custody_change: int
    """Change of the card's custody share (negative: released or paid out)."""
    cover_change: int
    """Change of the card's insured share."""
    to_consumer: int
    """Money paid back to the consumer by this entry (negative at purchase: paid in)."""


class Settlement(msgspec.Struct, frozen=True, kw_only=True):
    """Where a merchant's prepaid money stands, every figure recomputed from postings."""

    cards_sold: int
    sold: int
    """Total paid by consumers for cards."""
    paid_out_at_sale: int
    """Insured part of each sale, paid to the merchant at once."""
    released_from_custody: int
    """Custody released to the merchant as cards were used."""
    refunded: int
    """Paid back to consumers (custody part and what the merchant settled)."""
    receivable: int
    """Refund money the merchant still owes."""
    custody_held: int
    """Held at the custody bank for open cards."""
    insured_cover: int
    """What the insurer covers on open cards."""
    outstanding: int
    """What consumers could ask back today: custody held plus insured cover."""


_HISTORY = text("""
    SELECT e.seq, coalesce(k.operation, e.kind) AS kind, e.created_at AS at,
           CASE WHEN e.card_id = :card THEN e.units END AS units,
           coalesce(sum(p.amount) FILTER (WHERE p.account = 'custody'), 0)::bigint
             AS custody_change,
           coalesce(sum(p.amount) FILTER (WHERE p.account = 'cards_cover'), 0)::bigint
             AS cover_change,
           coalesce(sum(p.amount) FILTER (WHERE p.account = 'consumers'), 0)::bigint
             AS to_consumer
      FROM journal_entries e
      JOIN postings p ON p.merchant_id = e.merchant_id AND p.seq = e.seq AND p.card_id = :card
      LEFT JOIN idempotency_records k
        ON k.merchant_id = e.merchant_id AND k.key = e.idempotency_key
     WHERE e.merchant_id = :merchant
     GROUP BY e.seq, e.kind, k.operation, e.created_at, e.card_id, e.units
    UNION ALL
    SELECT e.seq, coalesce(k.operation, e.kind), e.created_at, e.units, 0, 0, 0
      FROM journal_entries e
      LEFT JOIN idempotency_records k
        ON k.merchant_id = e.merchant_id AND k.key = e.idempotency_key
     WHERE e.merchant_id = :merchant AND e.card_id = :card
       AND NOT EXISTS (SELECT 1 FROM postings p
                        WHERE p.merchant_id = e.merchant_id AND p.seq = e.seq)
     ORDER BY seq
""")


def _total(account: str, kind: str | None = None, *, negate: bool = False) -> str:
    """One settlement figure: the sum of an account's postings, optionally by entry kind."""
    where = f"p.account = '{account}'" + (f" AND e.kind {kind}" if kind else "")
    sign = "-" if negate else ""
    return f"coalesce({sign}sum(p.amount) FILTER (WHERE {where}), 0)::bigint"


_SETTLEMENT = text(f"""
    SELECT
      (SELECT count(*) FROM cards WHERE merchant_id = :m)::bigint AS cards_sold,
      {_total("consumers", "= 'purchase'", negate=True)} AS sold,
      {_total("merchant", "= 'purchase'")} AS paid_out_at_sale,
      {_total("merchant", "= 'redemption'")} AS released_from_custody,
      {_total("consumers", "<> 'purchase'")} AS refunded,
      {_total("merchant_receivable")} AS receivable,
      {_total("custody")} AS custody_held,
      {_total("cards_cover")} AS insured_cover
      FROM postings p
      JOIN journal_entries e ON e.merchant_id = p.merchant_id AND e.seq = p.seq
     WHERE p.merchant_id = :m
""")  # noqa: S608 - the interpolated parts are constants of this module


async def card_history(
    session: AsyncSession, merchant_id: uuid.UUID, card_id: uuid.UUID
) -> list[CardEvent]:
    """Every entry that touched the card, oldest first."""
    rows = await session.execute(_HISTORY, {"merchant": merchant_id, "card": card_id})
    return [CardEvent(**row._asdict()) for row in rows]


OUTSTANDING_SQL = """
    SELECT merchant_id, sum(balance)::bigint AS outstanding
      FROM accounts
     WHERE merchant_id = ANY(:ids) AND kind IN ('custody', 'cards_cover')
     GROUP BY merchant_id
"""
""":func:`outstanding` as SQL (``:ids``), for a statement that reads it with other figures."""
_OUTSTANDING = text(OUTSTANDING_SQL)


async def outstanding(
    session: AsyncSession, merchant_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """What consumers could ask back today, per merchant (custody held plus insured cover).

    Read from the account balances the ledger's trigger keeps, so it is cheap for many
    merchants at once; merchants without a book are absent.
    """
    rows = await session.execute(_OUTSTANDING, {"ids": merchant_ids})
    return {merchant_id: int(total) for merchant_id, total in rows}


_MOVED_SINCE = """
    WITH moved AS MATERIALIZED (
        SELECT e.created_at, p.amount
          FROM postings p
          JOIN journal_entries e ON e.merchant_id = p.merchant_id AND e.seq = p.seq
         WHERE p.merchant_id = ANY(:ids) AND p.account IN ({kinds}) AND e.created_at > :since
    )
    SELECT t.at, coalesce((SELECT sum(amount) FROM moved WHERE moved.created_at > t.at), 0)
      FROM unnest(CAST(:moments AS timestamptz[])) AS t(at)
"""
_NOW = """
    SELECT coalesce(sum(balance), 0)
      FROM accounts
     WHERE merchant_id = ANY(:ids) AND kind IN ({kinds})
"""
_OWED_KINDS = f"'{AccountKind.CUSTODY.value}', '{AccountKind.CARDS_COVER.value}'"
_POLICY_KINDS = f"'{AccountKind.POLICY.value}'"


async def _balance_at(
    session: AsyncSession,
    merchant_ids: Sequence[uuid.UUID],
    moments: Sequence[datetime],
    kinds: str,
) -> list[int]:
    """The summed balance of the accounts of ``kinds`` at each moment.

    Today's balance less what they moved after it: only the entries since the earliest moment
    are read, not the whole ledger.
    """
    if not moments:
        return []
    now = int(await session.scalar(text(_NOW.format(kinds=kinds)), {"ids": merchant_ids}) or 0)
    rows = await session.execute(
        text(_MOVED_SINCE.format(kinds=kinds)),
        {"ids": merchant_ids, "since": min(moments), "moments": list(moments)},
    )
    moved = {at: int(total) for at, total in rows}
    return [now - moved[moment] for moment in moments]


async def outstanding_at(
    session: AsyncSession, merchant_ids: Sequence[uuid.UUID], moments: Sequence[datetime]
) -> list[int]:
    """What consumers could ask back at each moment, summed over the merchants.

    Custody held plus insured cover, as :func:`outstanding` reads it today.
    """
    return await _balance_at(session, merchant_ids, moments, _OWED_KINDS)


async def policy_exposure_at(
    session: AsyncSession, merchant_ids: Sequence[uuid.UUID], moments: Sequence[datetime]
) -> list[int]:
    """What the merchants' insurance policies stood to pay at each moment, summed.

    The policy accounts' balance, turned positive: insured shares, payables not yet paid,
    claims open.
    """
    return [-fen for fen in await _balance_at(session, merchant_ids, moments, _POLICY_KINDS)]


async def settlement(session: AsyncSession, merchant_id: uuid.UUID) -> Settlement:
    """The merchant's settlement figures."""
    figures = (await session.execute(_SETTLEMENT, {"m": merchant_id})).one()._asdict()
    return Settlement(**figures, outstanding=figures["custody_held"] + figures["insured_cover"])
