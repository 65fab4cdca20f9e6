"""Live ratings: reasons add up and cite their records, the declared directions hold, nothing
dated at or after the rating date counts, missing is missing, and overrides floor the grade."""

from __future__ import annotations

import io
import json
import math
import zipfile
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest
from click.testing import CliRunner

from app.cli import main
from scoring import (
    CUT_POINTS,
    FEATURES,
    MONOTONE,
    TOP_REASONS,
    BadData,
    BadSettings,
    CutPoints,
    Indicator,
    ModelFileRefused,
    Override,
    Rater,
    Source,
    Table,
    dumps,
    features_at,
    fit,
    generate,
    load,
    loads,
    read_table,
    reference_row,
    table_from_features,
)
from scoring import store as store_module
from scoring.dataset import LABEL, POSITIVE, training_rows
from scoring.features import MISSING
from scoring.indicators import CATALOGUE
from tests.unit.scoring_data import synthetic, write_csv

AT = date(2024, 4, 1)
"""Rating date: month 15 of the synthetic history, so many records fall after it."""

RATED = 200

KINDS_BY_FEATURE = {k.feature: k.type for k in CATALOGUE}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The synthetic world, its training table, and a model saved and loaded as bytes."""
    world = generate(1500, seed=7)
    header, rows = training_rows(world)
    path = write_csv(tmp_path_factory.mktemp("rating") / "training.csv", header, rows)
    table = read_table(path, label=LABEL, positive=POSITIVE)
    model = fit(table, monotone=MONOTONE)
    data, _ = dumps(model, training=table.summary(), metrics={}, reference=reference_row(table))
    return world, table, model, data


@pytest.fixture(scope="module")
def table(world) -> Table:
    return world[1]


@pytest.fixture(scope="module")
def data(world) -> bytes:
    return world[3]


@pytest.fixture(scope="module")
def rater(data: bytes) -> Rater:
    return Rater(loads(data, origin="test"))


@pytest.fixture(scope="module")
def merchants(world) -> dict[str, tuple[Indicator, ...]]:
    """The first merchants' records, each given a storage id to be cited by."""
    synthetic_world = world[0]
    chosen = synthetic_world.merchants[:RATED]
    return {
        m.uscc: tuple(
            replace(r, ref=f"{m.uscc}#{i}") for i, r in enumerate(synthetic_world.records[m.uscc])
        )
        for m in chosen
    }


@pytest.fixture(scope="module")
def ratings(rater: Rater, merchants):
    return {r.key: r for r in rater.rate(merchants, AT)}


def _record(uscc: str, source: Source, kind: str, value, as_of: date, ref: str) -> Indicator:
    return Indicator(uscc, source, kind, value, as_of, "test", ref)


def _latest(records, at: date) -> dict[tuple[Source, str], Indicator]:
    """Written out again here, plainly, to check the rater's choice of record."""
    latest: dict[tuple[Source, str], Indicator] = {}
    for record in sorted(
        (r for r in records if r.as_of < at), key=lambda r: r.as_of
    ):  # stable: on equal dates the one given last wins
        latest[record.source, record.kind] = record
    return latest


# --- reasons add up -----------------------------------------------------------------------------


def test_reasons_add_up_for_every_merchant(ratings, merchants) -> None:
    assert len(ratings) == RATED
    for key, rating in ratings.items():
        total = rating.reference_probability + sum(r.contribution for r in rating.contributions)
        assert abs(total - rating.probability) < 1e-9, key
        assert tuple(r.feature for r in rating.contributions) == FEATURES
        assert rating.at == AT
        features = features_at(merchants[key], AT)
        for reason in rating.contributions:
            value = features[reason.feature]
            if (isinstance(value, float) and math.isnan(value)) or value == MISSING:
                assert reason.value is None
            else:
                assert reason.value == value
            if reason.value == reason.reference:
                assert reason.contribution == 0.0
            direction = MONOTONE.get(reason.feature, 0)
            if direction and reason.value is not None and reason.reference is not None:
                side = (float(reason.value) - float(reason.reference)) * direction
                assert reason.contribution * side >= 0, (key, reason)


