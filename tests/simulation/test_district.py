"""The short district simulation: 120 days of a small district, every day checked.

The long run (``pguard simulate --days 400 --seed 1``, 200 merchants) is a command, not a
test; this one runs on every change. A broken day fails with its seed and day, which replay it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from app.db import async_url
from app.simulation.run import simulate
from app.simulation.state import SimulationBroke

if TYPE_CHECKING:
    from tests.conftest import Databases

DAYS = 120
SEED = 1
"""A seed whose 120 days take every path asserted below. Which seed does depends on the
model (grades decide which shops may sell): when the model changes, the paths may move."""


@pytest.mark.slow
async def test_a_small_district_lives_120_days_and_every_day_holds(databases: Databases) -> None:
    url = async_url(databases.create())
    try:
        summary = await simulate(url, days=DAYS, seed=SEED, merchants=6, consumers=60)
    except SimulationBroke as broke:
        pytest.fail(
            f"the simulation broke: {broke} (replay: pguard simulate --days {broke.day + 1}"
            f" --seed {SEED} --merchants 6 --consumers 60)"
        )
    assert summary.days == DAYS
    # every path a refund can take was taken, and all of it reached consumers
    assert summary.operations.get("cooling-off refunds", 0) > 0
    assert summary.operations.get("accepted refund requests", 0) > 0
    assert summary.operations.get("dispute decisions (partial)", 0) > 0
    assert set(summary.refunds_by_path) == {"merchant", "netting", "insurer"}
    assert all(fen > 0 for fen in summary.refunds_by_path.values())
    # the fates played out: a default, the exit path, hard stops, statements
    assert summary.operations.get("defaults", 0) >= 1
    assert summary.operations.get("claims paid", 0) >= 1
    assert summary.warnings.get("exit-pattern", 0) >= 1
    assert summary.warnings.get("hard-override", 0) >= 1
    assert summary.operations.get("custody statements", 0) >= DAYS // 14  # weeks with movements
    assert summary.warnings.get("custody-shortfall", 0) >= 1  # a short one among them
    assert summary.grade_changes > 0
    assert summary.checks > DAYS
