"""How the regulator's pages write figures: probabilities, ratios, indicator values, measures.

Money goes through :func:`app.i18n.money` in the page's language, like every amount on every
page; a ratio or a probability is a percentage, written the same in either language.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.i18n import gettext, money
from app.supervision.models import MeasureKind
from scoring import CATALOGUE

if TYPE_CHECKING:
    from app.supervision.models import Measure

FEATURE_OF = {(k.source.value, k.name): k.feature for k in CATALOGUE}
"""An indicator record's (source, kind) and the feature the model reads it as."""


def percent(probability: float | None) -> str:
    """A probability as a percentage with one decimal."""
    return "—" if probability is None else f"{probability * 100:.1f}%"


def ratio(bp: int) -> str:
    """Basis points as a percentage: 3000 -> 30%."""
    whole, part = divmod(bp, 100)
    return f"{whole}%" if part == 0 else f"{whole}.{part:02d}%"


def measure_summary(lang: str, measure: Measure) -> str:
    """What a measure did, in a line."""
    params = measure.params
    if measure.kind in (
        MeasureKind.RAISE_CUSTODY_RATIO,
        MeasureKind.LIFT_CUSTODY_RATIO,
        MeasureKind.GRADE_ACTION,
    ):
        return f"{ratio(int(params['from']))} → {ratio(int(params['to']))}"
    if measure.kind == MeasureKind.DECLARE_DEFAULT:
        return gettext(
            lang,
            "r_default_summary",
            cards=params.get("cards", 0),
            custody=money(params.get("custody_paid_fen"), lang),
            claim=money(params.get("claim_fen"), lang),
        )
    if measure.kind == MeasureKind.LIFT_SUSPENSION:
        lifted = [gettext(lang, "r_lifted_suspension")] if "suspension" in params else []
        lifted += [gettext(lang, f"block_{kind}") for kind in params.get("sales_blocks", [])]
        return ", ".join(lifted)
    return ""