def test_contributions_are_the_two_walks_taken_point_by_point(
    ratings, merchants, rater: Rater, world
) -> None:
    """The cumulative sums give what walking the model one feature at a time gives.

    Each point of both walks is scored by the model itself (``2k`` calls a merchant, as the
    model of format 2 had to be), and each feature's share is the mean of its two steps.
    """
    model = world[2]
    reference = table_from_features(model.schema, [loads(world[3], origin="t").reference])
    r = reference.features[0]
    for key in list(merchants)[:40]:
        x = table_from_features(model.schema, [features_at(merchants[key], AT)]).features[0]
        differ = [
            j for j in range(x.size) if not (x[j] == r[j] or (np.isnan(x[j]) and np.isnan(r[j])))
        ]

        def walk(order, x=x):
            point, steps = r.copy(), {}
            before = model.predict(Table(model.schema, point[None, :], np.zeros(1, np.int8), "w"))
            for j in order:
                point[j] = x[j]
                after = model.predict(
                    Table(model.schema, point[None, :], np.zeros(1, np.int8), "w")
                )
                steps[j] = float(after[0] - before[0])
                before = after
            return steps

        forward, backward = walk(differ), walk(differ[::-1])
        expected = [
            0.5 * (forward[j] + backward[j]) if j in forward else 0.0 for j in range(x.size)
        ]
        found = [reason.contribution for reason in ratings[key].contributions]
        assert found == pytest.approx(expected, abs=1e-12), key


def test_probability_is_the_models_for_the_merchant_alone(
    ratings, merchants, rater: Rater, world
) -> None:
    model = world[2]
    keys = list(merchants)[:20]
    rows = [features_at(merchants[k], AT) for k in keys]
    alone = model.predict(table_from_features(model.schema, rows))
    assert [ratings[k].probability for k in keys] == alone.tolist()
    assert rater.model_version.startswith("ebm-")
    assert all(r.model_version == rater.model_version for r in ratings.values())


def test_a_merchant_like_the_reference_has_no_reasons(rater: Rater, data: bytes) -> None:
    reference = loads(data, origin="test").reference
    records = []
    for kind in CATALOGUE:
        value = reference[kind.feature]
        if value is None or value == MISSING:
            continue
        if kind.type == "bool":
            value = value == 1.0
        records.append(_record("R", kind.source, kind.name, value, AT - timedelta(days=3), "x"))
    (rating,) = rater.rate({"R": records}, AT)
    assert rating.probability == rating.reference_probability
    assert all(r.contribution == 0.0 for r in rating.contributions)
    assert rating.top_reasons == ()


def test_top_reasons_raise_the_risk_and_cite_the_latest_record(ratings, merchants) -> None:
    cited = 0
    for key, rating in ratings.items():
        top = rating.top_reasons
        assert len(top) <= TOP_REASONS
        assert all(r.contribution > 0 for r in top)
        assert [r.contribution for r in top] == sorted((r.contribution for r in top), reverse=True)
        latest = _latest(merchants[key], AT)
        for reason in rating.contributions:
            expected = latest.get((reason.source, reason.kind))
            if expected is None:
                assert reason.record is None
            else:
                assert reason.record is not None
                assert reason.record.ref == expected.ref
                assert reason.record.as_of < AT
        for reason in top:
            expected = latest.get((reason.source, reason.kind))
            assert (reason.record and reason.record.ref) == (expected and expected.ref)
            cited += reason.record is not None
    assert cited > RATED  # most top reasons stand on a record


def test_to_dict_is_json(ratings) -> None:
    rating = max(ratings.values(), key=lambda r: r.probability)
    data = json.loads(json.dumps(rating.to_dict(), allow_nan=False))
    assert data["key"] == rating.key
    assert data["at"] == AT.isoformat()
    assert data["grade"]["grade"] == rating.grade.grade
    assert len(data["contributions"]) == len(FEATURES)
    top = data["top_reasons"][0]
    assert top["feature"] == rating.top_reasons[0].feature
    assert set(top["record"]) == {"ref", "source", "kind", "value", "as_of", "provenance"}
    assert top["record"]["ref"] == rating.top_reasons[0].record.ref


def test_no_merchants_no_ratings(rater: Rater) -> None:
    assert rater.rate({}, AT) == []


# --- the declared directions --------------------------------------------------------------------


