"""Charts drawn on the server as SVG: no script, no library, readable without either.

:func:`probability_chart` draws a merchant's probability of default over time, one point per
grade change and one for the current rating, over the grade bands A to E shaded in the grade
colours. Every piece of text in it is escaped, so a cause or a label can hold anything; days
are written in the page's language (:func:`app.i18n.day`).

The probability axis gives each grade band the same height and is linear inside a band, with
a tick at every cut point. On a plain linear axis the bands that matter most (A at 0-5%, B at
5-10%) would be slivers under an E band filling two thirds of the chart, and a merchant moving
from 2% to 4% would draw a flat line.

:func:`balance_chart` draws a card's balance over time, a step at each entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from itertools import pairwise
from typing import TYPE_CHECKING

from app.clock import today
from app.i18n import DEFAULT_LANG, day, money, money_short, number, probability
from scoring import COLOURS, CUT_POINTS, GRADES

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    from scoring import CutPoints

WIDTH = 440
HEIGHT = 250
LEFT, RIGHT, TOP, BOTTOM = 44, 22, 10, 28
"""Room for the probability axis (left), the band letters (right) and the dates (below)."""


@dataclass(frozen=True)
class Point:
    """The probability at one moment: a grade change, or the current rating."""

    at: datetime
    probability: float
    grade: str
    note: str = ""
    """Shown when the point is pointed at (a grade change's cause)."""
    current: bool = False


def _q(value: object) -> str:
    """An attribute value or text, escaped for XML."""
    return escape(str(value), quote=True)


def _n(value: float) -> str:
    return f"{value:.1f}"


def _day(at: datetime, lang: str) -> str:
    """The Shanghai calendar day of a moment, as ``lang`` writes a day."""
    return day(today(at), lang)


def _tick(probability: float) -> str:
    return f"{probability * 100:.1f}".rstrip("0").rstrip(".") + "%"


@dataclass(frozen=True)
class _Frame:
    """Where probabilities land on the drawing: each grade band one equal slice of the height."""

    edges: tuple[float, ...]
    """0, the cut points, 1: the bands' bounds from A up to E."""
    inner_w: float = WIDTH - LEFT - RIGHT
    inner_h: float = HEIGHT - TOP - BOTTOM

    @property
    def band_h(self) -> float:
        return self.inner_h / (len(self.edges) - 1)

    def y(self, probability: float) -> float:
        p = min(max(probability, 0.0), 1.0)
        for band, (low, high) in enumerate(pairwise(self.edges)):
            if p < high or band == len(self.edges) - 2:
                share = (p - low) / (high - low) if high > low else 0.0
                return TOP + self.inner_h - self.band_h * (band + min(share, 1.0))
        return TOP  # pragma: no cover - the last band catches everything


def _backdrop(frame: _Frame) -> list[str]:
    """The grade bands with their letters, the probability grid and the plot's border."""
    parts: list[str] = []
    for band, grade in enumerate(GRADES):
        y_low = frame.y(frame.edges[band])
        y_top = y_low - frame.band_h
        parts.append(
            f'<rect class="band band-{grade}" data-grade="{grade}" x="{LEFT}" y="{_n(y_top)}"'
            f' width="{frame.inner_w}" height="{_n(frame.band_h)}" fill="{COLOURS[grade]}"'
            ' fill-opacity="0.28"/>'
        )
        label_y = _n(y_low - frame.band_h / 2 + 4)
        parts.append(
            f'<text class="band-label" x="{WIDTH - RIGHT + 6}" y="{label_y}"'
            f' font-size="14" font-weight="700" fill="#1d2430">{grade}</text>'
        )
    for tick in frame.edges:
        at = _n(frame.y(tick))
        parts.append(
            f'<line class="tick" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{at}" y2="{at}"'
            ' stroke="#1d2430" stroke-opacity="0.12"/>'
        )
        parts.append(
            f'<text class="tick-label" x="{LEFT - 6}" y="{_n(frame.y(tick) + 4)}" font-size="13"'
            f' text-anchor="end" fill="#5b6576">{_tick(tick)}</text>'
        )
    parts.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{frame.inner_w}" height="{frame.inner_h}"'
        ' fill="none" stroke="#dde2ea"/>'
    )
    return parts


INNER_W = WIDTH - LEFT - RIGHT
"""The width the time axis of every chart here runs across."""


def _time_axis(start: datetime, end: datetime) -> Callable[[datetime], float]:
    """Where a moment falls on a time axis from ``start`` to ``end``.

    A single moment stands in the middle.
    """
    span = (end - start).total_seconds()

    def x(at: datetime) -> float:
        if span <= 0:
            return LEFT + INNER_W / 2
        return LEFT + INNER_W * (at - start).total_seconds() / span

    return x


