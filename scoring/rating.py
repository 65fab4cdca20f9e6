"""Live ratings: a merchant's probability of default, its grade, and reasons that add up.

A rating reads a merchant's indicator records as they stood just before a date (only records
dated strictly before it, the latest per kind: :func:`scoring.features.features_at`), scores
them with a saved model and grades the calibrated probability, floored by the hard overrides
(:func:`scoring.grades.grade`).

Why the probability is what it is
=================================

The model is additive in the log-odds (:mod:`scoring.model`): ``p(x) = sigmoid(L(x))`` with
``L(x) = intercept + sum_j s_j(x_j)``. Its reasons are measured from the *reference row* ``r``
stored with the model (each number's training median, each category's mode: a typical
merchant), so that every reason reads "compared with a typical merchant". In log-odds a
feature's part is exact and its own: ``s_j(x_j) - s_j(r_j)``. People read probabilities,
though, and the logistic curve is not a sum, so the shares are taken along a walk from ``r``
to ``x``, one feature at a time: each step changes the probability by some amount, and the
steps add up to ``p(x) - p(r)`` exactly. Where a step falls on the curve depends on the order
of the walk, so the walk is made twice, in :data:`~scoring.features.FEATURES` order and in
reverse, and each feature's contribution is the average of its two steps. The averages still
add up exactly::

    reference_probability + sum(contributions) == probability   (up to float rounding)

Because the model is additive, a point on a walk is ``sigmoid(L(r) + a partial sum of the
log-odds steps)``: both walks are two cumulative sums over the feature matrix, with no model
call (the black-box models before file format 3 needed ``2k`` calls per merchant for the
same walks). A feature whose value equals the reference (both missing counts as equal), or
falls in the same bin, takes a zero step and contributes exactly 0. Each step of a feature
has the sign of its log-odds step, so with the declared monotone directions a value on the
risky side of a present reference value never gets a negative contribution.

A contribution above 0 raises the risk; :attr:`Rating.top_reasons` are the largest of those.
Each reason carries the record that supplied the value, so that it can be cited (``ref``).
:meth:`Rater.attribute` works on a whole feature matrix, so a batch of any size is scored by
array arithmetic; :meth:`Rater.rate` builds that matrix from records, one merchant or many.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from scoring.errors import BadSettings
from scoring.features import (
    FEATURES,
    MISSING,
    MONOTONE,
    OVERRIDE_FEATURES,
    exit_pattern,
    features_at,
    latest_records,
)
from scoring.grades import CUT_POINTS, CutPoints, Grade, Override, floor_band, grade
from scoring.indicators import CATALOGUE, Source
from scoring.model import sigmoid
from scoring.table import table_from_features

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import date

    from numpy.typing import NDArray

    from scoring.indicators import Indicator
    from scoring.store import SavedModel
    from scoring.table import Schema

TOP_REASONS = 5
"""Most reasons a rating puts forward."""

Shown = float | str | None

_COLUMNS = tuple((kind.feature, (kind.source, kind.name)) for kind in CATALOGUE)
"""Each feature with the (source, kind) its records carry, in column order."""


@dataclass(frozen=True)
class Reason:
    """How much one feature moved the probability away from the reference, and from what record.

    ``value`` is the merchant's feature value and ``reference`` the reference row's, each
    ``None`` when missing (no record; for a category, the word ``missing`` too).
    """

    feature: str
    source: Source
    kind: str
    value: Shown
    reference: Shown
    contribution: float
    record: Indicator | None

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able data; the record as ``{ref, source, kind, value, as_of, provenance}``."""
        record = self.record
        return {
            "feature": self.feature,
            "source": self.source.value,
            "kind": self.kind,
            "value": self.value,
            "reference": self.reference,
            "contribution": self.contribution,
            "record": None
            if record is None
            else {
                "ref": record.ref,
                "source": record.source.value,
                "kind": record.kind,
                "value": record.value,
                "as_of": record.as_of.isoformat(),
                "provenance": record.provenance,
            },
        }


