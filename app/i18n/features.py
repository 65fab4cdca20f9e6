"""Risk signals in words: each feature's name and value as a person reads it, in zh or en.

Consumers, merchants and regulators all read a rating's reasons; the words for a signal and
the way its value is shown (money, yes/no, a status, a number) are written here once, from the
``features`` catalogue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.i18n.catalogues import gettext, has
from app.i18n.formats import money, number
from scoring import CATALOGUE

if TYPE_CHECKING:
    from collections.abc import Mapping

BOOLEAN_FEATURES = frozenset(k.feature for k in CATALOGUE if k.type == "bool")
"""Signals that are facts (listed, revoked, frozen): shown as yes or no."""


def feature_label(feature: str, lang: str) -> str:
    """A signal's name in ``lang`` (a signal without words shows its name, spaced)."""
    key = f"feature.{feature}"
    return gettext(lang, key) if has(key) else feature.replace("_", " ")


def feature_value(feature: str | None, value: object, lang: str) -> str:
    """A signal's (or a record's) value in ``lang``: yes/no, money, a status, a number."""
    if value is None:
        return gettext(lang, "feature.no-data")
    if isinstance(value, bool) or (feature in BOOLEAN_FEATURES and value in (0, 1)):
        return gettext(lang, "feature.yes" if value else "feature.no")
    if isinstance(value, str):
        key = f"feature.value.{value}"
        return gettext(lang, key) if has(key) else value
    if not isinstance(value, int | float):
        return str(value)
    if feature is not None and feature.endswith("_fen"):
        return money(round(value), lang)
    return number(round(float(value), 2), lang)


def reason_sentence(reason: Mapping[str, object], lang: str) -> str:
    """One stored reason of a rating as a sentence: the signal, its value, its weight."""
    feature = str(reason.get("feature", ""))
    points = number(round(float(str(reason.get("contribution", 0.0))) * 100, 1), lang)
    return gettext(
        lang,
        "feature.reason",
        label=feature_label(feature, lang),
        value=feature_value(feature, reason.get("value"), lang),
        points=points,
    )


def plain_reason(reason: Mapping[str, object], lang: str) -> str:
    """One stored reason as a consumer would say it, without percentage points.

    The signal, its value, and how it compares with a typical merchant's ("近30日投诉 6，
    高于一般商户（1）"). A signal with no data says so, and why a rating still counts it:
    the source has not reported it, so the risk of a typical merchant is assumed.
    """
    feature = str(reason.get("feature", ""))
    value, typical = reason.get("value"), reason.get("reference")
    words = {
        "label": feature_label(feature, lang),
        "value": feature_value(feature, value, lang),
        "typical": feature_value(feature, typical, lang),
    }
    if value is None:
        return gettext(lang, "feature.plain.no-data", **words)
    numbers = (int, float)
    if (
        feature in BOOLEAN_FEATURES
        or isinstance(value, bool)
        or not isinstance(value, numbers)
        or not isinstance(typical, numbers)
        or isinstance(typical, bool)
    ):
        return gettext(lang, "feature.plain.as-is", **words)
    if float(value) > float(typical):
        return gettext(lang, "feature.plain.higher", **words)
    if float(value) < float(typical):
        return gettext(lang, "feature.plain.lower", **words)
    return gettext(lang, "feature.plain.as-is", **words)
