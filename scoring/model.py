"""The model: an additive glass box, one learned curve per feature, with declared directions.

Why additive
============

The probability of default is ``sigmoid(intercept + sum_j s_j(x_j))``: every feature adds a
score that depends on its own value only. Each ``s_j`` is a step function, a score per bin of
the feature (a numeric range, a category, or "missing"), learned by interpret's Explainable
Boosting Machine (cyclic gradient boosting of one feature at a time, bagged, with
``interactions=0``) and then copied out of it into plain arrays. So:

* a rating is one table look-up per feature and a sum: the whole province is scored in
  milliseconds, with no estimator object, no pickle and no scikit-learn at rating time;
* the reasons are exact: a feature's share of the log-odds is its own term, nothing else's,
  so the two walks of :mod:`scoring.rating` are two cumulative sums, not ``2k`` model calls;
* a declared direction (``+1``: more is never safer) is a property of one array, enforced by
  the boosting (``monotone_constraints``) and checked again on the copied scores, here and
  when a model file is read.

It is at least as accurate as the calibrated ensemble of boosted trees it replaced (format 2
of the model file): 5-fold cross-validation on German credit gives AUC 0.790, KS 0.455, Brier
0.164 against 0.787, 0.455, 0.164 (README, "Scoring").

The bags are cross-fitted, not drawn at random: ``bag_repeats`` stratified ``bag_folds``-fold
splits, each fold's rows held out of one bag (where they also stop its boosting early). So
every row is out of bag exactly ``bag_repeats`` times, and its out-of-bag log-odds (the mean
of the bags that never trained on it) calibrate the model at no extra fitting: Platt's slope
and offset, folded into the intercept and the scores. An increasing linear map of the
log-odds keeps the model additive and every direction; isotonic calibration would make steps
across features and tie distinct merchants, so it is not offered. Everything random takes the
one seed: the same data and seed give the same scores.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold

from scoring.errors import BadData, BadSettings
from scoring.metrics import Metrics, evaluate
from scoring.table import reference_row

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from numpy.typing import NDArray

    from scoring.table import Column, ReferenceValue, Schema, Table


@dataclass(frozen=True)
class Params:
    """Fitting settings. The boosting's own are interpret's defaults, bar fewer bags."""

    seed: int = 0
    bag_folds: int = 4
    bag_repeats: int = 2
    """``bag_folds * bag_repeats`` bags (8) are averaged into the model; 14 gained nothing."""
    learning_rate: float = 0.015
    max_rounds: int = 50_000
    """Boosting rounds at most; early stopping on each bag's held-out rows ends far sooner."""
    calibration: Literal["sigmoid", "none"] = "sigmoid"

    def to_dict(self) -> dict[str, object]:
        """Plain data for the model file's manifest."""
        return asdict(self)


@dataclass(frozen=True)
class Term:
    """One feature's scores: what it adds to the log-odds, per bin of its value.

    Numeric: ``edges`` split the line into ``len(edges) + 1`` bins, a value equal to an edge
    going to the bin above; ``scores[0]`` is for a missing value (NaN), ``scores[1 + b]`` for
    bin ``b``. Categorical: no edges, and ``scores[code]`` for each code the column's schema
    gives (the categories, then "missing", then "other").
    """

    edges: NDArray[np.float64]
    scores: NDArray[np.float64]


