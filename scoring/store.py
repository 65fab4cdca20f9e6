"""Model files: plain numbers with their manifest, refused if unknown, old or changed.

A model file is a zip holding two members:

``manifest.json``
    format name and version, model version, cut points version, the schema the model reads,
    its settings, the training data summary, metrics, the reference row (the training data's
    typical row, from which ratings measure their reasons), ``model_sha256`` (SHA-256 of
    ``model.json``) and ``sha256`` (SHA-256 of the manifest's canonical JSON without that
    field, so the figures cannot be edited either).
``model.json``
    the additive model as plain numbers (:class:`scoring.model.Model`): the intercept, the
    calibration folded into it, and per feature column its bin edges and scores. Reading it
    runs no code and builds no object but arrays; every array is checked (finite, edges
    increasing, one score per bin or code, the declared directions kept) before it is used.
    It is canonical JSON (sorted keys, no spaces, floats written so that they read back
    exactly), so the same model always gives the same bytes and the same hash.

:func:`dumps` and :func:`loads` work on bytes, so that a model can live in a database;
:func:`save` and :func:`load` put those bytes in a file.

The hashes detect a file that was corrupted or edited; they are not a signature, so a file
from an untrusted source is kept safe by being numbers only, not by them.

Format 2 held a calibrated ensemble of boosted trees (pickled-free, via skops); its ratings
needed ``2k`` model calls per merchant to explain, which no province-wide batch can afford.
Such a file is refused with the command that makes its successor.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version as package_version
from typing import TYPE_CHECKING, Any

import numpy as np

from scoring.errors import BadData, ModelFileRefused
from scoring.grades import CUT_POINTS
from scoring.model import Model, Params, Term, monotone_problem
from scoring.table import Schema

if TYPE_CHECKING:
    from pathlib import Path

    from scoring.table import ReferenceValue

FORMAT = "pguard-scoring-model"
FORMAT_VERSION = 3
"""Version 3: the additive model as numbers. Version 2 (boosted trees in skops) is refused."""
MANIFEST = "manifest.json"
PAYLOAD = "model.json"
MAX_MEMBER_BYTES = 64 * 1024 * 1024
MAX_FILE_BYTES = 2 * MAX_MEMBER_BYTES
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
RETRAIN = (
    "pguard scoring train --csv training.csv --label defaulted --positive yes"
    " --indicator-directions --out model.pgm"
)
"""The command that makes a model file this program reads (``scoring synth`` writes the CSV)."""


@dataclass(frozen=True)
class SavedModel:
    """A model with everything its file says about it."""

    model: Model
    model_version: str
    cut_points_version: str
    training: dict[str, Any]
    metrics: dict[str, Any]
    reference: dict[str, ReferenceValue]
    model_sha256: str
    sha256: str


def dumps(
    model: Model,
    *,
    training: dict[str, Any],
    metrics: dict[str, Any],
    reference: Mapping[str, ReferenceValue],
    model_version: str | None = None,
    cut_points_version: str = CUT_POINTS.version,
) -> tuple[bytes, SavedModel]:
    """The model file's bytes, and what they hold; without a version, the model's hash names it.

    Bytes rather than a file, so that a model can be kept wherever its user keeps things (the
    app keeps them in its database). ``reference`` is the training data's typical row
    (:func:`scoring.table.reference_row`), one value per schema column.
    """
    try:
        checked = _reference(model.schema, reference)
    except ValueError as exc:
        raise BadData(f"the reference row {exc}", code="model-reference-invalid") from None
    payload = _payload(model)
    model_sha256 = hashlib.sha256(payload).hexdigest()
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_version": model_version or f"ebm-{model_sha256[:12]}",
        "cut_points_version": cut_points_version,
        "schema": model.schema.to_dict(),
        "monotone": model.monotone,
        "params": model.params.to_dict(),
        "training": training,
        "metrics": metrics,
        "reference": checked,
        "libraries": {name: package_version(name) for name in ("interpret-core", "scikit-learn")},
        "model_sha256": model_sha256,
    }
    manifest["sha256"] = _manifest_digest(manifest)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in (
            (MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode()),
            (PAYLOAD, payload),
        ):
            archive.writestr(zipfile.ZipInfo(name, _FIXED_TIME), data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue(), _saved(model, manifest, checked)


def save(
    model: Model,
    path: Path,
    *,
    training: dict[str, Any],
    metrics: dict[str, Any],
    reference: Mapping[str, ReferenceValue],
    model_version: str | None = None,
    cut_points_version: str = CUT_POINTS.version,
) -> SavedModel:
    """Write ``model`` to ``path`` (:func:`dumps`)."""
    data, saved = dumps(
        model,
        training=training,
        metrics=metrics,
        reference=reference,
        model_version=model_version,
        cut_points_version=cut_points_version,
    )
    path.write_bytes(data)
    return saved


def load(path: Path) -> SavedModel:
    """Read a model file, refusing (:class:`ModelFileRefused`) anything not exactly as saved."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ModelFileRefused(
                f"{path}: is too large to be a model file",
                code="model-file-too-large",
                path=str(path),
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelFileRefused(
            f"{path}: no such file", code="model-file-missing", path=str(path)
        ) from None
    except OSError:
        raise ModelFileRefused(
            f"{path}: is not a Prepaid Guard model file", code="model-file-not-ours", path=str(path)
        ) from None
    return loads(data, origin=str(path))