def _day_mark(at: datetime, x: float, anchor: str, lang: str) -> str:
    baseline = HEIGHT - BOTTOM + 20
    return (
        f'<text class="date" x="{_n(x)}" y="{baseline}" font-size="13"'
        f' text-anchor="{anchor}" fill="#5b6576">{_q(_day(at, lang))}</text>'
    )


def _day_marks(start: datetime, end: datetime, lang: str) -> list[str]:
    """The first day under the axis's start and the last under its end (one day: centred)."""
    if end <= start:
        return [_day_mark(start, LEFT + INNER_W / 2, "middle", lang)]
    return [_day_mark(start, LEFT, "start", lang), _day_mark(end, WIDTH - RIGHT, "end", lang)]


def _line(
    frame: _Frame,
    ordered: Sequence[Point],
    lang: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[str]:
    """The line through the points, each point with its tooltip, and the first and last day.

    The axis runs from ``since`` (the merchant's onboarding) to ``until`` (now) when given, so
    a history of one day reads as one day of many; the last grade holds, dashed, until now.
    """
    start = min(ordered[0].at, since) if since else ordered[0].at
    end = max(ordered[-1].at, until) if until else ordered[-1].at
    x = _time_axis(start, end)
    coords = [(x(p.at), frame.y(p.probability)) for p in ordered]
    line = " ".join(f"{_n(cx)},{_n(cy)}" for cx, cy in coords)
    parts = [
        f'<polyline class="line" fill="none" stroke="#0b5cad" stroke-width="2" points="{line}"/>'
    ]
    last_x, last_y = coords[-1]
    if x(end) > last_x:
        parts.append(
            f'<line class="holds" x1="{_n(last_x)}" y1="{_n(last_y)}" x2="{_n(x(end))}"'
            f' y2="{_n(last_y)}" stroke="#0b5cad" stroke-width="2" stroke-dasharray="4 4"/>'
        )
    for point, (cx, cy) in zip(ordered, coords, strict=True):
        kind = "point current" if point.current else "point"
        tip = f"{_day(point.at, lang)} · {point.grade} · {probability(point.probability, lang)}"
        if point.note:
            tip += f" · {point.note}"
        parts.append(
            f'<circle class="{kind}" data-grade="{_q(point.grade)}" cx="{_n(cx)}" cy="{_n(cy)}"'
            f' r="{6 if point.current else 4.5}" fill="{COLOURS.get(point.grade, "#9e9e9e")}"'
            f' stroke="#1d2430" stroke-width="1.5"><title>{_q(tip)}</title></circle>'
        )
    return parts + _day_marks(start, end, lang)


def probability_chart(
    points: Sequence[Point],
    *,
    label: str,
    empty: str = "",
    cut_points: CutPoints = CUT_POINTS,
    lang: str = DEFAULT_LANG,
    since: datetime | None = None,
    until: datetime | None = None,
) -> str:
    """An SVG line chart of the probability of default over time, on the grade bands.

    ``label`` names the chart for screen readers; ``empty`` is written in the chart when
    there is no point; days are written as ``lang`` writes them. Points are drawn in time
    order; the x axis spans the first to the last (a single point stands in the middle).
    Each grade band is an equal slice of the height (see the module's note), ticked at the
    cut points.
    """
    ordered = sorted(points, key=lambda p: p.at)
    frame = _Frame(edges=(0.0, *cut_points.bounds, 1.0))
    opening = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"'
        f' viewBox="0 0 {WIDTH} {HEIGHT}" aria-label="{_q(label)}">'
    )
    parts = [opening, f"<title>{_q(label)}</title>", *_backdrop(frame)]
    if ordered:
        parts.extend(_line(frame, ordered, lang, since, until))
    else:
        parts.append(
            f'<text class="empty" x="{LEFT + frame.inner_w / 2}" y="{TOP + frame.inner_h / 2}"'
            f' text-anchor="middle" font-size="14" fill="#5b6576">{_q(empty)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Step:
    """What a card was worth after one entry: its protected balance in fen, from that moment."""

    at: datetime
    fen: int
    note: str = ""
    """Shown when the step is pointed at (what the entry was)."""


def _balance_axis(top: int, lang: str) -> list[str]:
    """The floor line and the two marks of the money axis: nothing and the highest balance."""
    floor = HEIGHT - BOTTOM
    parts = [f'<line x1="{LEFT}" y1="{floor}" x2="{WIDTH - RIGHT}" y2="{floor}" stroke="#8a94a6"/>']
    for value, y in ((0, floor - 4), (top, TOP + 14)):
        parts.append(
            f'<text class="tick" x="{LEFT + 4}" y="{y}" font-size="12" fill="#5b6576">'
            f"{_q(money(value, lang))}</text>"
        )
    return parts


def _balance_line(ordered: Sequence[Step], top: int, lang: str) -> list[str]:
    """The steps and the area under them, a point with its tooltip at each entry, the days."""
    floor = HEIGHT - BOTTOM
    start, end = ordered[0].at, ordered[-1].at
    x = _time_axis(start, end)

    def y(fen: int) -> float:
        return floor - (floor - TOP) * fen / top

    coords: list[tuple[float, float]] = []
    for step in ordered:  # flat until the next entry, then straight up or down
        if coords:
            coords.append((x(step.at), coords[-1][1]))
        coords.append((x(step.at), y(step.fen)))
    coords.append((x(end) if end > start else coords[-1][0], coords[-1][1]))
    line = " ".join(f"{_n(cx)},{_n(cy)}" for cx, cy in coords)
    area = f"{_n(coords[0][0])},{floor} {line} {_n(coords[-1][0])},{floor}"
    parts = [
        f'<polygon class="area" fill="#dbe9f7" points="{area}"/>',
        f'<polyline class="line" fill="none" stroke="#0b5cad" stroke-width="2" points="{line}"/>',
    ]
    for step in ordered:
        tip = f"{_day(step.at, lang)} · {money(step.fen, lang)}"
        if step.note:
            tip += f" · {step.note}"
        parts.append(
            f'<circle class="point" cx="{_n(x(step.at))}" cy="{_n(y(step.fen))}" r="4"'
            f' fill="#0b5cad" data-fen="{step.fen}"><title>{_q(tip)}</title></circle>'
        )
    return parts + _day_marks(start, end, lang)


def balance_chart(steps: Sequence[Step], *, label: str, lang: str = DEFAULT_LANG) -> str:
    """An SVG step chart of a card's balance over time, from its purchase to its last entry.

    The balance holds between entries, so the line is flat until the next one and drops (a
    redemption, a refund) or rises (a purchase) at it. The axis runs from zero to the highest
    balance, marked in money.
    """
    ordered = sorted(steps, key=lambda s: s.at)
    top = max((s.fen for s in ordered), default=0) or 1
    opening = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart balance" role="img"'
        f' viewBox="0 0 {WIDTH} {HEIGHT}" aria-label="{_q(label)}">'
    )
    parts = [
        opening,
        f"<title>{_q(label)}</title>",
        *_balance_axis(top, lang),
    ]
    if ordered:
        parts.extend(_balance_line(ordered, top, lang))
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Bar:
    """One bar: what it counts (a grade, a month), its value, its colour."""

    label: str
    value: int
    colour: str = "#0b5cad"


