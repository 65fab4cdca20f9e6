"""The one clock every part of the app reads, and the platform's calendar.

Time is an input: code asks :func:`utcnow` (or :func:`today`), never the system, so a test or
a simulated district (``pguard simulate``) can set the clock and live a year in minutes. The
process-wide clock is the system's unless :func:`use_clock` installs another. Days are counted
in China Standard Time, whatever the server's zone.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import date

SHANGHAI = ZoneInfo("Asia/Shanghai")
"""Cooling-off periods, record dates, deadlines and scoring days are Shanghai calendar days."""


class Clock(Protocol):
    """Anything that says what time it is (timezone-aware, UTC)."""

    def now(self) -> datetime:
        """The current moment."""
        ...


class SystemClock:
    """The machine's clock: what production runs on."""

    def now(self) -> datetime:
        """The current moment, in UTC."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to: for tests and simulations."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            msg = "a manual clock needs a timezone-aware start"
            raise ValueError(msg)
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """The moment the clock was last set to."""
        return self._now

    def set(self, moment: datetime) -> None:
        """Move the clock to ``moment`` (it may not go back: time-ordered data must stay so)."""
        moment = moment.astimezone(UTC)
        if moment < self._now:
            msg = f"the clock cannot go back from {self._now} to {moment}"
            raise ValueError(msg)
        self._now = moment

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta``; return the new moment."""
        self.set(self._now + delta)
        return self._now


_clock: Clock = SystemClock()


def current_clock() -> Clock:
    """The clock the process reads now."""
    return _clock


@contextlib.contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    """Read ``clock`` until the block ends (the whole process: one simulation at a time)."""
    global _clock  # noqa: PLW0603 - the one place the process's clock is swapped
    before, _clock = _clock, clock
    try:
        yield clock
    finally:
        _clock = before


def utcnow() -> datetime:
    """Now, from the process's clock. Timestamps are stored in UTC."""
    return _clock.now()


def today(now: datetime | None = None) -> date:
    """The calendar day it is in Shanghai at ``now`` (default: now)."""
    return (now or utcnow()).astimezone(SHANGHAI).date()


def shanghai_midnight(day: date) -> datetime:
    """The moment a Shanghai calendar day begins, in UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI).astimezone(UTC)


def last_months(now: datetime, count: int = 12) -> list[tuple[date, datetime]]:
    """The last ``count`` Shanghai calendar months, oldest first, this one included.

    Each month's first day and the moment it ended (for this month, ``now``).
    """
    firsts = [today(now).replace(day=1)]
    for _ in range(count - 1):
        firsts.append((firsts[-1] - timedelta(days=1)).replace(day=1))
    firsts.reverse()
    ends = [shanghai_midnight(first) for first in firsts[1:]] + [now]
    return list(zip(firsts, ends, strict=True))


def business_days_after(moment: datetime, days: int) -> datetime:
    """The end of the ``days``-th Shanghai business day (Monday to Friday) after ``moment``.

    A deadline of 3 business days from a Friday refund ends on Wednesday at midnight.
    Public holidays are not known to the platform yet; they count as business days.
    """
    day = today(moment)
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if day.weekday() < 5:  # noqa: PLR2004 - Saturday is 5
            counted += 1
    return shanghai_midnight(day + timedelta(days=1))
