"""What each ledger operation returns: the receipts, kept as the idempotency records' results.

A retry of an operation gets its first receipt back (``replayed``), read from the stored JSON;
so a receipt holds only plain values (ids, integer fen, counts, times), never live objects.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec


class CardBalance(msgspec.Struct, frozen=True, kw_only=True):
    """A card's balances after an operation."""

    card_id: uuid.UUID
    status: str
    paid: int
    units_total: int
    units_remaining: int
    custody_ratio_bp: int
    outstanding: int
    custody_share: int
    insured_share: int


class PurchaseReceipt(msgspec.Struct, frozen=True, kw_only=True):
    """What a purchase wrote: the new card and how its price was split."""

    merchant_id: uuid.UUID
    seq: int
    custody: int
    insured: int
    custody_ratio_bp: int
    card: CardBalance
    replayed: bool = False


class RedemptionReceipt(msgspec.Struct, frozen=True, kw_only=True):
    """What a redemption released: custody to the merchant, cover off the policy."""

    merchant_id: uuid.UUID
    seq: int
    units: int
    released_from_custody: int
    released_from_cover: int
    card: CardBalance
    replayed: bool = False


class RefundReceipt(msgspec.Struct, frozen=True, kw_only=True):
    """A solvent refund: custody pays its share now, the merchant owes the rest by a date."""

    merchant_id: uuid.UUID
    seq: int
    refunded: int
    paid_from_custody: int
    owed_by_merchant: int
    card: CardBalance
    payable_seq: int | None = None
    """The payable the merchant owes (this entry's seq); None when it owes nothing."""
    due_at: datetime | None = None
    replayed: bool = False


class TransferReceipt(msgspec.Struct, frozen=True, kw_only=True):
    """A card moved to a successor's book: one entry in each book, the money conserved.

    ``card`` is the old card (now ``transferred``), ``new_card`` the successor's. The closing
    merchant's custody sends ``moved_from_custody``; the successor's custody holds
    ``new_card.custody_share`` at its own ratio, and ``from_successor`` is what the successor
    puts into custody on top (negative: what custody pays the successor from the surplus).
    """

    merchant_id: uuid.UUID
    seq: int
    to_merchant_id: uuid.UUID
    to_seq: int
    moved: int
    """The card's worth when it moved (its outstanding): the new card's ``paid``."""
    moved_from_custody: int
    released_from_cover: int
    from_successor: int
    card: CardBalance
    new_card: CardBalance
    replayed: bool = False


class PayablePart(msgspec.Struct, frozen=True, kw_only=True):
    """Part of one payable, settled or claimed."""

    payable_seq: int
    card_id: uuid.UUID
    amount: int


class SettlementReceipt(msgspec.Struct, frozen=True, kw_only=True):
    """The merchant paid payables it owed consumers: itself, or out of its sales proceeds."""

    merchant_id: uuid.UUID
    seq: int
    amount: int
    via: str
    """``merchant`` (it paid through the payment provider) or ``netting`` (withheld)."""
    parts: tuple[PayablePart, ...]
    """Oldest deadline first; ``amount`` is their sum."""
    receivable_left: int
    """What the merchant still owes consumers, not yet claimed from its insurer."""
    replayed: bool = False


class PayableClaimReceipt(msgspec.Struct, frozen=True, kw_only=True):
    """Payables past their deadline, moved to a claim on the merchant's policy."""

    merchant_id: uuid.UUID
    seq: int
    lines: tuple[PayablePart, ...]
    total: int
    replayed: bool = False


class CardPayout(msgspec.Struct, frozen=True, kw_only=True):
    """One card's share of a default payout; ``custody_paid + claim_amount = outstanding``."""

    card_id: uuid.UUID
    outstanding: int
    custody_paid: int
    claim_amount: int


class CardClaim(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a claim payment: what the insurer paid a card's consumer, and for what.

    ``payable_seq`` names the refund payable it pays; None for a defaulted card's insured
    share.
    """

    card_id: uuid.UUID
    amount: int
    payable_seq: int | None = None


class ClaimPaymentReceipt(msgspec.Struct, frozen=True, kw_only=True):
    """The insurer paid claim lines (a default's, or payables past their deadline)."""

    merchant_id: uuid.UUID
    seq: int
    reference: str
    """The insurer's payment reference, as given."""
    total: int
    cards: tuple[CardClaim, ...]
    """In ascending card id and payable order; ``total`` is their sum."""
    replayed: bool = False


class CompensationReceipt(msgspec.Struct, frozen=True, kw_only=True):
    """A regulator's decision that the merchant owes a consumer ``amount`` fen."""

    merchant_id: uuid.UUID
    seq: int
    card_id: uuid.UUID
    amount: int
    receivable: int
    """Everything the merchant owes consumers after this decision (refunds and compensation)."""
    card: CardBalance
    """Unchanged: the card stays open with its value."""
    payable_seq: int | None = None
    due_at: datetime | None = None
    replayed: bool = False


class DefaultPayoutReceipt(msgspec.Struct, frozen=True, kw_only=True):
    """A declared default: custody paid out per card, insured shares turned into a claim."""

    merchant_id: uuid.UUID
    seq: int
    cards: list[CardPayout]
    total_outstanding: int
    total_custody_paid: int
    total_claim: int
    """The cards' insured shares, now claimed."""
    payables: tuple[PayablePart, ...] = ()
    """Refund payables the merchant still owed, claimed with the cards."""
    total_payables: int = 0
    replayed: bool = False