@dataclass(frozen=True)
class Rating:
    """One merchant rated at a date: probability, grade, and every feature's contribution."""

    key: str
    at: date
    probability: float
    reference_probability: float
    grade: Grade
    contributions: tuple[Reason, ...]
    model_version: str
    top_reasons: tuple[Reason, ...]
    """The features that raised the risk most, largest first (ties in feature order), at most
    :data:`TOP_REASONS` (:meth:`Rater.assess` picks them)."""

    def features(self) -> dict[str, float | str]:
        """The feature values the rating was computed from, as drift compares them.

        A feature with no record is NaN, or the word ``missing`` for a category.
        """
        categorical = {k.feature for k in CATALOGUE if k.type == "category"}
        out: dict[str, float | str] = {}
        for reason in self.contributions:
            if reason.value is None:
                out[reason.feature] = MISSING if reason.feature in categorical else math.nan
            elif isinstance(reason.value, str):
                out[reason.feature] = reason.value
            else:
                out[reason.feature] = float(reason.value)
        return out

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able data, as an API or an audit record would keep it."""
        graded = self.grade
        return {
            "key": self.key,
            "at": self.at.isoformat(),
            "probability": self.probability,
            "reference_probability": self.reference_probability,
            "grade": {
                "grade": graded.grade,
                "colour": graded.colour,
                "probability": graded.probability,
                "model_grade": graded.model_grade,
                "overrides": [o.value for o in graded.overrides],
                "reasons": list(graded.reasons),
                "cut_points_version": graded.cut_points_version,
            },
            "model_version": self.model_version,
            "top_reasons": [r.to_dict() for r in self.top_reasons],
            "contributions": [r.to_dict() for r in self.contributions],
        }


class Rater:
    """Rates merchants with one saved model; refuses a model that cannot rate indicators.

    A live model must read exactly the indicator features, in order, carry the declared
    monotone directions (so that a worse signal never lowers the risk) and grade with the cut
    points in force; anything else is :class:`BadSettings`, before any merchant is rated.
    """

    def __init__(self, saved: SavedModel, cut_points: CutPoints = CUT_POINTS) -> None:
        _check_model(saved, cut_points)
        self._saved = saved
        self._cut_points = cut_points
        schema = saved.model.schema
        self._reference = table_from_features(
            schema, [saved.reference], source="reference row"
        ).features[0]
        self._reference_shown = tuple(_shown(saved.reference[name]) for name in FEATURES)

    @property
    def model_version(self) -> str:
        """The version of the model that rates."""
        return self._saved.model_version

    def rate(self, merchants: Mapping[str, Sequence[Indicator]], at: date) -> list[Rating]:
        """Rate each merchant (key: its records) from the records dated strictly before ``at``.

        The ratings come in the mapping's order.
        """
        keys = list(merchants)
        if not keys:
            return []
        latest = [latest_records(merchants[key], at) for key in keys]
        features = [features_at(held.values(), at) for held in latest]
        x = table_from_features(self._saved.model.schema, features, source="ratings").features
        exit_path = np.array([bool(exit_pattern(merchants[key], at)) for key in keys])
        found = self.assess(x, exit_path)
        probability = found.probability.tolist()
        reference_probability = found.reference_probability
        contributions = found.contributions.tolist()
        top: list[list[int]] = [[] for _ in keys]
        for row, feature in zip(
            found.reason_row.tolist(), found.reason_feature.tolist(), strict=True
        ):
            top[row].append(feature)  # rank order: nonzero walks rows, then ranks
        version = self.model_version
        ratings = []
        for m, key in enumerate(keys):
            held, values, contributed = latest[m], features[m], contributions[m]
            reasons = tuple(
                Reason(
                    feature=feature,
                    source=where[0],
                    kind=where[1],
                    value=_shown(values[feature]),
                    reference=self._reference_shown[j],
                    contribution=contributed[j],
                    record=held.get(where),
                )
                for j, (feature, where) in enumerate(_COLUMNS)
            )
            ratings.append(
                Rating(
                    key=key,
                    at=at,
                    probability=probability[m],
                    reference_probability=reference_probability,
                    grade=grade(probability[m], found.overrides[m], self._cut_points),
                    contributions=reasons,
                    top_reasons=tuple(reasons[j] for j in top[m]),
                    model_version=version,
                )
            )
        return ratings

    @property
    def schema(self) -> Schema:
        """The columns the model reads, in order (the indicator features)."""
        return self._saved.model.schema

    @property
    def reference_shown(self) -> tuple[Shown, ...]:
        """The reference row's value of each feature, as a reason shows it."""
        return self._reference_shown

    @property
    def cut_points(self) -> CutPoints:
        """The cut points the grades are read from."""
        return self._cut_points

    def assess(self, x: NDArray[np.float64], exit_path: NDArray[np.bool_]) -> Assessment:
        """Rate every row of a feature matrix; ``exit_path`` says whose records show that path.

        The same grades, overrides and reasons as :meth:`rate` gives each merchant, computed
        column-wise: the override flags are read from their feature columns
        (:data:`~scoring.features.OVERRIDE_FEATURES`), and the top reasons are each row's
        largest positive contributions, ties in feature order.
        """
        found = self.attribute(x)
        model_band = self._cut_points.bands(found.probability)
        flags = [(o, x[:, FEATURES.index(name)] == 1.0) for name, o in OVERRIDE_FEATURES.items()]
        flags.append((Override.EXIT_PATTERN, exit_path))
        order = list(Override)
        flags.sort(key=lambda pair: order.index(pair[0]))
        any_flag = np.zeros(x.shape[0], dtype=bool)
        for _, flag in flags:
            any_flag |= flag
        overrides: list[tuple[Override, ...]] = [()] * x.shape[0]
        floor = np.zeros(x.shape[0], dtype=np.intp)
        for row in np.flatnonzero(any_flag):
            overrides[row] = tuple(o for o, flag in flags if flag[row])
            floor[row] = floor_band(overrides[row])
        contributions = found.contributions
        ranked = np.argsort(-contributions, axis=1, kind="stable")[:, :TOP_REASONS]
        raising = np.take_along_axis(contributions, ranked, axis=1) > 0
        reason_row, reason_rank = np.nonzero(raising)
        return Assessment(
            probability=found.probability,
            reference_probability=found.reference_probability,
            model_band=model_band,
            band=np.maximum(model_band, floor),
            overrides=tuple(overrides),
            contributions=contributions,
            reason_row=reason_row,
            reason_rank=reason_rank,
            reason_feature=ranked[reason_row, reason_rank],
        )

    def attribute(self, x: NDArray[np.float64]) -> Attribution:
        """Probabilities, the reference's, and per-feature contributions of a feature matrix.

        ``x`` is in the model's column order (numbers, and category codes as
        :func:`scoring.table.table_from_features` makes them); the two walks of the module
        docstring, as cumulative sums.
        """
        model = self._saved.model
        r = self._reference
        scores_r = model.scores(r[None, :])[0]
        differ = ~((x == r) | (np.isnan(x) & np.isnan(r)))
        steps = np.where(differ, model.scores(x) - scores_r, 0.0)
        start = float(model.intercept + scores_r.sum())
        # Log-odds at each point of the forward walk: column j is after taking features 0..j-1.
        forward = start + np.concatenate(
            [np.zeros((x.shape[0], 1)), np.cumsum(steps, axis=1)], axis=1
        )
        # The backward walk takes the last feature first: column j is after taking j..k-1.
        backward = start + np.concatenate(
            [np.cumsum(steps[:, ::-1], axis=1)[:, ::-1], np.zeros((x.shape[0], 1))], axis=1
        )
        on_curve_f, on_curve_b = sigmoid(forward), sigmoid(backward)
        contributions = 0.5 * (
            (on_curve_f[:, 1:] - on_curve_f[:, :-1]) + (on_curve_b[:, :-1] - on_curve_b[:, 1:])
        )
        return Attribution(
            probability=sigmoid(model.logits(x)),
            reference_probability=float(sigmoid(np.array([start]))[0]),
            contributions=contributions,
        )


