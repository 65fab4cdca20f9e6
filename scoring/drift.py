"""Drift: has the population being rated moved away from the one the model was checked on.

A model's grades mean what they meant only while merchants look like those it was validated on.
The regulator compares two periods of ratings: period 1 is *expected* (the reference), period 2
is *actual*. For the score (the probability, 0..1) and for each feature we compute the
population stability index over bins drawn from the expected sample::

    PSI = sum over bins of (a - e) * ln(a / e)

where ``e`` and ``a`` are the shares of the expected and actual samples in the bin. A bin empty
in one sample would make a term infinite, so before the sum each share is floored at
:data:`EPSILON` (``max(share, 1e-4)``); shares are not renormalised. Every term is then
``>= 0`` (``a - e`` and ``ln(a / e)`` share their sign), so PSI is never negative and is exactly
0 for identical samples. The design's thresholds apply: below :data:`INVESTIGATE` stable, from
it investigate, from :data:`ACT` act.

Bins. Text values are categories: one bin per value seen in either sample (``"missing"`` is
just another value). Numbers are binned by right-closed intervals ``(low, high]`` cut at the
expected sample's empirical quantiles (deciles by default), deduplicated, with the outer bins
open to -inf and +inf. The cut points are values of the sample, so a mass of equal values fills
one bin rather than leaving empty duplicates, and every bin but the last holds expected values.
A column with no more distinct expected values than bins (a flag, a small count, a constant)
gets one bin per value and an overflow bin above the largest, so that a rise from an all-zero
flag still shows. NaN (no record) goes to its own ``"missing"`` bin, listed when either sample
has one. A bin empty in both samples is not listed: it would add exactly 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from numbers import Real
from typing import TYPE_CHECKING, Literal

import numpy as np

from scoring.errors import BadData, BadSettings

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from numpy.typing import NDArray

INVESTIGATE = 0.10
"""PSI from which a shift is worth investigating."""

ACT = 0.25
"""PSI from which a shift calls for action (recalibrate, retrain or explain)."""

EPSILON = 1e-4
"""Floor of each bin's share before the PSI sum, so an empty bin gives a large term, not inf."""

BINS = 10
"""Default number of quantile bins of a numeric column: deciles."""

MISSING = "missing"
"""Label of the bin of numeric values with no record (NaN)."""

SCORE = "score"
"""Name of the score's :class:`Psi` in a :class:`DriftReport`."""

Flag = Literal["stable", "investigate", "act"]
Period = Literal["expected", "actual"]


@dataclass(frozen=True)
class Bin:
    """One bin of a PSI table: its label and the share of each sample in it."""

    label: str
    """An interval such as ``(0.05, 0.1]`` (cut points to 4 significant digits, more where
    needed to tell them apart), ``missing``, or a category value."""
    expected: float
    """Share of the expected sample (period 1) in this bin, 0..1, before smoothing."""
    actual: float
    """Share of the actual sample (period 2) in this bin, 0..1, before smoothing."""


@dataclass(frozen=True)
class Psi:
    """The population stability index of one column between the two periods, with its bins."""

    name: str
    """The column: ``score`` or a feature name."""
    psi: float
    """The index, ``>= 0``."""
    flag: Flag
    """``stable`` below 0.10, ``investigate`` below 0.25, ``act`` from 0.25."""
    bins: tuple[Bin, ...]
    """The bins the index was summed over, in order (intervals ascending, ``missing`` last)."""

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able data, figures rounded to 6 decimals."""
        return {
            "name": self.name,
            "psi": round(self.psi, 6),
            "flag": self.flag,
            "bins": [
                {
                    "label": b.label,
                    "expected": round(b.expected, 6),
                    "actual": round(b.actual, 6),
                }
                for b in self.bins
            ],
        }


@dataclass(frozen=True)
class DriftReport:
    """Drift of the score and of each feature between two periods of ratings."""

    expected_count: int
    """Ratings in the expected period (period 1)."""
    actual_count: int
    """Ratings in the actual period (period 2)."""
    score: Psi
    """PSI of the probability."""
    features: tuple[Psi, ...]
    """PSI of each feature, in the order the feature names were given."""

    @property
    def flagged(self) -> tuple[Psi, ...]:
        """The score and the features whose flag is not ``stable``, score first."""
        return tuple(p for p in (self.score, *self.features) if p.flag != "stable")

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able data, figures rounded to 6 decimals."""
        return {
            "expected_count": self.expected_count,
            "actual_count": self.actual_count,
            "score": self.score.to_dict(),
            "features": [p.to_dict() for p in self.features],
            "flagged": [p.name for p in self.flagged],
        }


def _flag(value: float) -> Flag:
    """The design's reading of a PSI: stable, investigate (from 0.10) or act (from 0.25)."""
    if value < INVESTIGATE:
        return "stable"
    if value < ACT:
        return "investigate"
    return "act"


