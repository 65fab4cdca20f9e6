"""``pguard scoring``: the last line scripts read, and bad input refused without a traceback."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from app.cli import main
from app.settings import PROJECT_ROOT
from tests.unit.scoring_data import GERMAN_CREDIT, synthetic

LAST_LINE = re.compile(r"auc=0\.\d{3} ks=0\.\d{3} brier=0\.\d{3}")


def test_cv_on_german_credit_as_a_process_ends_with_the_figures_line() -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "app.cli", "scoring", "cv", "--csv", str(GERMAN_CREDIT),
            "--label", "creditability", "--positive", "bad", "--folds", "5",
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    last = done.stdout.splitlines()[-1]
    print(last)  # noqa: T201 - the figure is reported when the issue is resolved
    assert LAST_LINE.fullmatch(last)
    assert float(last.split()[0].removeprefix("auc=")) >= 0.75
    assert "calibration" in done.stdout


def _pguard(*args: object):
    return CliRunner().invoke(main, ["scoring", *map(str, args)])


def test_train_then_evaluate(tmp_path) -> None:
    data = synthetic(tmp_path / "s.csv")
    model = tmp_path / "m.pgm"
    trained = _pguard(
        "train", "--csv", data, "--label", "defaulted", "--positive", "yes", "--out", model,
        "--folds", 3, "--monotone", "tax_arrears=+1",
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    assert f"saved to {model}" in trained.output
    assert LAST_LINE.fullmatch(trained.output.splitlines()[-1])
    evaluated = _pguard(
        "evaluate", "--csv", data, "--label", "defaulted", "--positive", "yes", "--model", model
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert LAST_LINE.fullmatch(evaluated.output.splitlines()[-1])
    foreign = _pguard("evaluate", "--csv", data, "--label", "defaulted", "--model", data)
    assert foreign.exit_code == 1
    assert "not a Prepaid Guard model file" in foreign.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--csv", "absent.csv", "--label", "x"], "no such file"),
        (["--csv", GERMAN_CREDIT, "--label", "nope"], "no label column 'nope'"),
        (["--csv", GERMAN_CREDIT, "--label", "creditability", "--positive", "x"], "never occurs"),
        (["--csv", GERMAN_CREDIT, "--label", "creditability"], "--positive"),
        (["--csv", sys.executable, "--label", "x"], "binary file"),
        (["--csv", GERMAN_CREDIT, "--label", "creditability", "--positive", "bad", "--folds", 1],
         "at least 2"),
    ],
)  # fmt: skip
def test_bad_input_exits_non_zero_with_a_message(args, message) -> None:
    done = _pguard("cv", *args)
    assert done.exit_code == 1
    assert isinstance(done.exception, SystemExit)
    assert message in done.output
    assert "Traceback" not in done.output


def test_single_class_label_refused(tmp_path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("a,bad\n1,yes\n2,yes\n")
    done = _pguard("cv", "--csv", path, "--label", "bad", "--positive", "yes")
    assert done.exit_code == 1
    assert "only one value" in done.output


def test_the_import_command_offers_every_source() -> None:
    """The CLI spells the sources out (it starts without loading scikit-learn); keep them equal."""
    from app.risk.commands import SOURCES  # noqa: PLC0415
    from scoring import Source  # noqa: PLC0415

    assert tuple(source.value for source in Source) == SOURCES
