"""The probability chart: well-formed SVG, one point per grade change and the current rating,
the grade bands from the cut points, and every text escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from app.pages import charts
from app.pages.charts import Point, probability_chart
from scoring import COLOURS, CUT_POINTS, GRADES, CutPoints

SVG = "{http://www.w3.org/2000/svg}"
START = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314 - our own output, parsed to prove it is well formed
    assert root.tag == f"{SVG}svg"
    return root


def points_of(root: ET.Element) -> list[ET.Element]:
    return [c for c in root.iter(f"{SVG}circle") if "point" in c.get("class", "").split()]


def bands_of(root: ET.Element) -> dict[str, ET.Element]:
    return {
        r.get("data-grade", ""): r
        for r in root.iter(f"{SVG}rect")
        if "band" in r.get("class", "").split()
    }


def history(*probabilities: float) -> list[Point]:
    grades = [CUT_POINTS.grade(p) for p in probabilities]
    changes = [
        Point(START + timedelta(days=10 * i), p, g, note=f"cause {i}")
        for i, (p, g) in enumerate(zip(probabilities, grades, strict=True))
    ]
    last = probabilities[-1]
    return [*changes, Point(START + timedelta(days=45), last, grades[-1], current=True)]


def test_one_point_per_change_plus_the_current_rating() -> None:
    points = history(0.03, 0.12, 0.41)
    root = parse(probability_chart(points, label="违约概率"))
    drawn = points_of(root)
    assert len(drawn) == len(points) == 4
    assert [c.get("data-grade") for c in drawn] == ["A", "C", "E", "E"]
    assert [c.get("class") for c in drawn].count("point current") == 1
    assert [c.get("fill") for c in drawn[:3]] == [COLOURS["A"], COLOURS["C"], COLOURS["E"]]
    (line,) = root.iter(f"{SVG}polyline")
    assert len(line.get("points", "").split()) == 4
    assert root.get("aria-label") == "违约概率"
    assert root.findtext(f"{SVG}title") == "违约概率"


def test_later_points_are_further_right_and_riskier_points_higher() -> None:
    root = parse(probability_chart(history(0.03, 0.12, 0.41), label="p"))
    xs = [float(c.get("cx", "0")) for c in points_of(root)]
    ys = [float(c.get("cy", "0")) for c in points_of(root)]
    assert xs == sorted(xs)
    assert xs[0] < xs[-1]
    assert ys[0] > ys[1] > ys[2]  # SVG's y grows downwards


def test_every_band_is_shaded_in_its_grade_colour_between_the_cut_points() -> None:
    root = parse(probability_chart(history(0.2), label="p"))
    bands = bands_of(root)
    assert list(bands) == list(GRADES)
    for grade, band in bands.items():
        assert band.get("fill") == COLOURS[grade]
    heights = {float(b.get("height", "0")) for b in bands.values()}
    assert len(heights) == 1  # each grade one equal slice of the axis
    tops = [float(b.get("y", "0")) for b in bands.values()]
    assert tops == sorted(tops, reverse=True)  # A at the bottom, E on top
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "band-label"]
    assert labels == list(GRADES)
    ticks = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "tick-label"]
    assert ticks == ["0%", "5%", "10%", "20%", "35%", "100%"]


def test_each_point_sits_in_the_band_of_its_probability() -> None:
    probabilities = (0.0, 0.049, 0.05, 0.15, 0.34, 0.35, 0.8, 1.0)
    points = [
        Point(START + timedelta(days=i), p, CUT_POINTS.grade(p))
        for i, p in enumerate(probabilities)
    ]
    root = parse(probability_chart(points, label="p"))
    bands = bands_of(root)
    for circle in points_of(root):
        band = bands[circle.get("data-grade", "")]
        top = float(band.get("y", "0"))
        bottom = top + float(band.get("height", "0"))
        assert top - 0.1 <= float(circle.get("cy", "0")) <= bottom + 0.1
    ys = [float(c.get("cy", "0")) for c in points_of(root)]
    assert ys == sorted(ys, reverse=True)


def test_bands_follow_other_cut_points() -> None:
    custom = CutPoints("test", (0.01, 0.02, 0.03, 0.04))
    root = parse(probability_chart(history(0.025), label="p", cut_points=custom))
    assert set(bands_of(root)) == set(GRADES)
    ticks = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "tick-label"]
    assert ticks == ["0%", "1%", "2%", "3%", "4%", "100%"]
    (current,) = [c for c in points_of(root) if "current" in c.get("class", "")]
    c_band = bands_of(root)["C"]
    top = float(c_band.get("y", "0"))
    assert top < float(current.get("cy", "0")) < top + float(c_band.get("height", "0"))


def test_a_single_point_stands_in_the_middle_and_no_points_say_so() -> None:
    one = parse(probability_chart([Point(START, 0.07, "B", current=True)], label="p"))
    (only,) = points_of(one)
    middle = charts.LEFT + (charts.WIDTH - charts.LEFT - charts.RIGHT) / 2
    assert abs(float(only.get("cx", "0")) - middle) < 1
    empty = parse(probability_chart([], label="p", empty="尚无评级"))
    assert points_of(empty) == []
    assert [t.text for t in empty.iter(f"{SVG}text") if t.get("class") == "empty"] == ["尚无评级"]
    assert len(bands_of(empty)) == len(GRADES)


def test_text_is_escaped() -> None:
    nasty = '<script>alert("x")</script> & more'
    points = [Point(START, 0.5, "E", note=nasty), Point(START + timedelta(days=1), 0.9, "E")]
    svg = probability_chart(points, label=nasty, empty=nasty)
    assert "<script>" not in svg
    root = parse(svg)
    assert root.get("aria-label") == nasty
    tips = [c.findtext(f"{SVG}title") or "" for c in points_of(root)]
    assert tips[0].endswith(nasty)


def test_a_probability_near_one_stays_inside_the_chart() -> None:
    root = parse(probability_chart(history(0.999), label="p"))
    height = float(root.get("viewBox", "0 0 0 0").split()[3])
    for circle in points_of(root):
        assert 0 <= float(circle.get("cy", "-1")) <= height


# a card's balance ----------------------------------------------------------------------------


def test_a_cards_balance_steps_down_at_each_redemption() -> None:
    steps = [
        charts.Step(START, 50_000, "购卡"),
        charts.Step(START + timedelta(days=3), 40_000, "核销"),
        charts.Step(START + timedelta(days=9), 25_000, "核销"),
    ]
    root = parse(charts.balance_chart(list(reversed(steps)), label="余额", lang="zh"))
    circles = [c for c in root.iter(f"{SVG}circle") if c.get("class") == "point"]
    assert [int(c.get("data-fen", "")) for c in circles] == [50_000, 40_000, 25_000]
    xs = [float(c.get("cx", "")) for c in circles]
    ys = [float(c.get("cy", "")) for c in circles]
    assert xs == sorted(xs)
    assert xs[0] == charts.LEFT
    assert ys == sorted(ys)  # less money, lower on the chart (SVG y grows downwards)
    assert ys[0] == charts.TOP  # the highest balance at the top
    line = next(root.iter(f"{SVG}polyline")).get("points", "").split()
    # flat until the next entry, then straight down: each step is two points at one x
    pairs = [tuple(map(float, p.split(","))) for p in line]
    assert pairs[1][1] == pairs[0][1]
    assert pairs[1][0] == pairs[2][0]
    ticks = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "tick"]
    assert ticks == ["¥0.00", "¥500.00"]
    tips = [c.find(f"{SVG}title") for c in circles]
    assert tips[1] is not None
    assert tips[1].text == "2026年1月8日 · ¥400.00 · 核销"


def test_a_card_with_no_entries_draws_an_empty_axis() -> None:
    root = parse(charts.balance_chart([], label="<余额>", lang="en"))
    assert root.get("aria-label") == "<余额>"
    assert not list(root.iter(f"{SVG}circle"))


def test_bars_share_the_height_by_the_largest_and_say_their_values() -> None:
    bars = [charts.Bar("A", 4, "#13773e"), charts.Bar("E", 0, "#b3261e"), charts.Bar("<B>", 2)]
    root = parse(charts.bar_chart(bars, label="按评级", lang="zh"))
    rects = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]
    heights = [float(r.get("height", "")) for r in rects]
    assert heights[0] == 2 * heights[2]
    assert heights[1] == 1.0  # a zero is a hairline, so its label sits on something
    assert [r.get("fill") for r in rects] == ["#13773e", "#b3261e", "#0b5cad"]
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "label"]
    assert labels == ["A", "E", "<B>"]  # escaped in the SVG, read back as written
    money = parse(charts.bar_chart([charts.Bar("A", 325_604_197)], label="x", as_money=True))
    assert [t.text for t in money.iter(f"{SVG}text") if t.get("class") == "value"] == ["¥325.6万"]
    tip = next(r for r in money.iter(f"{SVG}rect") if r.get("class") == "bar").find(f"{SVG}title")
    assert tip is not None
    assert tip.text == "A · ¥3,256,041.97"  # exact where it is pointed at


def test_the_history_runs_from_onboarding_to_now_and_the_grade_holds_till_now() -> None:
    changes = history(0.03, 0.2)  # two changes 10 days apart, the current rating at day 45
    onboarded, now = START - timedelta(days=90), START + timedelta(days=120)
    root = parse(probability_chart(changes, label="x", since=onboarded, until=now))
    xs = [float(c.get("cx", "")) for c in points_of(root)]
    assert xs[0] > charts.LEFT + 100  # ninety days of no rating come first
    holds = [line for line in root.iter(f"{SVG}line") if line.get("class") == "holds"]
    assert len(holds) == 1
    assert float(holds[0].get("x1", "")) == xs[-1]
    assert float(holds[0].get("x2", "")) == charts.WIDTH - charts.RIGHT
    days = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "date"]
    assert days == ["2025年10月7日", "2026年5月5日"]
    # without them, the axis spans the points alone, as before
    bare = parse(probability_chart(changes, label="x"))
    assert float(points_of(bare)[0].get("cx", "")) == charts.LEFT
    assert not [line for line in bare.iter(f"{SVG}line") if line.get("class") == "holds"]
