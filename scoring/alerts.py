"""When a change is news for the regulator: the tests the warning rules apply, pure.

The application raises the warnings (once per cause) and reads the thresholds from its
settings; these functions only decide.
"""

from __future__ import annotations

from scoring.grades import GRADES

ALARMING = ("D", "E")
"""Grades that are news whatever the grade before."""
STEEP_DROP = 2
"""A fall by this many grades or more is news even above D."""


def grade_fell(before: str | None, after: str) -> bool:
    """Whether a grade change deserves a warning.

    A first rating at D or E; a fall to D or E; a fall by two grades or more. A rise, or a
    grade outside A to E (not rated), never does.
    """
    if after not in GRADES or (before is not None and before not in GRADES):
        return False
    if before is None:
        return after in ALARMING
    drop = GRADES.index(after) - GRADES.index(before)
    return drop > 0 and (after in ALARMING or drop >= STEEP_DROP)


def complaint_surge(last_7: int, weekly_baseline: float, *, minimum: int, factor: float) -> bool:
    """Complaints of the last 7 days far above the merchant's own weekly baseline.

    At least ``minimum`` complaints, and at least ``factor`` times the baseline (a baseline
    under one complaint a week counts as one, so a quiet merchant needs ``factor`` of them).
    """
    return last_7 >= minimum and last_7 >= factor * max(weekly_baseline, 1.0)
