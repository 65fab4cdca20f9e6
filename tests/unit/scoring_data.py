"""Shared inputs for the scoring tests: the German credit CSV and a small synthetic table."""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING

import numpy as np

from app.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from pathlib import Path

GERMAN_CREDIT = PROJECT_ROOT / "data" / "germancredit.csv"


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def synthetic(path: Path, rows: int = 400, seed: int = 1) -> Path:
    """Arrears raise the risk, headcount lowers it, the district is noise, a few cells missing."""
    rng = np.random.default_rng(seed)
    arrears = rng.gamma(2.0, 2.0, rows).round(2)
    headcount = rng.integers(1, 60, rows)
    district = rng.choice(["上城区", "西湖区", "滨江区"], rows)
    logit = -2.0 + 0.45 * arrears - 0.03 * headcount
    default = rng.random(rows) < 1 / (1 + np.exp(-logit))
    out: list[list[object]] = [
        [
            "" if i % 37 == 0 else arrears[i],
            headcount[i],
            "" if i % 41 == 0 else district[i],
            "yes" if default[i] else "no",
        ]
        for i in range(rows)
    ]
    return write_csv(path, ["tax_arrears", "headcount", "district", "defaulted"], out)