@dataclass(frozen=True)
class Assessment:
    """A batch of merchants rated at once: arrays, row ``i`` being the ``i``-th merchant.

    What :meth:`Rater.rate` puts in :class:`Rating` objects one by one, for batches too large
    to hold as objects: the probability, the grade the model gives and the one the overrides
    leave (indices into :data:`~scoring.grades.GRADES`), the overrides, every contribution,
    and the top reasons as (row, rank, feature column) triples.
    """

    probability: NDArray[np.float64]
    reference_probability: float
    model_band: NDArray[np.intp]
    band: NDArray[np.intp]
    overrides: tuple[tuple[Override, ...], ...]
    contributions: NDArray[np.float64]
    reason_row: NDArray[np.intp]
    reason_rank: NDArray[np.intp]
    reason_feature: NDArray[np.intp]


@dataclass(frozen=True)
class Attribution:
    """What :meth:`Rater.attribute` finds for each row of a feature matrix."""

    probability: NDArray[np.float64]
    reference_probability: float
    contributions: NDArray[np.float64]
    """``(n, k)``: each feature's share of ``probability - reference_probability``."""


def _check_model(saved: SavedModel, cut_points: CutPoints) -> None:
    """Refuse, saying why, a model that does not read indicators the declared way."""
    schema = saved.model.schema
    names = schema.names
    if names != FEATURES:
        absent = [n for n in FEATURES if n not in names]
        extra = [n for n in names if n not in FEATURES]
        why = (
            "the same columns in another order"
            if not absent and not extra
            else f"missing {', '.join(absent) or 'none'}; extra {', '.join(extra) or 'none'}"
        )
        raise BadSettings(
            f"model {saved.model_version} does not read the indicator features"
            f" (scoring.features.FEATURES, in order): {why}",
            code="model-features-differ",
            model_version=saved.model_version,
            missing=", ".join(absent),
            extra=", ".join(extra),
        )
    for column, kind in zip(schema.columns, CATALOGUE, strict=True):
        wanted = "categorical" if kind.type == "category" else "numeric"
        if column.kind != wanted:
            raise BadSettings(
                f"model {saved.model_version} reads {column.name} as {column.kind}; it is {wanted}",
                code="model-column-kind",
                model_version=saved.model_version,
                column=column.name,
            )
    wrong = [
        f"{name} {saved.model.monotone.get(name, 0):+d} (declared {direction:+d})"
        for name, direction in MONOTONE.items()
        if saved.model.monotone.get(name, 0) != direction
    ]
    if wrong:
        raise BadSettings(
            f"model {saved.model_version} was not fitted with the declared monotone directions"
            f" (scoring.features.MONOTONE): {'; '.join(wrong)}; a live model must carry them"
            " (pguard scoring train --indicator-directions)",
            code="model-monotone-differs",
            model_version=saved.model_version,
            directions="; ".join(wrong),
        )
    if saved.cut_points_version != cut_points.version:
        raise BadSettings(
            f"model {saved.model_version} is for cut points {saved.cut_points_version},"
            f" not {cut_points.version}, which are in force",
            code="model-cut-points-differ",
            model_version=saved.model_version,
            model_cut_points=saved.cut_points_version,
            cut_points=cut_points.version,
        )


def _shown(value: float | str | None) -> Shown:
    """A feature value as a reason shows it: ``None`` for missing, never NaN or ``missing``."""
    if value is None or value == MISSING:
        return None
    if isinstance(value, str):
        return value
    return None if math.isnan(value) else float(value)
