"""The model: AUC on real credit data, monotone directions, determinism, metrics."""

from __future__ import annotations

import numpy as np
import pytest

from scoring import BadData, BadSettings, Params, Table, cross_validate, evaluate, fit, read_table
from scoring.metrics import calibration_table, ks_statistic
from tests.unit.scoring_data import GERMAN_CREDIT, synthetic

FAST = Params(bag_folds=2, bag_repeats=1)


@pytest.fixture(scope="module")
def german() -> Table:
    return read_table(GERMAN_CREDIT, label="creditability", positive="bad")


@pytest.fixture
def small(tmp_path) -> Table:
    return read_table(synthetic(tmp_path / "s.csv"), label="defaulted", positive="yes")


def test_german_credit_five_fold_auc_is_at_least_075(german: Table) -> None:
    result = cross_validate(german, folds=5)
    m = result.metrics
    print(  # noqa: T201 - the figure is reported when the issue is resolved
        f"german credit 5-fold CV: auc={m.auc:.4f} ks={m.ks:.4f} brier={m.brier:.4f}"
        f" fold aucs={[round(a, 4) for a in result.fold_aucs]}"
    )
    assert m.rows == 1000
    assert m.positives == 300
    assert m.auc >= 0.75
    assert 0.0 < m.brier < 0.21  # the base rate alone scores 0.21
    assert sum(b.rows for b in m.calibration) == 1000


def test_monotone_direction_is_enforced_on_a_grid(small: Table) -> None:
    model = fit(small, monotone={"tax_arrears": +1, "headcount": -1}, params=FAST)
    arrears = small.schema.names.index("tax_arrears")
    headcount = small.schema.names.index("headcount")
    grid = np.linspace(-1, 30, 64)
    for base in small.features[:40]:
        rows = np.repeat(base[None, :], grid.size, axis=0)
        rows[:, arrears] = grid
        risk = model.predict(Table(small.schema, rows, np.zeros(grid.size, np.int8), "grid"))
        assert np.all(np.diff(risk) >= 0), "more arrears lowered the risk"
        rows = np.repeat(base[None, :], grid.size, axis=0)
        rows[:, headcount] = grid * 3
        risk = model.predict(Table(small.schema, rows, np.zeros(grid.size, np.int8), "grid"))
        assert np.all(np.diff(risk) <= 0), "more staff raised the risk"


def test_same_data_and_seed_give_identical_probabilities(small: Table) -> None:
    first = fit(small, params=Params(seed=7, bag_folds=2, bag_repeats=1)).predict(small)
    second = fit(small, params=Params(seed=7, bag_folds=2, bag_repeats=1)).predict(small)
    assert np.array_equal(first, second)
    again = cross_validate(small, folds=3, params=FAST).probabilities
    assert np.array_equal(again, cross_validate(small, folds=3, params=FAST).probabilities)


def test_probabilities_are_probabilities(small: Table) -> None:
    p = fit(small, params=FAST).predict(small)
    assert p.shape == (small.rows,)
    assert np.all((p >= 0) & (p <= 1))


def test_bad_monotone_settings_refused(small: Table) -> None:
    with pytest.raises(BadSettings, match="not a feature column"):
        fit(small, monotone={"nope": 1})
    with pytest.raises(BadSettings, match="categorical"):
        fit(small, monotone={"district": 1})
    with pytest.raises(BadSettings, match=r"\+1, -1 or 0"):
        fit(small, monotone={"headcount": 2})


def test_too_few_rows_of_an_outcome_refused(small: Table) -> None:
    keep = np.concatenate([np.flatnonzero(small.label == 0), np.flatnonzero(small.label == 1)[:2]])
    with pytest.raises(BadData, match="at least 4 rows of each outcome"):
        fit(small.subset(keep))
    with pytest.raises(BadSettings, match="at least 2"):
        cross_validate(small, folds=1)


def test_metrics_on_known_values() -> None:
    y = np.array([0, 0, 1, 1], dtype=np.int8)
    perfect = evaluate(y, np.array([0.1, 0.2, 0.8, 0.9]))
    assert (perfect.auc, perfect.ks) == (1.0, 1.0)
    assert perfect.brier == pytest.approx((0.01 + 0.04 + 0.04 + 0.01) / 4)
    assert perfect.summary_line() == "auc=1.000 ks=1.000 brier=0.025"
    assert ks_statistic(y, np.array([0.5, 0.5, 0.5, 0.5])) == 0.0
    table = calibration_table(y, np.array([0.3, 0.3, 0.3, 0.9]), bins=4)
    assert [b.rows for b in table] == [3, 1]  # ties never split across bins
    with pytest.raises(BadData, match="both outcomes"):
        evaluate(np.zeros(3, np.int8), np.zeros(3))
