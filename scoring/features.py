"""Point-in-time features: what was known about a merchant strictly before the scoring time.

:func:`features_at` takes one merchant's indicator records and a date, keeps only the records
whose ``as_of`` is strictly before that date, and for each catalogued (source, kind) takes the
latest value (on equal dates, the one given last). Nothing known is never zero: a numeric kind
with no record is NaN, a category with none is the string ``"missing"``. Booleans become 1.0
(true) or 0.0 (false), so that they can carry a monotone direction, and NaN when unknown.

:data:`MONOTONE` declares each numeric feature's direction (``+1``: more is riskier) for
``scoring.model.fit(..., monotone=MONOTONE)``; categories carry none. :func:`overrides` reads
the hard-override flags (dishonest debtor, licence revoked, deregistration filed, abnormal
operations) from the features, for ``scoring.grades.grade``; :func:`exit_pattern` finds the
capital-cut / equity-transfer / new-representative path in a merchant's dated records.
"""

from __future__ import annotations

import itertools
import math
from datetime import timedelta
from typing import TYPE_CHECKING

from scoring.grades import Override
from scoring.indicators import CATALOGUE, KINDS, Source

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import date

    from scoring.indicators import Indicator

MISSING = "missing"
"""The value of a categorical feature no record before the scoring time speaks to."""

FEATURES: tuple[str, ...] = tuple(k.feature for k in CATALOGUE)
"""Feature names in column order."""

MONOTONE: dict[str, int] = {k.feature: k.direction for k in CATALOGUE if k.type != "category"}
"""Declared direction per numeric (and boolean) feature: +1 more is riskier, -1 safer."""

OVERRIDE_FEATURES: dict[str, Override] = {
    KINDS[Source.COURT, "dishonest_debtor"].feature: Override.DISHONEST_DEBTOR,
    KINDS[Source.REGISTRATION, "licence_revoked"].feature: Override.LICENCE_REVOKED,
    KINDS[Source.REGISTRATION, "deregistration_filed"].feature: Override.DEREGISTRATION_FILED,
    KINDS[Source.REGISTRATION, "abnormal_operations"].feature: Override.ABNORMAL_OPERATIONS,
}
"""Boolean features that, when true, floor the grade."""

Features = dict[str, float | str]


def features_at(records: Iterable[Indicator], at: date) -> Features:
    """One merchant's features from the records dated strictly before ``at``.

    ``records`` should all be about the same merchant; the caller groups them.
    """
    latest = latest_records(records, at)
    features: Features = {}
    for kind in CATALOGUE:
        found = latest.get((kind.source, kind.name))
        if kind.type == "category":
            features[kind.feature] = MISSING if found is None else str(found.value)
        elif found is None:
            features[kind.feature] = math.nan
        else:
            features[kind.feature] = float(found.value)
    return features


def latest_records(records: Iterable[Indicator], at: date) -> dict[tuple[Source, str], Indicator]:
    """The record each feature is read from: per (source, kind), the latest dated before ``at``.

    On equal dates the one given last wins, so a correction sent later takes effect.
    """
    latest: dict[tuple[Source, str], Indicator] = {}
    for record in records:
        if record.as_of >= at:
            continue
        key = (record.source, record.kind)
        held = latest.get(key)
        if held is None or record.as_of >= held.as_of:
            latest[key] = record
    return latest


def overrides(features: Mapping[str, float | str]) -> tuple[Override, ...]:
    """The hard overrides whose flag is true in ``features`` (unknown is not true)."""
    return tuple(
        override for name, override in OVERRIDE_FEATURES.items() if features.get(name) == 1.0
    )


EXIT_WINDOW = timedelta(days=180)
"""The capital cut, the equity transfer and the new legal representative fall within this."""


def _exit_step(record: Indicator) -> str | None:
    """Which step of the exit path a record is, if any."""
    if record.source != Source.REGISTRATION:
        return None
    if record.kind == "capital_change":
        return "cut" if float(record.value) < 0 else None
    if record.kind in ("equity_transfer", "legal_representative_change") and record.value is True:
        return record.kind
    return None


def exit_pattern(records: Iterable[Indicator], at: date) -> tuple[Indicator, ...]:
    """The records of a capital cut, an equity transfer and a new legal representative.

    All three dated before ``at`` and within :data:`EXIT_WINDOW` of each other; empty if
    there is no such set. The three steps count in any order: registries date them by filing,
    and owners on their way out file them as it suits them. When several sets qualify, the
    latest is returned, so the evidence is the most recent.
    """
    steps: dict[str, list[Indicator]] = {
        "cut": [],
        "equity_transfer": [],
        "legal_representative_change": [],
    }
    for record in records:
        step = _exit_step(record) if record.as_of < at else None
        if step is not None:
            steps[step].append(record)
    sets = (
        found
        for found in itertools.product(*steps.values())
        if max(r.as_of for r in found) - min(r.as_of for r in found) <= EXIT_WINDOW
    )
    return max(sets, key=lambda found: sorted((r.as_of for r in found), reverse=True), default=())


def hard_stops(
    features: Mapping[str, float | str], records: Iterable[Indicator], at: date
) -> tuple[Override, ...]:
    """Every hard override: the flags among the features, and the exit path in the records."""
    found = overrides(features)
    return (*found, Override.EXIT_PATTERN) if exit_pattern(records, at) else found


def overrides_at(records: Iterable[Indicator], at: date) -> tuple[Override, ...]:
    """The hard overrides in force for a merchant just before ``at``."""
    held = list(records)
    return hard_stops(features_at(held, at), held, at)