@dataclass(frozen=True)
class Model:
    """A fitted additive model with the schema it reads and the settings it was fitted with.

    ``intercept`` and ``terms`` are calibrated: ``predict`` is their sum through the logistic
    function, nothing more.
    """

    schema: Schema
    monotone: dict[str, int]
    params: Params
    intercept: float
    terms: tuple[Term, ...]
    calibration: tuple[float, float] = (1.0, 0.0)
    """The Platt slope and offset already folded into ``intercept`` and ``terms``."""

    def scores(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """Each feature's term for each row: an ``(n, k)`` matrix of log-odds."""
        out = np.empty(features.shape, dtype=np.float64)
        for j, (column, term) in enumerate(zip(self.schema.columns, self.terms, strict=True)):
            out[:, j] = _term_scores(column, term, features[:, j])
        return out

    def logits(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """Calibrated log-odds of the positive outcome for each row."""
        total: NDArray[np.float64] = self.intercept + self.scores(features).sum(axis=1)
        return total

    def predict(self, table: Table) -> NDArray[np.float64]:
        """Calibrated probability of the positive outcome for each row of ``table``."""
        if table.schema.columns != self.schema.columns:
            raise BadData(
                "the table was not read with this model's schema", code="table-schema-mismatch"
            )
        return sigmoid(self.logits(table.features))


def sigmoid(logit: NDArray[np.float64]) -> NDArray[np.float64]:
    """The logistic function, without overflow warnings for large negative log-odds."""
    out: NDArray[np.float64] = 0.5 * (1.0 + np.tanh(0.5 * logit))
    return out


def _term_scores(column: Column, term: Term, values: NDArray[np.float64]) -> NDArray[np.float64]:
    if column.kind == "categorical":
        return term.scores[values.astype(np.intp)]
    index = np.searchsorted(term.edges, values, side="right") + 1
    index[np.isnan(values)] = 0
    return term.scores[index]


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold probabilities for every row, the pooled metrics and each fold's AUC."""

    probabilities: NDArray[np.float64]
    metrics: Metrics
    fold_aucs: tuple[float, ...]


@dataclass(frozen=True)
class Trained:
    """A model fitted on all rows, with the metrics and the reference row to store beside it.

    The reference row (:func:`scoring.table.reference_row`) is the typical training row from
    which a rating's reasons are measured; it belongs to the data, so it is taken here.
    """

    model: Model
    in_sample: Metrics
    cross_validated: CrossValidation | None
    reference: dict[str, ReferenceValue]

    def metrics(self) -> dict[str, object]:
        """Plain data for the model file: in-sample figures flatter, cross-validated ones do not."""
        return {
            "in_sample": self.in_sample.to_dict(),
            "cross_validated": None
            if self.cross_validated is None
            else {
                **self.cross_validated.metrics.to_dict(),
                "folds": len(self.cross_validated.fold_aucs),
                "fold_aucs": [round(a, 6) for a in self.cross_validated.fold_aucs],
            },
        }


def train(
    table: Table,
    *,
    folds: int = 5,
    monotone: Mapping[str, int] | None = None,
    params: Params = Params(),
) -> Trained:
    """Fit on every row, and (``folds`` >= 2) measure the method by cross-validation first."""
    validated = (
        cross_validate(table, folds=folds, monotone=monotone, params=params) if folds else None
    )
    model = fit(table, monotone=monotone, params=params)
    in_sample = evaluate(table.label, model.predict(table))
    return Trained(model, in_sample, validated, reference_row(table))


def fit(
    table: Table, *, monotone: Mapping[str, int] | None = None, params: Params = Params()
) -> Model:
    """Fit, calibrate and copy out the scores of an additive model on the whole table.

    ``monotone`` maps numeric column names to ``+1`` (more is riskier), ``-1`` (more is safer)
    or ``0`` (no constraint); columns not named are unconstrained.
    """
    directions = _directions(table.schema, monotone or {})
    _check_params(params)
    _check_classes(table.label, params.bag_folds, f"fitting {params.bag_folds}-fold bags")
    intercept, terms, out_of_bag = _boost(table, directions, params)
    slope, offset = _platt(out_of_bag, table.label) if params.calibration == "sigmoid" else (1, 0)
    calibrated_terms = tuple(Term(t.edges, slope * t.scores) for t in terms)
    model = Model(
        schema=table.schema,
        monotone=directions,
        params=params,
        intercept=slope * intercept + offset,
        terms=calibrated_terms,
        calibration=(slope, offset),
    )
    problem = monotone_problem(model)
    if problem is not None:  # pragma: no cover - the boosting is constrained; this is a guard
        raise BadData(
            f"the fitted model breaks a direction: {problem}",
            code="model-not-monotone",
            path="the fitted model",
            column=problem,
        )
    return model


def monotone_problem(model: Model) -> str | None:
    """Why the model's scores break a declared direction, or ``None`` when they all hold.

    The bins of a numeric term are in increasing order of the value, so ``+1`` means its
    scores never fall from one bin to the next (the missing bin stands apart).
    """
    for column, term in zip(model.schema.columns, model.terms, strict=True):
        direction = model.monotone.get(column.name, 0)
        if column.kind != "numeric" or direction == 0:
            continue
        steps = np.diff(term.scores[1:]) * direction
        if steps.size and float(steps.min()) < 0.0:
            return f"{column.name} ({direction:+d})"
    return None


def cross_validate(
    table: Table,
    *,
    folds: int = 5,
    monotone: Mapping[str, int] | None = None,
    params: Params = Params(),
) -> CrossValidation:
    """Stratified ``folds``-fold cross-validation: every row is scored by a model that never saw it.

    The metrics are computed on the pooled out-of-fold probabilities, so the calibration table
    covers every row once.
    """
    if folds < 2:  # noqa: PLR2004 - fewer is not cross-validation
        raise BadSettings(
            f"--folds must be at least 2, not {folds}", code="folds-too-few", folds=folds
        )
    _check_classes(table.label, folds, f"{folds}-fold cross-validation")
    smallest_training = int(min(np.bincount(table.label))) * (folds - 1) // folds
    if smallest_training < params.bag_folds:
        raise BadData(
            f"too few rows of one outcome for {folds}-fold cross-validation of"
            f" {params.bag_folds}-fold bags",
            code="folds-too-few-rows",
            folds=folds,
        )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=params.seed)
    probabilities = np.empty(table.rows, dtype=np.float64)
    fold_aucs = []
    for train_rows, test_rows in splitter.split(table.features, table.label):
        model = fit(table.subset(train_rows), monotone=monotone, params=params)
        held_out = table.subset(test_rows)
        probabilities[test_rows] = model.predict(held_out)
        fold_aucs.append(evaluate(held_out.label, probabilities[test_rows]).auc)
    return CrossValidation(probabilities, evaluate(table.label, probabilities), tuple(fold_aucs))


def _boost(
    table: Table, directions: dict[str, int], params: Params
) -> tuple[float, tuple[Term, ...], NDArray[np.float64]]:
    """Fit interpret's EBM without interactions; its intercept, scores and out-of-bag log-odds."""
    from interpret.glassbox import ExplainableBoostingClassifier  # noqa: PLC0415 - slow import

    columns = table.schema.columns
    types = ["nominal" if c.kind == "categorical" else "continuous" for c in columns]
    constraints = [directions.get(c.name, 0) if c.kind == "numeric" else 0 for c in columns]
    data = table.features.astype(object)
    for j, column in enumerate(columns):
        if column.kind == "categorical":  # codes as names, so that EBM takes them as nominal
            data[:, j] = [str(int(code)) for code in table.features[:, j]]
    count = params.bag_folds * params.bag_repeats
    bags = np.ones((table.rows, count), dtype=np.int8)  # +1 trains the bag, -1 is held out
    splits = RepeatedStratifiedKFold(
        n_splits=params.bag_folds, n_repeats=params.bag_repeats, random_state=params.seed
    )
    for bag, (_, held_out) in enumerate(splits.split(table.features, table.label)):
        bags[held_out, bag] = -1
    ebm = ExplainableBoostingClassifier(
        feature_names=[c.name for c in columns],
        feature_types=types,
        interactions=0,
        outer_bags=count,
        learning_rate=params.learning_rate,
        max_rounds=params.max_rounds,
        monotone_constraints=constraints if any(constraints) else None,
        n_jobs=1,
        random_state=params.seed,
    )
    with warnings.catch_warnings():
        # "Missing values detected": its plots hide the missing bin; the scores keep it.
        warnings.simplefilter("ignore", UserWarning)
        ebm.fit(data, table.label, bags=bags)

    def terms(scores_of: Callable[[int], NDArray[np.float64]]) -> tuple[Term, ...]:
        copied = []
        for j, column in enumerate(columns):
            scores, binning = np.asarray(scores_of(j), dtype=np.float64), ebm.bins_[j][0]
            if column.kind == "categorical":
                by_code = [
                    scores[binning[str(code)]] if str(code) in binning else scores[-1]
                    for code in range(column.other_code + 1)  # unseen codes: its "unknown"
                ]
                copied.append(Term(np.empty(0, dtype=np.float64), np.asarray(by_code)))
            else:
                edges = np.asarray(binning, dtype=np.float64)
                copied.append(Term(edges, scores[: edges.size + 2].copy()))  # not "unknown"
        return tuple(copied)

    def bag_scores(bag: int) -> Callable[[int], NDArray[np.float64]]:
        return lambda j: np.asarray(ebm.bagged_scores_[j][bag], dtype=np.float64)

    out_of_bag = np.zeros(table.rows, dtype=np.float64)
    for bag in range(count):
        intercept = float(np.ravel(ebm.bagged_intercept_[bag])[0])
        one = Model(table.schema, directions, params, intercept, terms(bag_scores(bag)))
        held_out = bags[:, bag] < 0
        out_of_bag[held_out] += one.logits(table.features[held_out])
    out_of_bag /= params.bag_repeats
    intercept = float(np.ravel(ebm.intercept_)[0])
    return intercept, terms(lambda j: ebm.term_scores_[j]), out_of_bag


def _platt(logits: NDArray[np.float64], label: NDArray[np.int8]) -> tuple[float, float]:
    """Slope and offset mapping out-of-bag log-odds to calibrated ones (Platt scaling)."""
    platt = LogisticRegression(C=1e6).fit(logits[:, None], label)
    slope, offset = float(platt.coef_[0, 0]), float(platt.intercept_[0])
    if slope <= 0.0:
        raise BadData(
            "calibration would reverse the model's order: the data carries no signal it can use",
            code="calibration-reversed",
        )
    return slope, offset


def _check_params(params: Params) -> None:
    if params.calibration not in ("sigmoid", "none"):
        raise BadSettings(
            f"calibration is sigmoid or none, not {params.calibration!r}",
            code="calibration-unknown",
            calibration=str(params.calibration),
        )
    if params.bag_folds < 2 or params.bag_repeats < 1:  # noqa: PLR2004 - folds are 2+
        raise BadSettings(
            "bag_folds must be at least 2 and bag_repeats at least 1",
            code="fit-settings-invalid",
        )


def _directions(schema: Schema, monotone: Mapping[str, int]) -> dict[str, int]:
    kinds = {c.name: c.kind for c in schema.columns}
    for name, direction in monotone.items():
        if name not in kinds:
            raise BadSettings(
                f"monotone direction for {name!r}, which is not a feature column",
                code="monotone-not-a-feature",
                column=name,
            )
        if kinds[name] != "numeric":
            raise BadSettings(
                f"{name!r} is categorical; only numeric columns take a direction",
                code="monotone-categorical",
                column=name,
            )
        if direction not in (-1, 0, 1):
            raise BadSettings(
                f"the direction for {name!r} must be +1, -1 or 0, not {direction}",
                code="monotone-direction-invalid",
                column=name,
                direction=direction,
            )
    return {name: int(monotone.get(name, 0)) for name in schema.names if kinds[name] == "numeric"}


def _check_classes(label: NDArray[np.int8], needed: int, purpose: str) -> None:
    counts = np.bincount(label, minlength=2)
    if int(counts.min()) < needed:
        raise BadData(
            f"{purpose} needs at least {needed} rows of each outcome; there are"
            f" {int(counts[1])} positive and {int(counts[0])} negative",
            code="outcome-rows-too-few",
            needed=needed,
            positives=int(counts[1]),
            negatives=int(counts[0]),
        )
