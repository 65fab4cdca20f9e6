"""Scoring: merchant risk indicators, features, the model and A to E grades (issue 4).

Framework-free: imports neither ``app`` nor ``litestar``, nor the other domain packages.
"""

from scoring.errors import BadData, BadSettings, ModelFileRefused, ScoringError
from scoring.grades import COLOURS, CUT_POINTS, GRADES, CutPoints, Grade, Override, grade
from scoring.metrics import CalibrationBin, Metrics, evaluate
from scoring.model import CrossValidation, Model, Params, Trained, cross_validate, fit, train
from scoring.store import SavedModel, load, save
from scoring.table import Column, Schema, Table, read_scored_table, read_table

__all__ = [
    "COLOURS",
    "CUT_POINTS",
    "GRADES",
    "BadData",
    "BadSettings",
    "CalibrationBin",
    "Column",
    "CrossValidation",
    "CutPoints",
    "Grade",
    "Metrics",
    "Model",
    "ModelFileRefused",
    "Override",
    "Params",
    "SavedModel",
    "Schema",
    "ScoringError",
    "Table",
    "Trained",
    "cross_validate",
    "evaluate",
    "fit",
    "grade",
    "load",
    "read_scored_table",
    "read_table",
    "save",
    "train",
]
