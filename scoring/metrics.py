"""How good a probability is: AUC and KS (ranking), Brier (accuracy) and a calibration table.

The calibration table sorts rows by predicted probability into (near) equal-count bins and
compares the mean prediction with the observed rate of the positive outcome in each: a
calibrated model's two columns agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve

from scoring.errors import BadData

if TYPE_CHECKING:
    from numpy.typing import NDArray

CALIBRATION_BINS = 10


@dataclass(frozen=True)
class CalibrationBin:
    """One bin of the calibration table."""

    low: float
    high: float
    rows: int
    mean_predicted: float
    observed_rate: float


@dataclass(frozen=True)
class Metrics:
    """AUC, KS and Brier score over some rows, with their calibration table."""

    rows: int
    positives: int
    auc: float
    ks: float
    brier: float
    calibration: tuple[CalibrationBin, ...]

    def to_dict(self) -> dict[str, object]:
        """Plain data for the model file's manifest (figures rounded to 6 decimals)."""
        return {
            "rows": self.rows,
            "positives": self.positives,
            "auc": round(self.auc, 6),
            "ks": round(self.ks, 6),
            "brier": round(self.brier, 6),
        }

    def summary_line(self) -> str:
        """The one line scripts read: ``auc=0.xxx ks=0.xxx brier=0.xxx``."""
        return f"auc={self.auc:.3f} ks={self.ks:.3f} brier={self.brier:.3f}"

    def report(self) -> list[str]:
        """Lines for a person, ending with :meth:`summary_line`."""
        lines = [
            f"rows: {self.rows}, positives: {self.positives} ({self.positives / self.rows:.1%})",
            f"AUC:   {self.auc:.4f}",
            f"KS:    {self.ks:.4f}",
            f"Brier: {self.brier:.4f}",
            "calibration (bins of predicted probability):",
            f"  {'bin':>17}  {'rows':>5}  {'predicted':>9}  {'observed':>8}",
        ]
        lines.extend(
            f"  {b.low:7.3f} - {b.high:7.3f}  {b.rows:5d}  {b.mean_predicted:9.3f}"
            f"  {b.observed_rate:8.3f}"
            for b in self.calibration
        )
        lines.append(self.summary_line())
        return lines


def evaluate(label: NDArray[np.int8], probability: NDArray[np.float64]) -> Metrics:
    """Metrics of probabilities of the positive outcome against a 0/1 label."""
    y = np.asarray(label, dtype=np.int8)
    p = np.asarray(probability, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1:
        raise BadData(
            "labels and probabilities must be two lists of the same length",
            code="metrics-lengths-differ",
        )
    positives = int(y.sum())
    if positives in (0, y.shape[0]):
        raise BadData("the metrics need rows of both outcomes", code="metrics-one-outcome")
    return Metrics(
        rows=int(y.shape[0]),
        positives=positives,
        auc=float(roc_auc_score(y, p)),
        ks=ks_statistic(y, p),
        brier=float(brier_score_loss(y, p)),
        calibration=calibration_table(y, p),
    )


def ks_statistic(label: NDArray[np.int8], probability: NDArray[np.float64]) -> float:
    """Kolmogorov-Smirnov: the widest gap between the score distributions of the two outcomes."""
    fpr, tpr, _ = roc_curve(label, probability)
    return float(np.max(tpr - fpr))


def calibration_table(
    label: NDArray[np.int8], probability: NDArray[np.float64], bins: int = CALIBRATION_BINS
) -> tuple[CalibrationBin, ...]:
    """Equal-count bins by predicted probability; ties never split across bins."""
    order = np.argsort(probability, kind="stable")
    p, y = probability[order], label[order]
    edges = np.linspace(0, p.shape[0], bins + 1).round().astype(int)
    table = []
    start = 0
    for edge in edges[1:]:
        end = int(edge)
        # Move the end past rows with the same probability so equal scores share a bin.
        while 0 < end < p.shape[0] and p[end] == p[end - 1]:
            end += 1
        if end <= start:
            continue
        table.append(
            CalibrationBin(
                low=float(p[start]),
                high=float(p[end - 1]),
                rows=end - start,
                mean_predicted=float(p[start:end].mean()),
                observed_rate=float(y[start:end].mean()),
            )
        )
        start = end
    return tuple(table)
