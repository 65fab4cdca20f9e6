"""Synthetic data to files: the indicator records and the labelled training table, as CSV.

``indicators.csv`` holds every record (``uscc, source, kind, value, as_of, provenance``), the
shape ingestion will import. ``training.csv`` holds one row per merchant: its point-in-time
features at its scoring date (:func:`scoring.features.features_at`) and the label
``defaulted`` (``yes``/``no``), so that ``pguard scoring cv --csv training.csv --label
defaulted --positive yes`` runs on it. A missing number is an empty cell, a missing category
the word ``missing``; neither is ever written as zero. Each file is written beside its final
name and renamed into place, so a failed run leaves no half-written file.
"""

from __future__ import annotations

import contextlib
import csv
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scoring.errors import CannotWrite
from scoring.features import FEATURES, features_at
from scoring.indicators import format_value

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from scoring.synth import Synthetic

LABEL = "defaulted"
POSITIVE = "yes"
INDICATOR_COLUMNS = ("uscc", "source", "kind", "value", "as_of", "provenance")


@dataclass(frozen=True)
class Written:
    """Where the synthetic data went."""

    indicators: Path
    training: Path


def training_rows(synthetic: Synthetic) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the labelled table: features at each scoring date, then the label."""
    header = [*FEATURES, LABEL]
    rows = []
    for merchant in synthetic.merchants:
        features = features_at(synthetic.records[merchant.uscc], merchant.scoring_date)
        cells = [_cell(features[name]) for name in FEATURES]
        rows.append([*cells, POSITIVE if merchant.defaulted else "no"])
    return header, rows


def indicator_rows(synthetic: Synthetic) -> Iterable[list[str]]:
    """Every record as a CSV row, merchant by merchant, in date order."""
    for merchant in synthetic.merchants:
        for record in synthetic.records[merchant.uscc]:
            yield [
                record.uscc,
                record.source.value,
                record.kind,
                format_value(record.value),
                record.as_of.isoformat(),
                record.provenance,
            ]


def write_synthetic(synthetic: Synthetic, directory: Path) -> Written:
    """Write ``indicators.csv`` and ``training.csv`` into ``directory`` (created if need be)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise CannotWrite(
            f"{directory}: exists and is not a directory",
            code="output-not-a-directory",
            path=str(directory),
        ) from None
    except OSError as exc:
        raise CannotWrite(
            f"{directory}: cannot create the directory ({exc.strerror})",
            code="output-directory-unmade",
            path=str(directory),
            cause=str(exc.strerror),
        ) from None
    header, rows = training_rows(synthetic)
    written = Written(directory / "indicators.csv", directory / "training.csv")
    _write(written.indicators, list(INDICATOR_COLUMNS), indicator_rows(synthetic))
    _write(written.training, header, rows)
    return written


def _write(path: Path, header: list[str], rows: Iterable[list[str]]) -> None:
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        partial.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise CannotWrite(
            f"{path}: cannot write ({exc.strerror or exc})",
            code="output-unwritable",
            path=str(path),
            cause=str(exc.strerror or exc),
        ) from None


def _cell(value: float | str) -> str:
    if isinstance(value, str):
        return value
    if math.isnan(value):
        return ""
    return format_value(value)
