"""A rating's reasons in a merchant's words: what raised the risk, and what would lower it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.i18n import feature_label, feature_value, gettext, has, plain_reason
from scoring import MONOTONE

if TYPE_CHECKING:
    from collections.abc import Mapping


def _action(feature: str, value: object, reference: object) -> str:
    """Which way to move a feature that raised the risk (a message key)."""
    if value is None:
        return "m_do_report"
    direction = MONOTONE.get(feature, 0)
    numbers = (int, float)
    if (
        direction
        and isinstance(value, numbers)
        and isinstance(reference, numbers)
        and (float(value) - float(reference)) * direction <= 0
    ):
        return "m_do_keep"
    specific = f"m_do_{feature}"
    if has(specific):
        return specific
    return {1: "m_do_lower", -1: "m_do_raise"}.get(direction, "m_do_typical")


@dataclass(frozen=True)
class Explained:
    """One reason of a rating, said in the visitor's language, and what would improve it."""

    feature: str
    said: str
    advice: str
    source: dict[str, Any] | None
    """The record the reason cites: its provenance and date (the page says them)."""


def explain(reason: Mapping[str, Any], lang: str) -> Explained:
    """A stored reason (``scoring.rating.Reason.to_dict``) as two sentences and its source.

    The advice follows the feature's declared direction (``scoring.MONOTONE``: +1 means more
    is riskier, so bring it down) against the reference value, a typical merchant's.
    """
    feature = str(reason["feature"])
    value, reference = reason.get("value"), reason.get("reference")
    label = feature_label(feature, lang)
    shown = feature_value(feature, value, lang)
    typical = feature_value(feature, reference, lang)
    record = reason.get("record")
    return Explained(
        feature=feature,
        said=plain_reason(reason, lang),
        advice=gettext(
            lang,
            "m_improve",
            label=label,
            value=shown,
            typical=typical,
            action=gettext(lang, _action(feature, value, reference)),
        ),
        source={"provenance": str(record.get("provenance", "")), "as_of": record.get("as_of", "")}
        if isinstance(record, dict)
        else None,
    )