def test_a_worse_signal_never_lowers_the_probability(rater: Rater, merchants) -> None:
    """For each declared feature: a record, then a later one on its risky side, never lowers
    the probability (and one on its safe side never raises it); present and missing merchants
    alike, all in one batch."""
    cases = {}
    for uscc in list(merchants)[:12]:
        features = features_at(merchants[uscc], AT)
        for name, direction in MONOTONE.items():
            kind = next(k for k in CATALOGUE if k.feature == name)
            if kind.type == "bool":
                pairs = [(False, direction > 0), (True, direction < 0)]
            else:
                start = features[name]
                start = 1.0 if math.isnan(start) else start
                pairs = [(start, start + step * direction) for step in (0.5, 5.0, 500.0)]
                pairs += [(start, start - step * direction) for step in (0.5, 5.0)]
            for n, (first, then) in enumerate(pairs):
                base = (
                    *merchants[uscc],
                    _record(uscc, kind.source, kind.name, first, AT - timedelta(days=2), "b"),
                )
                changed = (
                    *base,
                    _record(uscc, kind.source, kind.name, then, AT - timedelta(days=1), "c"),
                )
                cases[uscc, name, n, "base"] = base
                cases[uscc, name, n, "changed"] = changed
    keyed = {"|".join(map(str, k)): v for k, v in cases.items()}
    rated = {r.key: r.probability for r in rater.rate(keyed, AT)}
    checked = 0
    for (uscc, name, n, which), records in cases.items():
        if which != "changed":
            continue
        before = rated[f"{uscc}|{name}|{n}|base"]
        after = rated[f"{uscc}|{name}|{n}|changed"]
        first, then = records[-2].value, records[-1].value
        worse = (float(then) - float(first)) * MONOTONE[name] > 0
        if worse:
            assert after >= before, (uscc, name, first, then)
        else:
            assert after <= before, (uscc, name, first, then)
        checked += 1
    assert checked == 12 * sum(2 if KINDS_BY_FEATURE[f] == "bool" else 5 for f in MONOTONE)


# --- point in time ------------------------------------------------------------------------------


def test_records_dated_on_or_after_the_rating_date_change_nothing(
    rater: Rater, merchants, ratings
) -> None:
    later = 0
    for uscc, records in list(merchants.items())[:40]:
        before = tuple(r for r in records if r.as_of < AT)
        later += len(records) - len(before)
        added = (
            *records,
            _record(uscc, Source.COURT, "dishonest_debtor", True, AT, "on"),
            _record(
                uscc, Source.REGISTRATION, "licence_revoked", True, AT + timedelta(days=9), "9"
            ),
            _record(uscc, Source.TAX, "arrears_fen", 9e9, AT, "tax"),
        )
        (only_before,) = rater.rate({uscc: before}, AT)
        (with_later,) = rater.rate({uscc: added}, AT)
        assert only_before == ratings[uscc] == with_later
        assert only_before.to_dict() == with_later.to_dict()
    assert later > 0  # the synthetic histories do run past the rating date


# --- missing is missing -------------------------------------------------------------------------


def test_a_missing_source_is_missing_not_zero(rater: Rater, merchants, table: Table) -> None:
    uscc, records = next(
        (k, v)
        for k, v in merchants.items()
        if {Source.BANK, Source.CREDIT} <= {r.source for r in v}
    )
    without = tuple(r for r in records if r.source not in {Source.BANK, Source.CREDIT})
    (rating,) = rater.rate({uscc: without}, AT)
    gone = [r for r in rating.contributions if r.source in {Source.BANK, Source.CREDIT}]
    assert {r.feature for r in gone} == {
        "bank_inflow_trend_pct",
        "bank_frozen",
        "credit_public_rating",
        "credit_penalties",
    }
    for reason in gone:
        assert reason.value is None
        assert reason.record is None
        assert reason.reference is not None
        assert reason.to_dict()["value"] is None
    row = table_from_features(table.schema, [features_at(without, AT)]).features[0]
    for name in ("bank_inflow_trend_pct", "bank_frozen", "credit_penalties"):
        assert math.isnan(row[FEATURES.index(name)])
    # A source that reports zeros is another merchant than one that reports nothing.
    zeros = (
        *without,
        _record(uscc, Source.BANK, "inflow_trend_pct", 0.0, AT - timedelta(days=1), "z"),
        _record(uscc, Source.BANK, "frozen", False, AT - timedelta(days=1), "z"),
    )
    (reported,) = rater.rate({uscc: zeros}, AT)
    assert next(r for r in reported.contributions if r.feature == "bank_frozen").value == 0.0


# --- overrides ----------------------------------------------------------------------------------


