"""When a merchant must have paid the part of a refund it owes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.clock import business_days_after, utcnow
from app.settings import get_settings

if TYPE_CHECKING:
    from datetime import datetime


def payable_due_at(now: datetime | None = None) -> datetime:
    """The deadline of a payable created now.

    The end of the Nth Shanghai business day after (``PGUARD_PAYABLE_BUSINESS_DAYS``, 3).
    """
    return business_days_after(now or utcnow(), get_settings().cards.payable_business_days)
