"""The live model of the demo and the simulation, trained as ``pguard scoring train`` trains one."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import scoring as sc
from scoring.dataset import LABEL, POSITIVE, training_rows


def train_model(seed: int) -> bytes:
    """A live model fitted on ``generate(2000, seed)``, as ``pguard scoring train`` saves it."""
    header, rows = training_rows(sc.generate(2000, seed))
    with tempfile.TemporaryDirectory(prefix="pguard-demo-") as folder:
        path = Path(folder) / "training.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        table = sc.read_table(path, label=LABEL, positive=POSITIVE)
    trained = sc.train(table, folds=0, monotone=dict(sc.MONOTONE), params=sc.Params(seed=seed))
    data, _ = sc.dumps(
        trained.model,
        training=table.summary(),
        metrics=trained.metrics(),
        reference=trained.reference,
    )
    return data
