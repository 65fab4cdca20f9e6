"""The platform's calendar: days are counted in China Standard Time, whatever the server's zone."""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from app.base import utcnow

if TYPE_CHECKING:
    from datetime import date, datetime

SHANGHAI = ZoneInfo("Asia/Shanghai")
"""Cooling-off periods, record dates and scoring days are all Shanghai calendar days."""


def today(now: datetime | None = None) -> date:
    """The calendar day it is in Shanghai at ``now`` (default: now)."""
    return (now or utcnow()).astimezone(SHANGHAI).date()
