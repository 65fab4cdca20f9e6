"""Report periods in the Shanghai calendar, and the report's rounding of shares and changes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.clock import ManualClock, use_clock
from app.exceptions import Invalid
from app.reports.periods import parse, recent
from app.reports.tables import change_bp, ratio_bp

NOW = datetime(2026, 11, 15, 4, tzinfo=UTC)


def test_a_month_and_a_quarter_run_from_shanghai_midnight_to_the_next() -> None:
    with use_clock(ManualClock(NOW)):
        november, q4 = parse("2026-11"), parse("2026-q4")
    assert november.start == datetime(2026, 10, 31, 16, tzinfo=UTC)
    assert november.end == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert (q4.code, q4.first, q4.after) == ("2026-Q4", date(2026, 10, 1), date(2027, 1, 1))
    assert q4.months() == [date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)]
    assert q4.year_before().code == "2025-Q4"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("2026-13", "report-period-invalid"),
        ("2026-00", "report-period-invalid"),
        ("2026-Q5", "report-period-invalid"),
        ("2026-Q0", "report-period-invalid"),
        ("1999-01", "report-period-invalid"),
        ("November", "report-period-invalid"),
        ("2026-12", "report-period-future"),
        ("2027-Q1", "report-period-future"),
    ],
)
def test_a_period_that_cannot_be_read_or_has_not_begun_is_refused(text: str, code: str) -> None:
    with use_clock(ManualClock(NOW)), pytest.raises(Invalid) as refused:
        parse(text)
    assert refused.value.code == code
    assert refused.value.fields == {"period": code}


def test_the_picker_offers_twelve_months_then_eight_quarters_newest_first() -> None:
    with use_clock(ManualClock(NOW)):
        offered = [p.code for p in recent()]
    assert offered[:2] == ["2026-11", "2026-10"]
    assert offered[11] == "2025-12"
    assert offered[12:14] == ["2026-Q4", "2026-Q3"]
    assert offered[-1] == "2025-Q1"


def test_shares_and_changes_round_half_away_from_zero() -> None:
    assert ratio_bp(1, 2) == 5000
    assert ratio_bp(1, 3) == 3333
    assert ratio_bp(2, 3) == 6667
    assert ratio_bp(1, 0) is None
    assert change_bp(816, 1000) == -1840
    assert change_bp(3, 1) == 20_000
    assert change_bp(1, 0) is None
    assert change_bp(2, 3) == -3333