def test_hard_overrides_floor_the_grade(rater: Rater, ratings, merchants) -> None:
    uscc = min(ratings, key=lambda k: ratings[k].probability)
    assert ratings[uscc].grade.grade == "A"
    day = AT - timedelta(days=1)
    debtor = (*merchants[uscc], _record(uscc, Source.COURT, "dishonest_debtor", True, day, "d"))
    revoked = (
        *merchants[uscc],
        _record(uscc, Source.REGISTRATION, "licence_revoked", True, day, "l"),
    )
    (as_debtor, as_revoked) = rater.rate({"debtor": debtor, "revoked": revoked}, AT)
    assert as_debtor.grade.grade in {"D", "E"}
    assert Override.DISHONEST_DEBTOR in as_debtor.grade.overrides
    assert as_debtor.to_dict()["grade"]["overrides"] == ["dishonest-debtor"]
    assert as_revoked.grade.grade == "E"
    assert as_revoked.grade.overrides == (Override.LICENCE_REVOKED,)
    dishonest = next(r for r in as_debtor.contributions if r.feature == "court_dishonest_debtor")
    assert dishonest.record is not None
    assert dishonest.record.ref == "d"


# --- determinism and refusals -------------------------------------------------------------------


def test_same_bytes_same_ratings_and_same_fit_same_bytes(world, merchants) -> None:
    _, table, model, data = world
    first = Rater(loads(data, origin="a")).rate(merchants, AT)
    second = Rater(loads(data, origin="b")).rate(merchants, AT)
    assert first == second
    again, _ = dumps(model, training=table.summary(), metrics={}, reference=reference_row(table))
    assert again == data


def test_refuses_a_model_on_other_columns(tmp_path) -> None:
    small = read_table(synthetic(tmp_path / "s.csv"), label="defaulted", positive="yes")
    data, _ = dumps(fit(small), training={}, metrics={}, reference=reference_row(small))
    with pytest.raises(BadSettings, match="does not read the indicator features") as caught:
        Rater(loads(data, origin="test"))
    assert "extra tax_arrears, headcount, district" in str(caught.value)


def test_refuses_the_features_in_another_order(world, tmp_path) -> None:
    header, rows = training_rows(world[0])
    order = list(reversed(range(len(header))))
    path = write_csv(
        tmp_path / "r.csv", [header[i] for i in order], [[r[i] for i in order] for r in rows]
    )
    reversed_table = read_table(path, label=LABEL, positive=POSITIVE)
    model = fit(reversed_table, monotone=MONOTONE)
    data, _ = dumps(model, training={}, metrics={}, reference=reference_row(reversed_table))
    with pytest.raises(BadSettings, match="the same columns in another order"):
        Rater(loads(data, origin="test"))


def test_refuses_a_model_without_the_declared_directions(table: Table, world) -> None:
    undirected = fit(table)
    data, _ = dumps(undirected, training={}, metrics={}, reference=reference_row(table))
    with pytest.raises(BadSettings, match="not fitted with the declared monotone directions") as e:
        Rater(loads(data, origin="test"))
    assert "tax_arrears_fen +0 (declared +1)" in str(e.value)
    partly = fit(table, monotone={**MONOTONE, "social_security_headcount": 1})
    data, _ = dumps(partly, training={}, metrics={}, reference=reference_row(table))
    with pytest.raises(BadSettings, match=r"social_security_headcount \+1 \(declared -1\)"):
        Rater(loads(data, origin="test"))


def test_refuses_other_cut_points(data: bytes) -> None:
    other = CutPoints("2099.1", CUT_POINTS.bounds)
    with pytest.raises(BadSettings, match=r"cut points 2025\.1, not 2099\.1"):
        Rater(loads(data, origin="test"), other)


# --- the matrix and the model bytes -------------------------------------------------------------


def test_features_in_memory_give_the_training_csvs_matrix(world, table: Table) -> None:
    synthetic_world = world[0]
    rows = [
        features_at(synthetic_world.records[m.uscc], m.scoring_date)
        for m in synthetic_world.merchants
    ]
    built = table_from_features(table.schema, rows)
    assert np.array_equal(built.features, table.features, equal_nan=True)
    assert built.label.tolist() == [0] * table.rows


