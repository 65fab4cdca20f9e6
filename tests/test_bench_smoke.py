"""Every benchmark runs once, tiny, so that none can rot: its figures are printed, not judged.

The real runs are ``make bench`` (or each script with its defaults); see the README.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import _server_url

BENCH = Path(__file__).resolve().parents[1] / "bench"
SMOKE = {
    "ledger.py": ["--seconds", "0.3", "--workers", "1"],
    "http.py": ["--seconds", "0.5", "--clients", "1"],
    "scoring.py": [
        "--merchants", "300", "--templates", "60", "--live", "3", "--poll", "0.05",
        "--batch", "100", "--no-breakdown",
    ],
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(SMOKE))
def test_the_benchmark_runs_and_prints_its_figures(script: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *SMOKE[script], "--database-url", _server_url()],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert any(ch.isdigit() for ch in done.stdout), done.stdout
