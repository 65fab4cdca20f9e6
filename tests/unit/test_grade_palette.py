"""The grade badges are readable: each grade's letters on its colour meet WCAG AA (4.5:1).

The badge's colour comes from the Python palette (``scoring.COLOURS``, and grey for a merchant
not yet rated); its letters' colour from the stylesheet (``--on-A`` ...). Both are read here,
and the contrast is computed as WCAG 2 defines it. The browser tests check whole pages too,
with axe-core (``tests/browser/conftest.py:readable``).
"""

from __future__ import annotations

import re

import pytest

from app.risk.supervision import UNRATED_COLOUR
from app.settings import PROJECT_ROOT
from scoring import COLOURS, GRADES

CSS = (PROJECT_ROOT / "app" / "pages" / "static" / "app.css").read_text(encoding="utf-8")
AA = 4.5


def _variable(name: str) -> str:
    found = re.search(rf"--{re.escape(name)}:\s*(#[0-9a-fA-F]{{3,6}})\s*;", CSS)
    assert found, f"app.css defines no --{name}"
    return found.group(1)


def _rgb(colour: str) -> tuple[float, ...]:
    digits = colour.lstrip("#")
    if len(digits) == 3:  # the short form, #fff
        digits = "".join(d * 2 for d in digits)
    return tuple(int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))


def _luminance(colour: str) -> float:
    """Relative luminance, WCAG 2."""
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in _rgb(colour)]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    """Contrast ratio, WCAG 2: from 1 (the same) to 21 (black on white)."""
    light, dark = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_contrast_formula_gives_the_known_values() -> None:
    assert contrast("#000", "#fff") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast("#d73027", "#ffffff") == pytest.approx(4.84, abs=0.01)


@pytest.mark.parametrize("grade", [*GRADES, "NR"])
def test_each_grade_s_letters_are_readable_on_its_colour(grade: str) -> None:
    background = UNRATED_COLOUR if grade == "NR" else COLOURS[grade]
    assert _variable(grade).lower() == background.lower(), "app.css and the palette disagree"
    ink = _variable(f"on-{grade}")
    assert contrast(ink, background) >= AA, f"grade {grade}: {ink} on {background}"