def test_features_in_memory_odd_values(table: Table) -> None:
    names = table.schema.names
    status = table.schema.columns[names.index("registration_status")]
    rating = table.schema.columns[names.index("credit_public_rating")]
    # Every merchant has a registration, but not every one a credit rating: the training CSV
    # wrote "missing" for those, so it is a seen category of the one and unseen in the other.
    assert MISSING not in status.categories
    assert MISSING in rating.categories
    row = dict.fromkeys(FEATURES, math.nan)
    odd = [
        {**row, "registration_status": "struck-off", "tax_arrears_fen": None},
        {**row, "registration_status": None, "tax_arrears_fen": "12.5"},
        {**row, "registration_status": "", "tax_arrears_fen": ""},
        {**row, "registration_status": MISSING, "tax_arrears_fen": 3},
        {**row, "registration_status": "active", "credit_public_rating": MISSING},
    ]
    built = table_from_features(table.schema, odd).features
    assert built[:, names.index("registration_status")].tolist() == [
        status.other_code,
        status.missing_code,
        status.missing_code,
        status.other_code,
        status.categories.index("active"),
    ]
    assert built[4, names.index("credit_public_rating")] == rating.categories.index(MISSING)
    assert built[0, names.index("credit_public_rating")] == rating.missing_code
    arrears = built[:4, names.index("tax_arrears_fen")]
    assert np.array_equal(arrears, [math.nan, 12.5, math.nan, 3.0], equal_nan=True)
    incomplete = {k: v for k, v in row.items() if k != "bank_frozen"}
    with pytest.raises(BadData, match="row 1 has no value for 'bank_frozen'"):
        table_from_features(table.schema, [row, incomplete])
    with pytest.raises(BadData, match="'lots' is not a number"):
        table_from_features(table.schema, [{**row, "tax_arrears_fen": "lots"}])
    with pytest.raises(BadData, match="not a finite number"):
        table_from_features(table.schema, [{**row, "tax_arrears_fen": math.inf}])
    with pytest.raises(BadData, match="not a category"):
        table_from_features(table.schema, [{**row, "registration_status": 1.0}])


def test_reference_row_medians_and_modes(tmp_path) -> None:
    path = write_csv(
        tmp_path / "r.csv",
        ["n", "empty", "city", "gone", "bad"],
        [[1, "", "b", "", 0], [2, "", "a", "", 1], [10, "", "b", "x", 0], ["", "", "a", "", 1]],
    )
    reference = reference_row(read_table(path, label="bad"))
    assert reference == {"n": 2.0, "empty": None, "city": "a", "gone": None}


def test_model_bytes_refused_when_old_edited_or_foreign(data: bytes, table: Table) -> None:
    def rewritten(manifest_change) -> bytes:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
        manifest = json.loads(members[store_module.MANIFEST])
        manifest_change(manifest)
        members[store_module.MANIFEST] = json.dumps(manifest).encode()
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            for name, member in members.items():
                archive.writestr(name, member)
        return out.getvalue()

    def old(manifest) -> None:
        manifest["format_version"] = 1
        del manifest["reference"]
        manifest["sha256"] = store_module._manifest_digest(manifest)

    def edited(manifest) -> None:
        manifest["reference"]["tax_arrears_fen"] = 0.0

    with pytest.raises(ModelFileRefused, match="database: model file format 1; this program"):
        loads(rewritten(old), origin="database")
    with pytest.raises(ModelFileRefused, match="database: the manifest was changed"):
        loads(rewritten(edited), origin="database")
    with pytest.raises(ModelFileRefused, match="database: is not a Prepaid Guard model file"):
        loads(b"not a zip", origin="database")
    saved = loads(data, origin="database")
    assert saved.reference == reference_row(table)
    with pytest.raises(BadData, match="reference row does not match the schema"):
        dumps(saved.model, training={}, metrics={}, reference={"tax_arrears_fen": 1.0})


def test_cli_trains_a_model_the_rater_takes(tmp_path) -> None:
    runner = CliRunner()
    made = runner.invoke(
        main, ["scoring", "synth", "--merchants", "400", "--seed", "3", "--out", str(tmp_path)]
    )
    assert made.exit_code == 0, made.output
    model_path = tmp_path / "m.pgm"
    train = ["scoring", "train", "--csv", tmp_path / "training.csv", "--label", LABEL]
    train += ["--positive", POSITIVE, "--out", model_path, "--folds", 0]
    trained = runner.invoke(main, [*map(str, train), "--indicator-directions"])
    assert trained.exit_code == 0, trained.output
    saved = load(model_path)
    assert saved.model.monotone == MONOTONE
    assert set(saved.reference) == set(FEATURES)
    assert Rater(saved).model_version == saved.model_version
    both = runner.invoke(main, [*map(str, train), "--indicator-directions", "--monotone", "a=+1"])
    assert both.exit_code == 2
    assert "not both" in both.output
