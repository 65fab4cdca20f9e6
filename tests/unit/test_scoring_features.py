"""Indicator records and point-in-time features: nothing dated at or after the scoring time,
a missing source is missing (never zero), and override flags floor the grade."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from scoring import BadData, Override, grade
from scoring.features import (
    FEATURES,
    MISSING,
    MONOTONE,
    exit_pattern,
    features_at,
    overrides,
    overrides_at,
)
from scoring.indicators import CATALOGUE, Indicator, Source

USCC = "91330106MA2B3C4D5E"
AT = date(2024, 6, 1)


def record(source: Source, kind: str, value: float | str | bool, as_of: date) -> Indicator:
    return Indicator(USCC, source, kind, value, as_of, "test")


HISTORY = [
    record(Source.TAX, "arrears_fen", 1000.0, date(2024, 3, 15)),
    record(Source.TAX, "arrears_fen", 5000.0, date(2024, 5, 15)),
    record(Source.TAX, "filing_gap_months", 2.0, date(2024, 5, 15)),
    record(Source.CREDIT, "public_rating", "B", date(2024, 4, 12)),
    record(Source.REGISTRATION, "status", "active", date(2023, 1, 5)),
    record(Source.COURT, "dishonest_debtor", False, date(2024, 4, 10)),
]


def test_latest_value_before_the_scoring_time() -> None:
    features = features_at(HISTORY, AT)
    assert tuple(features) == FEATURES
    assert features["tax_arrears_fen"] == 5000.0
    assert features["tax_filing_gap_months"] == 2.0
    assert features["credit_public_rating"] == "B"
    assert features["court_dishonest_debtor"] == 0.0


@pytest.mark.parametrize("as_of", [AT, date(2024, 6, 2), date(2025, 1, 1)])
def test_a_record_on_or_after_the_scoring_time_changes_nothing(as_of: date) -> None:
    before = features_at(HISTORY, AT)
    later = [
        record(Source.TAX, "arrears_fen", 9_999_999.0, as_of),
        record(Source.CREDIT, "public_rating", "D", as_of),
        record(Source.BANK, "frozen", True, as_of),
        record(Source.COURT, "dishonest_debtor", True, as_of),
    ]
    after = features_at([*HISTORY, *later], AT)
    assert after.keys() == before.keys()
    for name in FEATURES:  # NaN != NaN, so compare the text
        assert repr(after[name]) == repr(before[name]), name
    assert overrides_at([*HISTORY, *later], AT) == ()


def test_record_order_does_not_matter() -> None:
    assert repr(features_at(HISTORY, AT)) == repr(features_at(list(reversed(HISTORY)), AT))


def test_a_missing_source_is_missing_not_zero() -> None:
    features = features_at(HISTORY, AT)
    for kind in CATALOGUE:
        if kind.source in {Source.BANK, Source.SOCIAL_SECURITY, Source.SALES, Source.COMPLAINTS}:
            value = features[kind.feature]
            if kind.type == "category":
                assert value == MISSING
            else:
                assert isinstance(value, float)
                assert math.isnan(value), kind.feature
    empty = features_at([], AT)
    assert empty["registration_status"] == MISSING
    assert all(math.isnan(v) for n, v in empty.items() if n in MONOTONE)
    # A zero that was reported is a zero, not missing.
    zero = features_at([record(Source.BANK, "inflow_trend_pct", 0.0, date(2024, 1, 25))], AT)
    assert zero["bank_inflow_trend_pct"] == 0.0


def test_every_numeric_feature_has_a_declared_direction() -> None:
    numeric = {k.feature for k in CATALOGUE if k.type != "category"}
    assert set(MONOTONE) == numeric
    assert all(d in (-1, 1) for d in MONOTONE.values())
    assert MONOTONE["tax_arrears_fen"] == 1
    assert MONOTONE["social_security_headcount"] == -1


@pytest.mark.parametrize(
    ("source", "kind", "value", "message"),
    [
        (Source.TAX, "dishonest_debtor", True, "has no kind"),
        (Source.TAX, "arrears_fen", "lots", "expects a number"),
        (Source.TAX, "arrears_fen", True, "expects a number"),
        (Source.TAX, "arrears_fen", math.inf, "finite"),
        (Source.BANK, "frozen", 1, "true or false"),
        (Source.CREDIT, "public_rating", "AAA", "one of A, B, C, D"),
    ],
)
def test_records_of_unknown_kinds_or_wrong_values_refused(source, kind, value, message) -> None:
    with pytest.raises(BadData, match=message):
        record(source, kind, value, AT)


def test_override_records_floor_the_grade() -> None:
    listed = [*HISTORY, record(Source.COURT, "dishonest_debtor", True, date(2024, 5, 10))]
    found = overrides_at(listed, AT)
    assert found == (Override.DISHONEST_DEBTOR,)
    graded = grade(0.01, found)
    assert graded.model_grade == "A"
    assert graded.grade == "E"  # a dishonest debtor will not pay back prepaid balances either
    assert graded.reasons == ("listed as a dishonest debtor (失信被执行人)",)

    abnormal = [
        *HISTORY,
        record(
            Source.REGISTRATION, "abnormal_operations", True, AT.replace(day=1) - timedelta(days=3)
        ),
    ]
    assert overrides_at(abnormal, AT) == (Override.ABNORMAL_OPERATIONS,)
    assert grade(0.01, overrides_at(abnormal, AT)).grade == "D"

    closing = [
        *listed,
        *abnormal,
        *EXIT,
        record(Source.REGISTRATION, "deregistration_filed", True, date(2024, 5, 5)),
        record(Source.REGISTRATION, "licence_revoked", True, date(2024, 5, 6)),
    ]
    found = overrides_at(closing, AT)
    assert set(found) == set(Override)
    assert grade(0.01, found).grade == "E"


EXIT = [
    record(Source.REGISTRATION, "capital_change", -60.0, date(2024, 1, 8)),
    record(Source.REGISTRATION, "equity_transfer", True, date(2024, 3, 1)),
    record(Source.REGISTRATION, "legal_representative_change", True, date(2024, 5, 20)),
]
"""Capital cut by 60%, the owners sold, a new legal representative: 133 days in all."""


def test_the_exit_path_within_180_days_floors_the_grade_at_d_with_its_records() -> None:
    assert exit_pattern(EXIT, AT) == tuple(EXIT)
    assert overrides_at([*HISTORY, *EXIT], AT) == (Override.EXIT_PATTERN,)
    assert grade(0.01, overrides_at(EXIT, AT)).grade == "D"
    # in another order, too
    shuffled = [EXIT[2], EXIT[0], EXIT[1]]
    assert set(exit_pattern(shuffled, AT)) == set(EXIT)


@pytest.mark.parametrize(
    "records",
    [
        EXIT[:2],  # no new representative
        [
            EXIT[0].__class__(
                USCC, Source.REGISTRATION, "capital_change", 20.0, date(2024, 1, 8), "t"
            ),
            *EXIT[1:],
        ],  # capital raised, not cut
        [
            record(Source.REGISTRATION, "capital_change", -60.0, date(2023, 9, 1)),
            *EXIT[1:],
        ],  # 262 days
        [
            *EXIT[:2],
            record(Source.REGISTRATION, "legal_representative_change", False, date(2024, 5, 20)),
        ],
        [
            *EXIT[:2],
            record(Source.REGISTRATION, "legal_representative_change", True, AT),
        ],  # not yet known
    ],
)
def test_no_exit_path_without_all_three_steps_in_180_days(records: list[Indicator]) -> None:
    assert exit_pattern(records, AT) == ()
    assert Override.EXIT_PATTERN not in overrides_at(records, AT)


def test_the_latest_exit_path_is_the_evidence() -> None:
    again = record(Source.REGISTRATION, "equity_transfer", True, date(2024, 5, 1))
    assert exit_pattern([*EXIT, again], AT) == (EXIT[0], again, EXIT[2])


def test_a_flag_later_cleared_no_longer_overrides() -> None:
    cleared = [
        record(Source.COURT, "dishonest_debtor", True, date(2024, 1, 10)),
        record(Source.COURT, "dishonest_debtor", False, date(2024, 4, 10)),
    ]
    assert overrides_at(cleared, AT) == ()
    assert overrides_at(cleared, date(2024, 3, 1)) == (Override.DISHONEST_DEBTOR,)
    assert overrides({"court_dishonest_debtor": math.nan}) == ()
    assert grade(0.01, overrides_at(cleared, AT)).grade == "A"


def test_a_source_given_as_text_is_read_or_refused() -> None:
    assert Indicator(USCC, "tax", "arrears_fen", 1.0, AT, "t").source is Source.TAX  # type: ignore[arg-type]
    with pytest.raises(BadData, match="no source 'weather'"):
        Indicator(USCC, "weather", "rain", 1.0, AT, "t")  # type: ignore[arg-type]
