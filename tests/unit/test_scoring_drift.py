"""Drift: PSI of the score and of each feature, period 1 (expected) against period 2 (actual)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring import ACT, INVESTIGATE, BadData, Bin, DriftReport, Psi, drift_report, psi

NAN = math.nan
EPS = 1e-4


def normal(shift: float, size: int = 20_000, seed: int = 0) -> list[float]:
    return np.random.default_rng(seed).normal(shift, 1.0, size).tolist()


def test_thresholds_are_the_designs() -> None:
    assert (INVESTIGATE, ACT) == (0.10, 0.25)


def test_identical_samples_are_stable_with_psi_zero() -> None:
    sample = normal(0.0)
    result = psi(sample, sample, name="x")
    assert result == Psi("x", result.psi, "stable", result.bins)
    assert result.psi == pytest.approx(0.0, abs=1e-12)
    assert len(result.bins) == 10
    assert all(b.expected == pytest.approx(0.1) == b.actual for b in result.bins)
    assert result.bins[0].label.startswith("(-inf, ")
    assert result.bins[-1].label.endswith(", +inf)")


def test_two_draws_of_one_distribution_are_stable() -> None:
    assert psi(normal(0.0, seed=1), normal(0.0, seed=2), name="x").flag == "stable"


def test_clearly_shifted_sample_calls_for_action() -> None:
    result = psi(normal(0.0, seed=1), normal(1.0, seed=2), name="x")
    assert result.flag == "act"
    assert result.psi > 0.8  # about 0.95 for a one-sigma shift in deciles


def test_moderate_shift_is_worth_investigating() -> None:
    # A 0.4 sigma shift of a normal gives PSI close to 0.4**2 = 0.16 (0.162 with these seeds).
    result = psi(normal(0.0, seed=1), normal(0.4, seed=2), name="x")
    assert result.flag == "investigate"
    assert 0.14 < result.psi < 0.19


def test_small_categorical_example_matches_the_formula() -> None:
    result = psi(["A", "A", "B", "B"], ["A", "B", "B", "B"], name="rating")
    expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert result.psi == pytest.approx(expected, rel=1e-12)
    assert result.bins == (Bin("A", 0.5, 0.25), Bin("B", 0.5, 0.75))
    assert result.flag == "act"  # 0.2747


def test_a_category_new_in_the_actual_period_is_smoothed_not_infinite() -> None:
    result = psi(["A", "A", "B", "missing"], ["A", "C", "C", "missing"], name="status")
    assert [b.label for b in result.bins] == ["A", "B", "C", "missing"]
    assert [(b.expected, b.actual) for b in result.bins] == [
        (0.5, 0.25),
        (0.25, 0.0),
        (0.0, 0.5),
        (0.25, 0.25),
    ]
    expected = (
        (0.25 - 0.5) * math.log(0.25 / 0.5)
        + (EPS - 0.25) * math.log(EPS / 0.25)
        + (0.5 - EPS) * math.log(0.5 / EPS)
    )
    assert result.psi == pytest.approx(expected, rel=1e-12)


def test_missing_values_get_their_own_bin_and_a_rise_is_detected() -> None:
    values = normal(0.0, size=1000)
    before = [NAN if i % 10 == 0 else v for i, v in enumerate(values)]  # 10% missing
    after = [NAN if i % 10 < 4 else v for i, v in enumerate(values)]  # 40% missing
    result = psi(before, after, name="tax_arrears_fen")
    missing = result.bins[-1]
    assert missing.label == "missing"
    assert (missing.expected, missing.actual) == (pytest.approx(0.1), pytest.approx(0.4))
    assert sum(b.expected for b in result.bins) == pytest.approx(1.0)
    assert sum(b.actual for b in result.bins) == pytest.approx(1.0)
    assert result.flag == "act"
    assert psi(before, before, name="x").bins[-1].label == "missing"


def test_no_missing_bin_without_missing_values() -> None:
    assert all(b.label != "missing" for b in psi(normal(0.0), normal(0.1), name="x").bins)


def test_all_missing_in_one_period() -> None:
    result = psi([1.0, 2.0, 3.0], [NAN, NAN], name="x")
    assert result.bins[-1] == Bin("missing", 0.0, 1.0)
    assert result.flag == "act"


def test_constant_expected_column_does_not_crash_and_shows_a_rise() -> None:
    same = psi([0.0] * 100, [0.0] * 100, name="court_dishonest_debtor")
    assert same.psi == 0.0
    assert [b.label for b in same.bins] == ["(-inf, 0]"]
    risen = psi([0.0] * 100, [0.0] * 80 + [1.0] * 20, name="court_dishonest_debtor")
    assert risen.bins == (Bin("(-inf, 0]", 1.0, 0.8), Bin("(0, +inf)", 0.0, 0.2))
    assert risen.flag == "act"


def test_many_equal_values_do_not_make_empty_duplicate_bins() -> None:
    values = [0.0] * 700 + np.linspace(1.0, 50.0, 300).tolist()
    result = psi(values, values, name="court_enforcement_cases")
    labels = [b.label for b in result.bins]
    assert len(labels) == len(set(labels))
    assert all(b.expected > 0 for b in result.bins)
    assert result.bins[0] == Bin("(-inf, 0]", 0.7, 0.7)
    assert len(result.bins) == 4  # the zeros, then the top three deciles


def test_a_rare_flag_keeps_its_own_bin() -> None:
    result = psi([0.0] * 99 + [1.0], [0.0] * 50 + [1.0] * 50, name="bank_frozen")
    assert [b.label for b in result.bins] == ["(-inf, 0]", "(0, 1]"]
    assert result.flag == "act"


@pytest.mark.parametrize(
    ("expected", "actual"),
    [(["A", 1.0], ["A"]), (["A", "B"], [1.0, 2.0]), ([1.0], [2.0, "missing"])],
)
def test_mixed_text_and_numbers_are_refused(
    expected: list[float | str], actual: list[float | str]
) -> None:
    with pytest.raises(BadData, match=r"column 'registration_status': mixes text and numbers"):
        psi(expected, actual, name="registration_status")


def test_values_neither_number_nor_text_are_refused() -> None:
    with pytest.raises(BadData, match=r"column 'x': rating 2 of the actual .* neither"):
        psi([1.0], [1.0, None], name="x")  # type: ignore[list-item]


def test_infinite_numbers_are_refused() -> None:
    with pytest.raises(BadData, match=r"rating 1 of the expected period has inf"):
        psi([math.inf], [1.0], name="x")


@pytest.mark.parametrize(
    ("expected", "actual", "period"),
    [([], [1.0], "expected"), ([1.0], [], "actual"), ([], [], "expected")],
)
def test_empty_samples_are_refused_naming_the_period(
    expected: list[float], actual: list[float], period: str
) -> None:
    with pytest.raises(BadData, match=rf"the {period} period .* has no ratings"):
        psi(expected, actual, name="x")


def report_inputs() -> tuple[
    list[float], list[float], list[dict[str, float | str]], list[dict[str, float | str]]
]:
    rng = np.random.default_rng(3)
    n = 5000
    scores_1 = rng.beta(2, 20, n).tolist()
    scores_2 = rng.beta(2, 20, n).tolist()
    rows_1: list[dict[str, float | str]] = [
        {
            "steady": float(rng.normal()),
            "shifted": float(rng.normal()),
            "status": str(rng.choice(["active", "suspended"], p=[0.9, 0.1])),
        }
        for _ in range(n)
    ]
    rows_2: list[dict[str, float | str]] = [
        {
            "steady": float(rng.normal()),
            "shifted": float(rng.normal(1.0)),
            "status": str(rng.choice(["active", "suspended", "closing"], p=[0.6, 0.3, 0.1])),
        }
        for _ in range(n)
    ]
    return scores_1, scores_2, rows_1, rows_2


def test_drift_report_keeps_feature_order_and_flags_the_non_stable() -> None:
    scores_1, scores_2, rows_1, rows_2 = report_inputs()
    names = ["status", "steady", "shifted"]
    report = drift_report(scores_1, scores_2, rows_1, rows_2, names)
    assert isinstance(report, DriftReport)
    assert (report.expected_count, report.actual_count) == (5000, 5000)
    assert report.score.name == "score"
    assert report.score.flag == "stable"
    assert [p.name for p in report.features] == names
    assert [p.flag for p in report.features] == ["act", "stable", "act"]
    assert [p.name for p in report.flagged] == ["status", "shifted"]
    everything = (report.score, *report.features)
    assert report.flagged == tuple(p for p in everything if p.flag != "stable")


def test_a_shifted_score_is_flagged_first() -> None:
    scores_1, _, rows_1, rows_2 = report_inputs()
    shifted = [min(1.0, s * 2) for s in scores_1]
    report = drift_report(scores_1, shifted, rows_1, rows_2, ["steady"])
    assert [p.name for p in report.flagged] == ["score"]


def test_to_dict_is_json() -> None:
    scores_1, scores_2, rows_1, rows_2 = report_inputs()
    rows_2[0]["steady"] = NAN
    report = drift_report(scores_1, scores_2, rows_1, rows_2, ["status", "steady", "shifted"])
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["expected_count"] == 5000
    assert data["flagged"] == ["status", "shifted"]
    assert [f["name"] for f in data["features"]] == ["status", "steady", "shifted"]
    steady = data["features"][1]
    assert steady["bins"][-1] == {"label": "missing", "expected": 0.0, "actual": 0.0002}
    assert steady["psi"] == round(report.features[1].psi, 6)
    assert data["score"]["flag"] == "stable"


def test_drift_report_refuses_an_empty_period() -> None:
    with pytest.raises(BadData, match=r"the actual period \(period 2\) has no ratings"):
        drift_report([0.1], [], [{"x": 1.0}], [], ["x"])
    with pytest.raises(BadData, match=r"the expected period \(period 1\) has no ratings"):
        drift_report([], [0.1], [], [{"x": 1.0}], ["x"])


@pytest.mark.parametrize("score", [1.5, -0.1, NAN])
def test_drift_report_refuses_scores_that_are_not_probabilities(score: float) -> None:
    with pytest.raises(BadData, match="column 'score': rating 2 of the actual period"):
        drift_report([0.1], [0.2, score], [{}], [{}, {}], [])


def test_drift_report_refuses_rows_that_do_not_match_the_ratings() -> None:
    with pytest.raises(BadData, match="the expected period has 2 scores but 1 feature rows"):
        drift_report([0.1, 0.2], [0.1], [{"x": 1.0}], [{"x": 1.0}], ["x"])
    with pytest.raises(BadData, match="column 'y': rating 1 of the actual period has no such"):
        drift_report([0.1], [0.1], [{"y": 1.0}], [{"x": 1.0}], ["y"])


samples = st.lists(
    st.floats(allow_nan=True, allow_infinity=False) | st.integers(-1000, 1000).map(float),
    min_size=1,
    max_size=200,
)


@given(samples, samples, st.integers(2, 20))
def test_psi_is_never_negative_and_zero_on_itself(
    expected: list[float], actual: list[float], bins: int
) -> None:
    result = psi(expected, actual, name="x", bins=bins)
    assert result.psi >= 0.0
    assert math.isfinite(result.psi)
    assert sum(b.expected for b in result.bins) == pytest.approx(1.0)
    assert sum(b.actual for b in result.bins) == pytest.approx(1.0)
    assert psi(expected, expected, name="x", bins=bins).psi == pytest.approx(0.0, abs=1e-12)