def psi(
    expected: Sequence[float | str],
    actual: Sequence[float | str],
    *,
    name: str,
    bins: int = BINS,
) -> Psi:
    """The PSI of one column: ``expected`` from period 1, ``actual`` from period 2.

    All text is categorical, all numbers numeric (NaN: no record); a column mixing the two,
    holding anything else, or an infinite number is refused (:class:`BadData`), as is an empty
    sample. ``bins`` is the number of quantile bins of a numeric column.
    """
    if bins < 2:  # noqa: PLR2004 - one bin cannot show a shift
        raise BadSettings(
            f"PSI needs at least 2 bins, not {bins}", code="psi-too-few-bins", bins=bins
        )
    _require_ratings(expected, "expected")
    _require_ratings(actual, "actual")
    if _is_text(expected, actual, name):
        labels, e_counts, a_counts = _categorical(expected, actual)
    else:
        labels, e_counts, a_counts = _numeric(
            _numbers(expected, name, "expected"), _numbers(actual, name, "actual"), bins
        )
    listed = np.flatnonzero((e_counts > 0) | (a_counts > 0))
    e_share = e_counts[listed] / len(expected)
    a_share = a_counts[listed] / len(actual)
    e_smooth = np.maximum(e_share, EPSILON)
    a_smooth = np.maximum(a_share, EPSILON)
    value = float(np.sum((a_smooth - e_smooth) * np.log(a_smooth / e_smooth)))
    table = tuple(
        Bin(labels[i], float(e), float(a))
        for i, e, a in zip(listed.tolist(), e_share, a_share, strict=True)
    )
    return Psi(name=name, psi=value, flag=_flag(value), bins=table)


def drift_report(
    expected_scores: Sequence[float],
    actual_scores: Sequence[float],
    expected_features: Sequence[Mapping[str, float | str]],
    actual_features: Sequence[Mapping[str, float | str]],
    feature_names: Sequence[str],
) -> DriftReport:
    """PSI of the probability and of each named feature, period 1 (expected) against period 2.

    Each period's feature rows go with its scores, one row per rating, and every row must carry
    every named feature. Scores are probabilities: numbers from 0 to 1.
    """
    _require_ratings(expected_scores, "expected")
    _require_ratings(actual_scores, "actual")
    _check_scores(expected_scores, "expected")
    _check_scores(actual_scores, "actual")
    _check_rows(expected_scores, expected_features, "expected")
    _check_rows(actual_scores, actual_features, "actual")
    return DriftReport(
        expected_count=len(expected_scores),
        actual_count=len(actual_scores),
        score=psi(expected_scores, actual_scores, name=SCORE),
        features=tuple(
            psi(
                _column(expected_features, name, "expected"),
                _column(actual_features, name, "actual"),
                name=name,
            )
            for name in feature_names
        ),
    )


def _require_ratings(values: Sequence[object], period: Period) -> None:
    if len(values) == 0:
        raise BadData(
            f"the {period} period ({_period_number(period)}) has no ratings; "
            "drift compares two periods and needs ratings in both",
            code="drift-period-empty",
            period=_period_index(period),
        )


def _period_number(period: Period) -> str:
    return f"period {_period_index(period)}"


def _period_index(period: Period) -> int:
    return 1 if period == "expected" else 2


def _is_text(expected: Sequence[object], actual: Sequence[object], name: str) -> bool:
    """Whether the column is categorical; refuse one that mixes text and numbers."""
    first: dict[str, tuple[Period, int, object]] = {}
    periods: tuple[tuple[Period, Sequence[object]], ...] = (
        ("expected", expected),
        ("actual", actual),
    )
    for period, values in periods:
        for row, value in enumerate(values, start=1):
            if isinstance(value, str):
                first.setdefault("text", (period, row, value))
            elif isinstance(value, Real):
                first.setdefault("number", (period, row, value))
            else:
                raise BadData(
                    f"rating {row} of the {period} period has {value!r}, neither a number nor text",
                    column=name,
                    code="drift-value-unreadable",
                    period=_period_index(period),
                    rating=row,
                    value=repr(value),
                )
    if len(first) == 2:  # noqa: PLR2004 - both kinds seen
        t_period, t_row, text = first["text"]
        n_period, n_row, number = first["number"]
        raise BadData(
            f"mixes text and numbers (rating {t_row} of the {t_period} period has {text!r}, "
            f"rating {n_row} of the {n_period} period has {number!r}); a feature is either "
            "categorical (text) or numeric (numbers, NaN for no record)",
            column=name,
            code="drift-column-mixed",
        )
    return "text" in first


