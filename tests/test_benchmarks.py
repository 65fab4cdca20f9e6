"""Every benchmark runs once in its ``--smoke`` mode, so that none can rot.

Each script runs as ``make bench`` runs it, in a process of its own, on the server this test
run uses (the embedded one, or ``DATABASE_URL``'s), in a scratch database of its own. A smoke
run takes every measured path once on tiny data and checks what it wrote (the ledger
verifies, the counts agree); the test asserts that it exited 0 and printed its figures and
its checks. Its times are never asserted on: the real runs are ``make bench`` (README).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from app.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from tests.conftest import Databases

TIMEOUT_SECONDS = 300  # a smoke run takes seconds; this only stops a hung one

# What each script's output must show: its table of figures and its checks.
PRINTS = {
    "ledger.py": [
        r"SMOKE RUN",
        r"hordak  : django-hordak \d",
        r"operation +workers +escrow +own floor +plain +hordak +pgbench +/plain +/hordak +/pgbench",
        # at 1 worker every peer has a figure, hordak included (the dev extra installs it)
        r"(?m)^purchase +1( +[\d.]+){8}$",
        r"(?m)^redeem +1( +[\d.]+){8}$",
        r"(?m)^purchase +2( +[\d.]+){3} +- +[\d.]+ +[\d.]+ +- +[\d.]+$",
        r"goals \(issue 14\)",
        r"escrow\.verify over the bench database: the ledger verifies",
        r"setup and warm-ups included: agree",
        r"(?m)^checks: passed$",
    ],
    "api_load.py": [
        r"SMOKE RUN",
        r"(?m)^health +\d+ +[\d.]+",
        r"(?m)^purchase +\d+ +[\d.]+",
        r"(?m)^redeem +\d+ +[\d.]+",
        r"pguard ledger verify over the bench database: the ledger verifies",
        r"warm-ups included: agree",
        r"(?m)^checks: passed$",
    ],
    "card_transfer.py": [
        r"SMOKE RUN",
        r"(?m)^cards +batch +seconds +cards/s$",
        r"(?m)^\d+ +\d+ +[\d.]+ +\d+$",
        r"interrupted after \d+ batches, then resumed: the second run moved \d+ cards",
        r"goal \(issue 16\)",
        r"escrow\.verify over both books: the ledger verifies",
        r"(?m)^checks: passed$",
    ],
    "resolution_pack.py": [
        r"SMOKE RUN",
        r"(?m)^cards +holders +seconds +cards/s +MB$",
        r"(?m)^\d+ +\d+ +[\d.]+ +\d+ +[\d.]+$",
        r"goal \(issue 17\)",
        r"the pack checks against the published keys; \d+ cards",
        r"escrow\.verify: the ledger verifies",
        r"(?m)^checks: passed$",
    ],
    "rating_speed.py": [
        r"merchants/s +\d+",
        r"ratings rows +\d+ \(ok\)",
        r"commit -> new rating",
        r"rate\(\)",
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(PRINTS))
def test_the_benchmark_runs_in_smoke_mode_and_its_results_verify(
    script: str, databases: Databases
) -> None:
    command = [sys.executable, f"bench/{script}", "--smoke", "--database-url"]
    done = subprocess.run(
        [*command, databases.server_url],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output = f"stdout:\n{done.stdout[-4000:]}\nstderr:\n{done.stderr[-4000:]}"
    assert done.returncode == 0, output
    missing = [line for line in PRINTS[script] if not re.search(line, done.stdout)]
    assert not missing, f"not printed: {missing}\n{output}"
