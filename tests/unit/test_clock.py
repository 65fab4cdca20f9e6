"""The injectable clock and the Shanghai business-day calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.clock import (
    SHANGHAI,
    ManualClock,
    business_days_after,
    current_clock,
    last_months,
    today,
    use_clock,
    utcnow,
)


def test_a_manual_clock_is_what_the_app_reads_while_it_is_in_use() -> None:
    start = datetime(2027, 1, 29, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai, a Friday
    before = current_clock()
    with use_clock(ManualClock(start)) as clock:
        assert utcnow() == start
        assert today() == date(2027, 1, 29)
        assert isinstance(clock, ManualClock)
        clock.advance(timedelta(hours=2))  # past midnight in Shanghai
        assert today() == date(2027, 1, 30)
        with pytest.raises(ValueError, match="cannot go back"):
            clock.set(start)
    assert current_clock() is before


def test_a_manual_clock_needs_a_zone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2027, 1, 1))  # noqa: DTZ001 - the point of the test


@pytest.mark.parametrize(
    ("refunded_on", "due_end"),
    [
        (date(2027, 3, 1), date(2027, 3, 4)),  # Monday → Thursday, end of day
        (date(2027, 3, 5), date(2027, 3, 10)),  # Friday → Wednesday
        (date(2027, 3, 6), date(2027, 3, 10)),  # Saturday → Wednesday
        (date(2027, 3, 7), date(2027, 3, 10)),  # Sunday → Wednesday
    ],
)
def test_three_business_days_end_at_shanghai_midnight(refunded_on: date, due_end: date) -> None:
    moment = datetime(refunded_on.year, refunded_on.month, refunded_on.day, 10, tzinfo=SHANGHAI)
    due = business_days_after(moment, 3)
    assert due.tzinfo is not None
    assert due.astimezone(SHANGHAI) == datetime(
        due_end.year, due_end.month, due_end.day, tzinfo=SHANGHAI
    ) + timedelta(days=1)


def test_the_last_twelve_months_end_at_shanghai_midnights_and_now() -> None:
    now = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)  # 09:00 on 1 March in Shanghai
    months = last_months(now)
    assert len(months) == 12
    assert [first for first, _ in months][:2] == [date(2025, 4, 1), date(2025, 5, 1)]
    assert months[-1] == (date(2026, 3, 1), now)
    # February ended at midnight in Shanghai, 16:00 UTC the day before
    assert months[-2] == (date(2026, 2, 1), datetime(2026, 2, 28, 16, 0, tzinfo=UTC))