def _numbers(values: Sequence[float | str], name: str, period: Period) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    infinite = np.flatnonzero(np.isinf(array))
    if infinite.size:
        row = int(infinite[0]) + 1
        raise BadData(
            f"rating {row} of the {period} period has {array[row - 1]}; numbers must be "
            "finite (NaN means no record)",
            column=name,
            code="drift-value-infinite",
            period=_period_index(period),
            rating=row,
            value=str(array[row - 1]),
        )
    return array


def _categorical(
    expected: Sequence[object], actual: Sequence[object]
) -> tuple[list[str], NDArray[np.int64], NDArray[np.int64]]:
    """One bin per value seen in either sample, in sorted order."""
    values = np.asarray([*map(str, expected), *map(str, actual)], dtype=np.str_)
    labels, index = np.unique(values, return_inverse=True)
    split = len(expected)
    return (
        [str(label) for label in labels],
        np.bincount(index[:split], minlength=labels.size),
        np.bincount(index[split:], minlength=labels.size),
    )


def _numeric(
    expected: NDArray[np.float64], actual: NDArray[np.float64], bins: int
) -> tuple[list[str], NDArray[np.int64], NDArray[np.int64]]:
    """Counts in ``(low, high]`` intervals cut from the expected sample, then ``missing``."""
    e_missing, a_missing = np.isnan(expected), np.isnan(actual)
    known = np.sort(expected[~e_missing])
    cuts = _cuts(known, bins)
    labels = _interval_labels(cuts)
    e_counts = np.bincount(np.searchsorted(cuts, known, side="left"), minlength=cuts.size + 1)
    a_counts = np.bincount(
        np.searchsorted(cuts, actual[~a_missing], side="left"), minlength=cuts.size + 1
    )
    e_gone, a_gone = int(e_missing.sum()), int(a_missing.sum())
    if e_gone or a_gone:
        labels.append(MISSING)
        e_counts = np.append(e_counts, e_gone)
        a_counts = np.append(a_counts, a_gone)
    return labels, e_counts, a_counts


def _cuts(known: NDArray[np.float64], bins: int) -> NDArray[np.float64]:
    """Inner cut points from the sorted expected values: each value, or the quantiles.

    The ``k / bins`` quantile is the smallest value whose empirical CDF reaches ``k / bins``
    (numpy's ``inverted_cdf``), indexed in integers so that no rounding moves a cut.
    """
    distinct = np.unique(known)
    if distinct.size <= bins:
        return distinct
    k = np.arange(1, bins, dtype=np.int64)
    index = -(-k * known.size // bins) - 1
    return np.unique(known[index])


def _interval_labels(cuts: NDArray[np.float64]) -> list[str]:
    bounds = ["-inf", *_format_cuts(cuts.tolist()), "+inf"]
    return [f"({low}, {high}{')' if high == '+inf' else ']'}" for low, high in pairwise(bounds)]


def _format_cuts(cuts: list[float]) -> list[str]:
    """Cut points with the fewest significant digits (at least 4) that keep them distinct."""
    for digits in range(4, 17):
        texts = [_format(c, digits) for c in cuts]
        if len(set(texts)) == len(texts):
            return texts
    return [_format(c, 17) for c in cuts]  # 17 digits tell any two floats apart


def _format(value: float, digits: int) -> str:
    """``5`` for 5.0, else ``value`` to ``digits`` significant digits (``0.05``, ``1e-05``)."""
    if value.is_integer() and abs(value) < 1e15:  # noqa: PLR2004 - exact as an int
        return str(int(value))
    return f"{value:.{digits}g}"


def _check_scores(scores: Sequence[float], period: Period) -> None:
    for row, score in enumerate(scores, start=1):
        if not isinstance(score, Real) or not 0.0 <= float(score) <= 1.0:
            raise BadData(
                f"rating {row} of the {period} period has score {score!r}; "
                "scores are probabilities from 0 to 1",
                column=SCORE,
                code="drift-score-out-of-range",
                period=_period_index(period),
                rating=row,
                score=repr(score),
            )


def _check_rows(
    scores: Sequence[float], rows: Sequence[Mapping[str, float | str]], period: Period
) -> None:
    if len(rows) != len(scores):
        raise BadData(
            f"the {period} period has {len(scores)} scores but {len(rows)} feature rows; "
            "each rating needs one of each",
            code="drift-rows-mismatch",
            period=_period_index(period),
            scores=len(scores),
            rows=len(rows),
        )


def _column(
    rows: Sequence[Mapping[str, float | str]], name: str, period: Period
) -> list[float | str]:
    try:
        return [row[name] for row in rows]
    except KeyError:
        row = next(i for i, r in enumerate(rows, start=1) if name not in r)
        raise BadData(
            f"rating {row} of the {period} period has no such feature",
            column=name,
            code="drift-feature-missing",
            period=_period_index(period),
            rating=row,
        ) from None
