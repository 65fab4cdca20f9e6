"""The model: one-hot categoricals, gradient boosting with declared monotone directions, calibrated.

The estimator is a scikit-learn pipeline::

    ColumnTransformer(numeric: passthrough, categorical codes: one-hot)
      -> HistGradientBoostingClassifier(monotonic_cst=...)
    wrapped in CalibratedClassifierCV (isotonic by default)

so ``predict`` returns a calibrated probability of the positive (bad) outcome. A declared
direction of ``+1`` on a column means more of it never lowers that probability: the boosted
trees are constrained that way, and isotonic calibration (increasing, averaged over folds)
keeps the order. Categorical columns cannot carry a direction. Everything that draws random
numbers takes the one seed, so the same data and seed give the same probabilities.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from threadpoolctl import threadpool_limits

from scoring.errors import BadData, BadSettings
from scoring.metrics import Metrics, evaluate
from scoring.table import reference_row

if TYPE_CHECKING:
    from collections.abc import Mapping

    from numpy.typing import NDArray

    from scoring.table import ReferenceValue, Schema, Table

SMALL_DATA_ROWS = 50_000
"""Below this many rows one thread is faster: starting OpenMP threads costs more than it saves."""


@dataclass(frozen=True)
class Params:
    """Fitting settings; small on purpose: 1,000 rows fit in well under a second on one core."""

    seed: int = 0
    max_iter: int = 80
    learning_rate: float = 0.1
    max_leaf_nodes: int = 8
    min_samples_leaf: int = 20
    l2_regularization: float = 1.0
    calibration: Literal["isotonic", "sigmoid"] = "isotonic"
    calibration_folds: int = 3

    def to_dict(self) -> dict[str, object]:
        """Plain data for the model file's manifest."""
        return asdict(self)


@dataclass(frozen=True)
class Model:
    """A fitted estimator with the schema it reads and the settings it was fitted with."""

    estimator: CalibratedClassifierCV
    schema: Schema
    monotone: dict[str, int]
    params: Params

    def predict(self, table: Table) -> NDArray[np.float64]:
        """Calibrated probability of the positive outcome for each row of ``table``."""
        if table.schema.columns != self.schema.columns:
            raise BadData(
                "the table was not read with this model's schema", code="table-schema-mismatch"
            )
        classes = list(self.estimator.classes_)
        with _threads(table.rows):
            proba: NDArray[np.float64] = self.estimator.predict_proba(table.features)
        return np.asarray(proba[:, classes.index(1)], dtype=np.float64)


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
    """Fit and calibrate on the whole table.

    ``monotone`` maps numeric column names to ``+1`` (more is riskier), ``-1`` (more is safer)
    or ``0`` (no constraint); columns not named are unconstrained.
    """
    directions = _directions(table.schema, monotone or {})
    _check_classes(table.label, params.calibration_folds, "fitting with calibration")
    estimator = _estimator(table.schema, directions, params)
    with _threads(table.rows):
        estimator.fit(table.features, table.label)
    return Model(estimator, table.schema, directions, params)


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
    if smallest_training < params.calibration_folds:
        raise BadData(
            f"too few rows of one outcome for {folds}-fold cross-validation with calibration",
            code="folds-too-few-rows",
            folds=folds,
        )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=params.seed)
    probabilities = np.empty(table.rows, dtype=np.float64)
    fold_aucs = []
    for train, test in splitter.split(table.features, table.label):
        model = fit(table.subset(train), monotone=monotone, params=params)
        held_out = table.subset(test)
        probabilities[test] = model.predict(held_out)
        fold_aucs.append(evaluate(held_out.label, probabilities[test]).auc)
    return CrossValidation(probabilities, evaluate(table.label, probabilities), tuple(fold_aucs))


def _threads(rows: int) -> threadpool_limits | nullcontext[None]:
    return (
        threadpool_limits(limits=1, user_api="openmp") if rows < SMALL_DATA_ROWS else nullcontext()
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


def _estimator(
    schema: Schema, directions: dict[str, int], params: Params
) -> CalibratedClassifierCV:
    numeric = [i for i, c in enumerate(schema.columns) if c.kind == "numeric"]
    categorical = [i for i, c in enumerate(schema.columns) if c.kind == "categorical"]
    # Every code a categorical can take, including "missing" and "other": the one-hot width is
    # fixed by the schema, not by whichever values a fold happens to contain.
    categories = [list(range(schema.columns[i].other_code + 1)) for i in categorical]
    encode = ColumnTransformer(
        [
            ("numeric", "passthrough", numeric),
            (
                "categorical",
                OneHotEncoder(categories=categories, sparse_output=False, dtype=np.float64),
                categorical,
            ),
        ],
        sparse_threshold=0.0,
    )
    # The transformer puts numeric columns first, in order, then the one-hot columns.
    constraints = [directions[schema.columns[i].name] for i in numeric]
    constraints += [0] * sum(len(c) for c in categories)
    boost = HistGradientBoostingClassifier(
        max_iter=params.max_iter,
        learning_rate=params.learning_rate,
        max_leaf_nodes=params.max_leaf_nodes,
        min_samples_leaf=params.min_samples_leaf,
        l2_regularization=params.l2_regularization,
        monotonic_cst=constraints,
        early_stopping=False,
        random_state=params.seed,
    )
    pipeline: Any = Pipeline([("encode", encode), ("boost", boost)])
    return CalibratedClassifierCV(
        pipeline,
        method=params.calibration,
        cv=StratifiedKFold(
            n_splits=params.calibration_folds, shuffle=True, random_state=params.seed
        ),
        ensemble=True,
    )
