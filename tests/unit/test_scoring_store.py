"""Model files: round trip, same model same bytes, tampered and foreign files refused."""

from __future__ import annotations

import hashlib
import json
import zipfile

import numpy as np
import pytest

from scoring import (
    ModelFileRefused,
    Params,
    Table,
    fit,
    load,
    read_table,
    reference_row,
    save,
    store,
    train,
)
from scoring.store import MANIFEST, PAYLOAD
from tests.unit.scoring_data import synthetic

FAST = Params(bag_folds=2, bag_repeats=1)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Table:
    path = synthetic(tmp_path_factory.mktemp("data") / "s.csv")
    return read_table(path, label="defaulted", positive="yes")


@pytest.fixture(scope="module")
def saved_path(small: Table, tmp_path_factory):
    trained = train(small, folds=3, monotone={"tax_arrears": 1}, params=FAST)
    path = tmp_path_factory.mktemp("models") / "model.pgm"
    save(
        trained.model,
        path,
        training=small.summary(),
        metrics=trained.metrics(),
        reference=trained.reference,
    )
    return path


def test_round_trip_keeps_predictions_and_manifest(small: Table, saved_path) -> None:
    loaded = load(saved_path)
    again = fit(small, monotone={"tax_arrears": 1}, params=FAST)
    assert np.array_equal(loaded.model.predict(small), again.predict(small))
    assert loaded.model.schema == small.schema
    assert loaded.model.monotone == {"tax_arrears": 1, "headcount": 0}
    assert loaded.model.params == FAST
    assert loaded.training["rows"] == 400
    assert loaded.training["columns"]["district"] == "categorical"
    assert loaded.metrics["cross_validated"]["folds"] == 3
    assert 0.5 < loaded.metrics["cross_validated"]["auc"] <= 1
    assert loaded.cut_points_version == "2025.1"
    assert loaded.model_version == f"ebm-{loaded.model_sha256[:12]}"
    assert loaded.reference == reference_row(small)
    with zipfile.ZipFile(saved_path) as archive:
        payload = archive.read(PAYLOAD)
    assert hashlib.sha256(payload).hexdigest() == loaded.model_sha256


def test_same_data_and_seed_give_the_same_file_and_hash(small: Table, tmp_path) -> None:
    digests = set()
    for name in ("a.pgm", "b.pgm"):
        saved = save(
            fit(small, params=FAST),
            tmp_path / name,
            training=small.summary(),
            metrics={},
            reference=reference_row(small),
        )
        digests.add(saved.model_sha256)
    assert len(digests) == 1
    assert (tmp_path / "a.pgm").read_bytes() == (tmp_path / "b.pgm").read_bytes()
    other = save(
        fit(small, params=Params(seed=1, bag_folds=3, bag_repeats=1)),
        tmp_path / "c.pgm",
        training=small.summary(),
        metrics={},
        reference=reference_row(small),
    )
    assert other.model_sha256 not in digests


def _rewrite(source, target, **members: bytes) -> None:
    with zipfile.ZipFile(source) as archive:
        content = {name: archive.read(name) for name in archive.namelist()}
    content.update(members)
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in content.items():
            archive.writestr(name, data)


def test_tampered_model_refused(saved_path, tmp_path) -> None:
    with zipfile.ZipFile(saved_path) as archive:
        payload = archive.read(PAYLOAD)
    changed = bytearray(payload)
    changed[len(changed) // 2] ^= 0x01
    _rewrite(saved_path, tmp_path / "t.pgm", **{PAYLOAD: bytes(changed)})
    with pytest.raises(ModelFileRefused, match="does not match its recorded hash"):
        load(tmp_path / "t.pgm")


def test_edited_manifest_refused(saved_path, tmp_path) -> None:
    with zipfile.ZipFile(saved_path) as archive:
        manifest = json.loads(archive.read(MANIFEST))
    manifest["metrics"]["in_sample"]["auc"] = 0.999
    _rewrite(saved_path, tmp_path / "m.pgm", **{MANIFEST: json.dumps(manifest).encode()})
    with pytest.raises(ModelFileRefused, match="manifest was changed"):
        load(tmp_path / "m.pgm")


def test_foreign_files_refused(tmp_path) -> None:
    (tmp_path / "text.pgm").write_text("hello")
    with zipfile.ZipFile(tmp_path / "zip.pgm", "w") as archive:
        archive.writestr("something.txt", "not ours")
    for name in ("text.pgm", "zip.pgm", "absent.pgm"):
        with pytest.raises(ModelFileRefused):
            load(tmp_path / name)


def _with_payload(saved_path, target, edit) -> None:
    """Rewrite the model's numbers with ``edit`` and make both hashes match again."""
    with zipfile.ZipFile(saved_path) as archive:
        manifest = json.loads(archive.read(MANIFEST))
        body = json.loads(archive.read(PAYLOAD))
    edit(body)
    payload = json.dumps(body).encode()
    manifest["model_sha256"] = hashlib.sha256(payload).hexdigest()
    manifest["sha256"] = store._manifest_digest(manifest)
    _rewrite(saved_path, target, **{MANIFEST: json.dumps(manifest).encode(), PAYLOAD: payload})


def _numeric_term(body, name="tax_arrears"):
    return next(t for t in body["terms"] if t["feature"] == name)


def _reverse_bins(body) -> None:
    scores = _numeric_term(body)["scores"]
    assert scores[1] < scores[-1], "the fitted arrears scores rise"
    scores[1:] = scores[1:][::-1]


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda b: b["terms"].pop(), "not one term per schema column"),
        (lambda b: b["terms"].reverse(), "missing or out of order"),
        (lambda b: _numeric_term(b)["edges"].reverse(), "not increasing"),
        (lambda b: _numeric_term(b)["scores"].append(0.5), "scores, not"),
        (lambda b: _numeric_term(b)["scores"].__setitem__(0, "high"), "not numbers"),
        (lambda b: b.__setitem__("intercept", 1e999), "not finite"),
        (lambda b: b.__setitem__("code", "import os"), "not an intercept"),
        # A flattering edit that keeps every shape: more arrears now lower the risk.
        (_reverse_bins, "break the direction"),
    ],
)
def test_numbers_that_are_not_a_sound_model_are_refused(saved_path, tmp_path, edit, words):
    """A well-formed file with matching hashes is still refused if its numbers are wrong."""
    _with_payload(saved_path, tmp_path / "f.pgm", edit)
    with pytest.raises(ModelFileRefused, match=words):
        load(tmp_path / "f.pgm")


def test_a_format_2_file_is_refused_with_the_command_that_replaces_it(saved_path, tmp_path) -> None:
    """Boosted trees in skops (format 2) are not loaded: the message says what to run."""
    with zipfile.ZipFile(saved_path) as archive:
        manifest = json.loads(archive.read(MANIFEST))
    manifest["format_version"] = 2
    manifest["sha256"] = store._manifest_digest(manifest)
    old = tmp_path / "old.pgm"
    with zipfile.ZipFile(old, "w") as archive:
        archive.writestr(MANIFEST, json.dumps(manifest))
        archive.writestr("model.skops", b"PK")
    with pytest.raises(ModelFileRefused, match=r"format 2.*pguard scoring train") as refused:
        load(old)
    assert refused.value.code == "model-format-version"
