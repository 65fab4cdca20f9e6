"""Escrow: cards, the double-entry ledger, custody and insurance cover, in integer fen.

Framework-free: imports neither ``app`` nor ``litestar``, nor the other domain packages.
"""

from escrow.errors import (
    BookFrozen,
    CardNotOpen,
    CardUsed,
    EscrowError,
    IdempotencyConflict,
    InsufficientBalance,
    InvalidAmount,
    InvalidRatio,
    InvalidRequest,
    NotFound,
    Refused,
    UnknownBook,
    UnknownCard,
)
from escrow.ledger import (
    CardBalance,
    CardPayout,
    DefaultPayoutReceipt,
    EscrowLedger,
    PurchaseReceipt,
    RedemptionReceipt,
    RefundReceipt,
    SettlementReceipt,
)
from escrow.models import AccountKind, CardKind, CardStatus, metadata
from escrow.money import DEFAULT_CUSTODY_RATIO_BP, Split, refundable, split
from escrow.reports import CardEvent, Settlement, card_history, outstanding, settlement
from escrow.verify import Problem, VerifyReport, verify

__all__ = [
    "DEFAULT_CUSTODY_RATIO_BP",
    "AccountKind",
    "BookFrozen",
    "CardBalance",
    "CardEvent",
    "CardKind",
    "CardNotOpen",
    "CardPayout",
    "CardStatus",
    "CardUsed",
    "DefaultPayoutReceipt",
    "EscrowError",
    "EscrowLedger",
    "IdempotencyConflict",
    "InsufficientBalance",
    "InvalidAmount",
    "InvalidRatio",
    "InvalidRequest",
    "NotFound",
    "Problem",
    "PurchaseReceipt",
    "RedemptionReceipt",
    "RefundReceipt",
    "Refused",
    "Settlement",
    "SettlementReceipt",
    "Split",
    "UnknownBook",
    "UnknownCard",
    "VerifyReport",
    "card_history",
    "metadata",
    "outstanding",
    "refundable",
    "settlement",
    "split",
    "verify",
]