def loads(data: bytes, *, origin: str) -> SavedModel:
    """Read a model file's bytes, refusing anything not exactly as saved.

    ``origin`` says where the bytes came from (a file name, ``database``) in every message.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if MANIFEST not in names:
                raise ModelFileRefused(
                    f"{origin}: is not a Prepaid Guard model file",
                    code="model-file-not-ours",
                    path=origin,
                )
            for info in archive.infolist():
                if info.file_size > MAX_MEMBER_BYTES:
                    raise ModelFileRefused(
                        f"{origin}: {info.filename} is too large to be ours",
                        code="model-member-too-large",
                        path=origin,
                        member=info.filename,
                    )
            raw_manifest = archive.read(MANIFEST)
            manifest = _read_manifest(raw_manifest, origin)
            if names != {MANIFEST, PAYLOAD}:
                raise ModelFileRefused(
                    f"{origin}: is not a Prepaid Guard model file",
                    code="model-file-not-ours",
                    path=origin,
                )
            payload = archive.read(PAYLOAD)
    except (zipfile.BadZipFile, OSError, EOFError):
        raise ModelFileRefused(
            f"{origin}: is not a Prepaid Guard model file", code="model-file-not-ours", path=origin
        ) from None
    if hashlib.sha256(payload).hexdigest() != manifest["model_sha256"]:
        raise ModelFileRefused(
            f"{origin}: the model does not match its recorded hash; refused",
            code="model-hash-mismatch",
            path=origin,
        )
    try:
        schema = Schema.from_dict(manifest["schema"])
        params = Params(**manifest["params"])
        monotone = {str(k): int(v) for k, v in manifest["monotone"].items()}
        reference = _reference(schema, manifest["reference"])
        model = _model(json.loads(payload), schema, monotone, params)
    except Exception as exc:  # noqa: BLE001 - whatever fails to rebuild, the file is not ours
        raise ModelFileRefused(
            f"{origin}: cannot be read as a model ({exc})",
            code="model-file-unreadable",
            path=origin,
        ) from None
    problem = monotone_problem(model)
    if problem is not None:
        raise ModelFileRefused(
            f"{origin}: its scores break the direction it declares for {problem}; refused",
            code="model-not-monotone",
            path=origin,
            column=problem,
        )
    return _saved(model, manifest, reference)


def _payload(model: Model) -> bytes:
    """The model as canonical JSON: the same model, the same bytes."""
    body = {
        "intercept": model.intercept,
        "calibration": {"slope": model.calibration[0], "offset": model.calibration[1]},
        "terms": [
            {"feature": column.name, "edges": term.edges.tolist(), "scores": term.scores.tolist()}
            for column, term in zip(model.schema.columns, model.terms, strict=True)
        ],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def _model(body: object, schema: Schema, monotone: dict[str, int], params: Params) -> Model:
    """Rebuild the model from its JSON, checking every array against the schema."""
    if not isinstance(body, dict) or set(body) != {"intercept", "calibration", "terms"}:
        raise ValueError("the model is not an intercept, a calibration and terms")
    terms_data = body["terms"]
    if not isinstance(terms_data, list) or len(terms_data) != len(schema.columns):
        raise ValueError("there is not one term per schema column")
    terms = []
    for column, data in zip(schema.columns, terms_data, strict=True):
        if not isinstance(data, dict) or data.get("feature") != column.name:
            raise ValueError(f"the term for {column.name} is missing or out of order")
        edges = _finite(data.get("edges"), f"{column.name} edges")
        scores = _finite(data.get("scores"), f"{column.name} scores")
        if column.kind == "categorical":
            wanted = column.other_code + 1
            if edges.size:
                raise ValueError(f"categorical {column.name} has bin edges")
        else:
            wanted = edges.size + 2
            if edges.size > 1 and not bool(np.all(np.diff(edges) > 0)):
                raise ValueError(f"the edges of {column.name} are not increasing")
        if scores.size != wanted:
            raise ValueError(f"{column.name} has {scores.size} scores, not {wanted}")
        terms.append(Term(edges, scores))
    calibration = body["calibration"]
    if not isinstance(calibration, dict):
        raise ValueError("the calibration is not a slope and an offset")  # noqa: TRY004
    slope, offset = _finite([calibration.get("slope"), calibration.get("offset")], "calibration")
    intercept = _finite([body["intercept"]], "intercept")[0]
    return Model(schema, monotone, params, float(intercept), tuple(terms), (slope, offset))


def _finite(values: object, what: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    if not isinstance(values, list) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    ):
        raise ValueError(f"{what} are not numbers")
    array = np.asarray(values, dtype=np.float64)
    if not bool(np.all(np.isfinite(array))):
        raise ValueError(f"{what} are not finite")
    return array


def _reference(schema: Schema, reference: object) -> dict[str, ReferenceValue]:
    """The reference row in schema order, checked: one value of the right kind per column."""
    if not isinstance(reference, Mapping):
        raise ValueError("is not a mapping of column to value")  # noqa: TRY004 - a bad value
    names = set(schema.names)
    if set(reference) != names:
        absent = sorted(names - set(reference))
        extra = sorted(set(reference) - names)
        raise ValueError(f"does not match the schema (missing {absent}, extra {extra})")
    checked: dict[str, ReferenceValue] = {}
    for column in schema.columns:
        value = reference[column.name]
        if value is None or (column.kind == "categorical" and isinstance(value, str)):
            checked[column.name] = value
        elif (
            column.kind == "numeric"
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
        ):
            checked[column.name] = float(value)
        else:
            raise ValueError(f"has {value!r} for {column.kind} column {column.name!r}")
    return checked


def _read_manifest(raw: bytes, origin: str) -> dict[str, Any]:
    try:
        manifest = json.loads(raw)
    except ValueError:
        raise ModelFileRefused(
            f"{origin}: is not a Prepaid Guard model file", code="model-file-not-ours", path=origin
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFileRefused(
            f"{origin}: is not a Prepaid Guard model file",
            code="model-file-not-ours",
            path=origin,
        )
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ModelFileRefused(
            f"{origin}: model file format {manifest.get('format_version')!r};"
            f" this program reads format {FORMAT_VERSION}, an additive model that rates a"
            f" province in seconds: train a new one ({RETRAIN}) and activate it",
            code="model-format-version",
            path=origin,
            format_version=repr(manifest.get("format_version")),
            supported=FORMAT_VERSION,
        )
    if manifest.get("sha256") != _manifest_digest(manifest):
        raise ModelFileRefused(
            f"{origin}: the manifest was changed after saving; refused",
            code="model-manifest-changed",
            path=origin,
        )
    return manifest


def _manifest_digest(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != "sha256"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _saved(
    model: Model, manifest: dict[str, Any], reference: dict[str, ReferenceValue]
) -> SavedModel:
    return SavedModel(
        model=model,
        model_version=manifest["model_version"],
        cut_points_version=manifest["cut_points_version"],
        training=manifest["training"],
        metrics=manifest["metrics"],
        reference=reference,
        model_sha256=manifest["model_sha256"],
        sha256=manifest["sha256"],
    )
