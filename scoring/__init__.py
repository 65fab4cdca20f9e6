"""Scoring: merchant risk indicators, features, the model and A to E grades (issue 4).

Framework-free: imports neither ``app`` nor ``litestar``, nor the other domain packages.
"""

from scoring.dataset import write_synthetic
from scoring.drift import ACT, INVESTIGATE, Bin, DriftReport, Psi, drift_report, psi
from scoring.errors import BadData, BadSettings, CannotWrite, ModelFileRefused, ScoringError
from scoring.features import FEATURES, MONOTONE, exit_pattern, features_at, overrides_at
from scoring.grades import (
    COLOURS,
    CUT_POINTS,
    GRADES,
    STOPS_SALES,
    CutPoints,
    Grade,
    Override,
    grade,
)
from scoring.indicators import CATALOGUE, Indicator, Source
from scoring.metrics import CalibrationBin, Metrics, evaluate
from scoring.model import CrossValidation, Model, Params, Trained, cross_validate, fit, train
from scoring.rating import TOP_REASONS, Rater, Rating, Reason
from scoring.store import SavedModel, dumps, load, loads, save
from scoring.synth import Synthetic, generate
from scoring.table import (
    Column,
    Schema,
    Table,
    read_scored_table,
    read_table,
    reference_row,
    table_from_features,
)

__all__ = [
    "ACT",
    "CATALOGUE",
    "COLOURS",
    "CUT_POINTS",
    "FEATURES",
    "GRADES",
    "INVESTIGATE",
    "MONOTONE",
    "STOPS_SALES",
    "TOP_REASONS",
    "BadData",
    "BadSettings",
    "Bin",
    "CalibrationBin",
    "CannotWrite",
    "Column",
    "CrossValidation",
    "CutPoints",
    "DriftReport",
    "Grade",
    "Indicator",
    "Metrics",
    "Model",
    "ModelFileRefused",
    "Override",
    "Params",
    "Psi",
    "Rater",
    "Rating",
    "Reason",
    "SavedModel",
    "Schema",
    "ScoringError",
    "Source",
    "Synthetic",
    "Table",
    "Trained",
    "cross_validate",
    "drift_report",
    "dumps",
    "evaluate",
    "exit_pattern",
    "features_at",
    "fit",
    "generate",
    "grade",
    "load",
    "loads",
    "overrides_at",
    "psi",
    "read_scored_table",
    "read_table",
    "reference_row",
    "save",
    "table_from_features",
    "train",
    "write_synthetic",
]
