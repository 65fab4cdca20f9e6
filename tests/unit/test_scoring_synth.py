"""The synthetic generator: same seed same data, valid codes, a plausible default rate, a model
fitted on its features that obeys the declared directions, and ``pguard scoring synth``."""

from __future__ import annotations

import csv
import math
import re

import numpy as np
import pytest
from click.testing import CliRunner

from app.cli import main
from app.merchants.uscc import check_character as app_check_character
from app.merchants.uscc import uscc_problem
from scoring import BadSettings, Params, Table, fit, read_table
from scoring.dataset import INDICATOR_COLUMNS, training_rows, write_synthetic
from scoring.features import FEATURES, MONOTONE, features_at
from scoring.synth import Synthetic, check_character, generate

LAST_LINE = re.compile(r"auc=0\.\d{3} ks=0\.\d{3} brier=0\.\d{3}")


@pytest.fixture(scope="module")
def world() -> Synthetic:
    return generate(300, seed=11)


def test_same_seed_same_data_other_seed_other_data(world: Synthetic) -> None:
    again = generate(300, seed=11)
    assert again == world
    assert training_rows(again) == training_rows(world)
    assert generate(50, seed=12).merchants != world.merchants[:50]


def test_codes_are_valid_unique_and_checked_as_the_app_checks_them(world: Synthetic) -> None:
    codes = [m.uscc for m in world.merchants]
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert uscc_problem(code) is None, code
    rng = np.random.default_rng(0)
    charset = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    for _ in range(200):
        first17 = "".join(charset[i] for i in rng.integers(0, len(charset), 17))
        assert check_character(first17) == app_check_character(first17)


def test_outcomes_dates_and_default_rate(world: Synthetic) -> None:
    rate = world.defaults / len(world.merchants)
    assert 0.06 <= rate <= 0.17, rate
    for merchant in world.merchants:
        records = world.records[merchant.uscc]
        assert all(r.uscc == merchant.uscc for r in records)
        assert [r.as_of for r in records] == sorted(r.as_of for r in records)
        if merchant.default_date is not None:
            assert merchant.scoring_date < merchant.default_date
            assert (merchant.default_date - merchant.scoring_date).days <= 366
            assert all(r.as_of < merchant.default_date for r in records)
    # Histories run past scoring dates: the features must leave those records out.
    assert any(r.as_of >= m.scoring_date for m in world.merchants for r in world.records[m.uscc])


def test_sources_missing_for_some_merchants_stay_missing(world: Synthetic) -> None:
    header, rows = training_rows(world)
    bank = header.index("bank_inflow_trend_pct")
    assert any(row[bank] == "" for row in rows)
    assert any(row[bank] not in {"", "0"} for row in rows)
    first = world.merchants[0]
    features = features_at(world.records[first.uscc], first.scoring_date)
    assert header[:-1] == list(FEATURES)
    assert len(rows) == len(world.merchants)
    assert all(row[-1] in {"yes", "no"} for row in rows)
    assert all(isinstance(v, str) or not math.isinf(v) for v in features.values())


def test_bad_merchant_count_refused() -> None:
    with pytest.raises(BadSettings, match="at least 1"):
        generate(0, seed=1)


def test_model_on_synthetic_features_obeys_the_declared_directions(world, tmp_path) -> None:
    written = write_synthetic(world, tmp_path)
    table = read_table(written.training, label="defaulted", positive="yes")
    model = fit(table, monotone=MONOTONE, params=Params(bag_folds=2, bag_repeats=1))
    names = table.schema.names
    bases = table.features[:12]
    for name, direction in MONOTONE.items():
        j = names.index(name)
        observed = table.features[:, j]
        low, high = np.nanmin(observed), np.nanmax(observed)
        grid = np.linspace(low - 1, high + 1, 24)
        rows = np.repeat(bases, grid.size, axis=0)
        rows[:, j] = np.tile(grid, bases.shape[0])
        probe = Table(table.schema, rows, np.zeros(rows.shape[0], np.int8), "grid")
        risk = model.predict(probe).reshape(bases.shape[0], grid.size)
        worsening = np.diff(risk, axis=1) * direction
        assert np.all(worsening >= 0), f"worsening {name} lowered the risk"


def _pguard(*args: object):
    return CliRunner().invoke(main, ["scoring", *map(str, args)])


def test_cli_writes_both_files_and_cv_runs_on_them(tmp_path) -> None:
    out = tmp_path / "synthetic"
    done = _pguard("synth", "--merchants", 200, "--seed", 5, "--out", out)
    assert done.exit_code == 0, done.output
    assert len(done.output.splitlines()) == 1
    assert done.output.startswith("200 merchants, ")
    with (out / "indicators.csv").open(newline="", encoding="utf-8") as handle:
        indicators = list(csv.reader(handle))
    assert tuple(indicators[0]) == INDICATOR_COLUMNS
    assert len(indicators) > 200
    with (out / "training.csv").open(newline="", encoding="utf-8") as handle:
        training = list(csv.reader(handle))
    assert training[0][-1] == "defaulted"
    assert len(training) == 201
    assert sorted(p.name for p in out.iterdir()) == ["indicators.csv", "training.csv"]
    again = tmp_path / "again"
    assert _pguard("synth", "--merchants", 200, "--seed", 5, "--out", again).exit_code == 0
    for name in ("indicators.csv", "training.csv"):
        assert (again / name).read_bytes() == (out / name).read_bytes()
    cv = _pguard(
        "cv", "--csv", out / "training.csv", "--label", "defaulted", "--positive", "yes",
        "--folds", 5,
    )  # fmt: skip
    assert cv.exit_code == 0, cv.output
    assert LAST_LINE.fullmatch(cv.output.splitlines()[-1])


@pytest.mark.parametrize(
    ("merchants", "out", "message"),
    [
        (0, "dir", "0 is not in the range x>=1"),
        (-5, "dir", "not in the range"),
        ("many", "dir", "not a valid integer"),
        (3, "file", "exists and is not a directory"),
        (3, "file/below", "cannot create the directory"),
    ],
)
def test_bad_arguments_exit_non_zero_without_a_traceback(tmp_path, merchants, out, message):
    (tmp_path / "file").write_text("not a directory")
    done = _pguard("synth", "--merchants", merchants, "--out", tmp_path / out)
    assert done.exit_code != 0
    assert isinstance(done.exception, SystemExit)
    assert message in done.output
    assert "Traceback" not in done.output
    assert not (tmp_path / "dir").exists()
