"""Scoring: merchant risk indicators, features, the model and A to E grades (issue 4).

Framework-free: imports neither ``app`` nor ``litestar``, nor the other domain packages.
"""

from scoring.dataset import write_synthetic
from scoring.errors import BadData, BadSettings, CannotWrite, ModelFileRefused, ScoringError
from scoring.features import FEATURES, MONOTONE, features_at, overrides_at
from scoring.grades import COLOURS, CUT_POINTS, GRADES, CutPoints, Grade, Override, grade
from scoring.indicators import CATALOGUE, Indicator, Source
from scoring.metrics import CalibrationBin, Metrics, evaluate
from scoring.model import CrossValidation, Model, Params, Trained, cross_validate, fit, train
from scoring.store import SavedModel, load, save
from scoring.synth import Synthetic, generate
from scoring.table import Column, Schema, Table, read_scored_table, read_table

__all__ = [
    "CATALOGUE",
    "COLOURS",
    "CUT_POINTS",
    "FEATURES",
    "GRADES",
    "MONOTONE",
    "BadData",
    "BadSettings",
    "CalibrationBin",
    "CannotWrite",
    "Column",
    "CrossValidation",
    "CutPoints",
    "Grade",
    "Indicator",
    "Metrics",
    "Model",
    "ModelFileRefused",
    "Override",
    "Params",
    "SavedModel",
    "Schema",
    "ScoringError",
    "Source",
    "Synthetic",
    "Table",
    "Trained",
    "cross_validate",
    "evaluate",
    "features_at",
    "fit",
    "generate",
    "grade",
    "load",
    "overrides_at",
    "read_scored_table",
    "read_table",
    "save",
    "train",
    "write_synthetic",
]
