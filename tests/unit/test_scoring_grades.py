"""Grades A to E: monotone in probability, versioned, floored by named hard overrides."""

from __future__ import annotations

import pytest

from scoring import COLOURS, CUT_POINTS, GRADES, BadSettings, CutPoints, Override, grade


def test_cut_points_map_probability_to_grades_monotonically() -> None:
    probabilities = [i / 1000 for i in range(1001)]
    grades = [GRADES.index(grade(p).grade) for p in probabilities]
    assert grades == sorted(grades)
    assert grade(0.0).grade == "A"
    assert grade(1.0).grade == "E"
    assert {grade(p).grade for p in probabilities} == set(GRADES)
    lower, *_ = CUT_POINTS.bounds
    assert grade(lower - 1e-9).grade == "A"
    assert grade(lower).grade == "B"


def test_grades_carry_colours_green_to_red_and_the_cut_points_version() -> None:
    result = grade(0.5)
    assert result.colour == COLOURS["E"] == "#d73027"
    assert COLOURS["A"] == "#13773e"
    assert result.cut_points_version == CUT_POINTS.version
    other = CutPoints("test-1", (0.1, 0.2, 0.3, 0.4))
    assert grade(0.15, cut_points=other).grade == "B"
    assert grade(0.15, cut_points=other).cut_points_version == "test-1"


@pytest.mark.parametrize(
    ("override", "floor"),
    [
        (Override.DISHONEST_DEBTOR, "E"),
        (Override.LICENCE_REVOKED, "E"),
        (Override.DEREGISTRATION_FILED, "E"),
        (Override.ABNORMAL_OPERATIONS, "D"),
        (Override.EXIT_PATTERN, "D"),
    ],
)
def test_override_floors_the_grade_and_is_named(override: Override, floor: str) -> None:
    result = grade(0.01, [override])
    assert result.model_grade == "A"
    assert result.grade == floor
    assert result.overrides == (override,)
    assert result.reasons == (override.reason,)
    assert result.colour == COLOURS[floor]


def test_override_never_improves_a_worse_grade() -> None:
    result = grade(0.9, [Override.DISHONEST_DEBTOR])
    assert (result.model_grade, result.grade) == ("E", "E")
    assert result.overrides == (Override.DISHONEST_DEBTOR,)


def test_several_overrides_take_the_worst_floor_and_name_each_once() -> None:
    result = grade(
        0.01, ["deregistration-filed", Override.DISHONEST_DEBTOR, Override.DISHONEST_DEBTOR]
    )
    assert result.grade == "E"
    assert result.overrides == (Override.DISHONEST_DEBTOR, Override.DEREGISTRATION_FILED)
    assert "失信" in result.reasons[0]
    assert grade(0.01).overrides == ()


def test_bad_cut_points_and_probabilities_refused() -> None:
    with pytest.raises(BadSettings):
        CutPoints("v", (0.2, 0.1, 0.3, 0.4))
    with pytest.raises(BadSettings):
        CutPoints("v", (0.0, 0.1, 0.3, 0.4))
    with pytest.raises(BadSettings):
        CutPoints("", (0.1, 0.2, 0.3, 0.4))
    for p in (-0.1, 1.1, float("nan")):
        with pytest.raises(BadSettings):
            grade(p)
    with pytest.raises(ValueError, match="not-a-fact"):
        grade(0.1, ["not-a-fact"])
