"""Model files: saved without pickle (skops), with their manifest, refused if unknown or changed.

A model file is a zip holding two members:

``manifest.json``
    format name and version, model version, cut points version, the schema the model reads,
    its settings, the training data summary, metrics, the reference row (the training data's
    typical row, from which ratings measure their reasons), ``model_sha256`` (SHA-256 of
    ``model.skops``) and ``sha256`` (SHA-256 of the manifest's canonical JSON without that
    field, so the figures cannot be edited either).
``model.skops``
    the estimator in skops' format: loading it runs no code from the file, and only the types
    on :data:`ALLOWED_TYPES` (beyond skops' own safe defaults) are accepted.

skops names arrays by ``id()`` and stamps members with the time, so its bytes differ between
runs; :func:`_canonical` renumbers and restamps them so that the same model always gives the
same bytes and the same hash.

:func:`dumps` and :func:`loads` work on bytes, so that a model can live in a database;
:func:`save` and :func:`load` put those bytes in a file.

The hashes detect a file that was corrupted or edited; they are not a signature, so a file
from an untrusted source is kept safe by the type allow-list, not by them.
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

import skops.io
from sklearn.calibration import CalibratedClassifierCV

from scoring.errors import BadData, ModelFileRefused
from scoring.grades import CUT_POINTS
from scoring.model import Model, Params
from scoring.table import Schema

if TYPE_CHECKING:
    from pathlib import Path

    from scoring.table import ReferenceValue

FORMAT = "pguard-scoring-model"
FORMAT_VERSION = 2
"""Version 2 added the reference row; a version 1 file has none, so it is refused."""
MANIFEST = "manifest.json"
PAYLOAD = "model.skops"
MAX_MEMBER_BYTES = 512 * 1024 * 1024
MAX_FILE_BYTES = 2 * MAX_MEMBER_BYTES
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)

ALLOWED_TYPES = frozenset(
    {
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.model_selection._split.StratifiedKFold",
    }
)
"""Types outside skops' defaults that our pipeline holds; anything else is refused."""


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
    payload = _canonical(skops.io.dumps(model.estimator))
    model_sha256 = hashlib.sha256(payload).hexdigest()
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_version": model_version or f"gb-{model_sha256[:12]}",
        "cut_points_version": cut_points_version,
        "schema": model.schema.to_dict(),
        "monotone": model.monotone,
        "params": model.params.to_dict(),
        "training": training,
        "metrics": metrics,
        "reference": checked,
        "libraries": {name: package_version(name) for name in ("scikit-learn", "skops")},
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
            if names != {MANIFEST, PAYLOAD}:
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
            payload = archive.read(PAYLOAD)
    except (zipfile.BadZipFile, OSError, EOFError):
        raise ModelFileRefused(
            f"{origin}: is not a Prepaid Guard model file", code="model-file-not-ours", path=origin
        ) from None
    manifest = _read_manifest(raw_manifest, origin)
    if hashlib.sha256(payload).hexdigest() != manifest["model_sha256"]:
        raise ModelFileRefused(
            f"{origin}: the model does not match its recorded hash; refused",
            code="model-hash-mismatch",
            path=origin,
        )
    untrusted = set(skops.io.get_untrusted_types(data=payload))
    unknown = sorted(untrusted - ALLOWED_TYPES)
    if unknown:
        raise ModelFileRefused(
            f"{origin}: holds types this program does not load: {unknown}",
            code="model-types-refused",
            path=origin,
            types=", ".join(unknown),
        )
    try:
        estimator = skops.io.loads(payload, trusted=sorted(untrusted))
        schema = Schema.from_dict(manifest["schema"])
        params = Params(**manifest["params"])
        monotone = {str(k): int(v) for k, v in manifest["monotone"].items()}
        reference = _reference(schema, manifest["reference"])
    except Exception as exc:  # noqa: BLE001 - whatever fails to rebuild, the file is not ours
        raise ModelFileRefused(
            f"{origin}: cannot be read as a model ({exc})",
            code="model-file-unreadable",
            path=origin,
        ) from None
    if not isinstance(estimator, CalibratedClassifierCV):
        raise ModelFileRefused(
            f"{origin}: holds a {type(estimator).__name__}, not our model",
            code="model-estimator-refused",
            path=origin,
            estimator=type(estimator).__name__,
        )
    return _saved(Model(estimator, schema, monotone, params), manifest, reference)


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
            f" this program reads format {FORMAT_VERSION}",
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


def _canonical(payload: bytes) -> bytes:
    """Return skops bytes with object ids renumbered in order of appearance and fixed timestamps."""
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        schema = json.loads(archive.read("schema.json"))
        members = {name: archive.read(name) for name in archive.namelist()}
    numbers: dict[int, int] = {}

    def renumber(node: object) -> object:
        if isinstance(node, dict):
            out: dict[str, object] = {}
            for key, value in node.items():
                if key == "__id__" and isinstance(value, int):
                    out[key] = numbers.setdefault(value, len(numbers))
                elif key == "file" and isinstance(value, str) and value.endswith(".npy"):
                    old = int(value.removesuffix(".npy"))
                    out[key] = f"{numbers.setdefault(old, len(numbers))}.npy"
                else:
                    out[key] = renumber(value)
            return out
        if isinstance(node, list):
            return [renumber(item) for item in node]
        return node

    renamed = renumber(schema)
    files = {
        f"{numbers[int(name.removesuffix('.npy'))]}.npy": data
        for name, data in members.items()
        if name.endswith(".npy")
    }
    if len(files) + 1 != len(members):
        raise ModelFileRefused(
            "the model holds members this program does not know", code="model-members-unknown"
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(zipfile.ZipInfo("schema.json", _FIXED_TIME), json.dumps(renamed, indent=2))
        for name in sorted(files, key=lambda n: int(n.removesuffix(".npy"))):
            archive.writestr(zipfile.ZipInfo(name, _FIXED_TIME), files[name])
    return buffer.getvalue()