def bar_chart(
    bars: Sequence[Bar],
    *,
    label: str,
    lang: str = DEFAULT_LANG,
    as_money: bool = False,
    codes: bool = False,
) -> str:
    """An SVG bar chart: one bar a label, its value written above it.

    Money is written short above the bar (¥325.6万) and exact in the bar's tooltip.

    Bars share the height by the largest value; a zero stays a hairline so that its label
    still sits on something. ``codes``: the labels are codes read alike in every language
    (grades), marked so.
    """
    width, height, top, bottom, side = WIDTH, 200, 22, 26, 8
    inner_h = height - top - bottom
    most = max((b.value for b in bars), default=0) or 1
    slot = (width - 2 * side) / max(len(bars), 1)
    opening = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart bars" role="img"'
        f' viewBox="0 0 {width} {height}" aria-label="{_q(label)}">'
    )
    parts = [opening, f"<title>{_q(label)}</title>"]
    marked = ' translate="no"' if codes else ""
    for i, bar in enumerate(bars):
        tall = max(inner_h * bar.value / most, 1.0)
        x = side + slot * i + slot * 0.15
        y = top + inner_h - tall
        said = money(bar.value, lang) if as_money else number(bar.value, lang)
        short = money_short(bar.value, lang) if as_money else said
        parts.append(
            f'<rect class="bar" x="{_n(x)}" y="{_n(y)}" width="{_n(slot * 0.7)}"'
            f' height="{_n(tall)}" fill="{_q(bar.colour)}" data-value="{bar.value}">'
            f"<title>{_q(bar.label)} · {_q(said)}</title></rect>"
        )
        centre = _n(x + slot * 0.35)
        parts.append(
            f'<text class="value" x="{centre}" y="{_n(y - 5)}" font-size="11"'
            f' text-anchor="middle" fill="#1d2430">{_q(short)}</text>'
        )
        parts.append(
            f'<text class="label" x="{centre}" y="{height - bottom + 16}" font-size="12"'
            f' text-anchor="middle" fill="#5b6576"{marked}>{_q(bar.label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
