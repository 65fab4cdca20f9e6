"""Grades A to E from a probability of default, by versioned cut points, and hard overrides.

A grade is a band of probability: A below the first cut point, E at or above the last. Cut
points are versioned so that a stored grade always says which bands it was read from; changing
a band means a new version, never an edit. Some facts end the question whatever the model says
(a dishonest debtor 失信被执行人, a revoked licence, a filed deregistration, a place on the
abnormal operations list, the capital-cut / equity-transfer / new-representative path before a
merchant vanishes): each floors the grade, so the grade is never better than its floor, and the
result names every such reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

from scoring.errors import BadSettings

if TYPE_CHECKING:
    from collections.abc import Iterable

    from numpy.typing import NDArray

GRADES = ("A", "B", "C", "D", "E")
"""Best to worst."""

COLOURS = {
    "A": "#13773e",  # green, dark enough for white letters
    "B": "#91cf60",  # light green
    "C": "#fee08b",  # yellow
    "D": "#fc8d59",  # orange
    "E": "#d73027",  # red
}


class Override(StrEnum):
    """A hard fact that floors the grade whatever the probability."""

    DISHONEST_DEBTOR = "dishonest-debtor"
    LICENCE_REVOKED = "licence-revoked"
    DEREGISTRATION_FILED = "deregistration-filed"
    ABNORMAL_OPERATIONS = "abnormal-operations"
    EXIT_PATTERN = "exit-pattern"

    @property
    def floor(self) -> str:
        """The best grade a merchant with this fact can have."""
        return OVERRIDE_FLOORS[self]

    @property
    def reason(self) -> str:
        """What the person reading the grade is told."""
        return OVERRIDE_REASONS[self]


OVERRIDE_FLOORS = {
    # On the court's list of dishonest debtors: it does not pay judgments it owes, so it will
    # not pay back prepaid balances either.
    Override.DISHONEST_DEBTOR: "E",
    # Without a licence it may not trade: prepaid cards cannot be honoured.
    Override.LICENCE_REVOKED: "E",
    # Closing down: outstanding cards will have to be paid back.
    Override.DEREGISTRATION_FILED: "E",
    # Cannot be reached at its registered address, or stopped filing its annual report.
    Override.ABNORMAL_OPERATIONS: "D",
    # Capital cut, owners changed and a new legal representative within 180 days: the owners
    # are leaving before the shop does.
    Override.EXIT_PATTERN: "D",
}

OVERRIDE_REASONS = {
    Override.DISHONEST_DEBTOR: "listed as a dishonest debtor (失信被执行人)",
    Override.LICENCE_REVOKED: "business licence revoked (吊销营业执照)",
    Override.DEREGISTRATION_FILED: "deregistration filed (注销登记)",
    Override.ABNORMAL_OPERATIONS: "on the abnormal operations list (经营异常名录)",
    Override.EXIT_PATTERN: (
        "capital reduction, equity transfer and a new legal representative within 180 days"
        " (减资、股权转让、法人变更)"
    ),
}

STOPS_SALES = frozenset({Override.LICENCE_REVOKED, Override.DEREGISTRATION_FILED})
"""Facts after which the merchant may not sell a card at all, whatever a regulator's grade
actions say: without a licence, or while deregistering, it cannot honour one."""


@dataclass(frozen=True)
class CutPoints:
    """Four increasing probabilities splitting [0, 1] into grades A to E, with a version."""

    version: str
    bounds: tuple[float, float, float, float]

    def __post_init__(self) -> None:
        """Refuse cut points that would make the bands overlap or leave [0, 1]."""
        if not self.version:
            raise BadSettings("cut points need a version", code="cut-points-no-version")
        if len(self.bounds) != len(GRADES) - 1:
            raise BadSettings(
                f"cut points need {len(GRADES) - 1} bounds, not {len(self.bounds)}",
                code="cut-points-count",
                needed=len(GRADES) - 1,
                given=len(self.bounds),
            )
        if not all(0.0 < b < 1.0 for b in self.bounds) or list(self.bounds) != sorted(
            set(self.bounds)
        ):
            raise BadSettings(
                "cut points must be strictly increasing, between 0 and 1", code="cut-points-order"
            )

    def grade(self, probability: float) -> str:
        """The grade of a probability: the number of bounds at or below it picks the band."""
        if not (math.isfinite(probability) and 0.0 <= probability <= 1.0):
            raise BadSettings(
                f"a probability is between 0 and 1, not {probability}",
                code="probability-out-of-range",
                probability=probability,
            )
        return GRADES[int(self.bands(np.array([probability]))[0])]

    def bands(self, probabilities: NDArray[np.float64]) -> NDArray[np.intp]:
        """Each probability's grade as an index into :data:`GRADES` (bounds at or below it).

        For a batch already known to be probabilities; :meth:`grade` checks one first.
        """
        return np.searchsorted(np.asarray(self.bounds), probabilities, side="right")


CUT_POINTS = CutPoints("2025.1", (0.05, 0.10, 0.20, 0.35))
"""The cut points in force. Version 2025.1: A < 5% <= B < 10% <= C < 20% <= D < 35% <= E."""


@dataclass(frozen=True)
class Grade:
    """A graded probability: the grade, its colour, what the model alone said, and why if not."""

    grade: str
    colour: str
    probability: float
    model_grade: str
    overrides: tuple[Override, ...]
    cut_points_version: str

    @property
    def reasons(self) -> tuple[str, ...]:
        """Each hard override that applies, named for a person."""
        return tuple(o.reason for o in self.overrides)


def floor_band(overrides: Iterable[Override]) -> int:
    """The best grade ``overrides`` leave, as an index into :data:`GRADES` (0: no floor)."""
    return max((GRADES.index(o.floor) for o in overrides), default=0)


def grade(
    probability: float, overrides: Iterable[Override] = (), cut_points: CutPoints = CUT_POINTS
) -> Grade:
    """Grade a probability of default, floored by every hard override that applies.

    Pure: the same probability, overrides and cut points always give the same grade.
    """
    model_grade = cut_points.grade(probability)
    applied = tuple(sorted(set(map(Override, overrides)), key=lambda o: list(Override).index(o)))
    final = GRADES[max(GRADES.index(model_grade), floor_band(applied))]
    return Grade(
        grade=final,
        colour=COLOURS[final],
        probability=probability,
        model_grade=model_grade,
        overrides=applied,
        cut_points_version=cut_points.version,
    )
