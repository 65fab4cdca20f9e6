"""How the regulator's pages write figures: probabilities, ratios, indicator values, measures.

Money goes through :func:`app.i18n.money` in the page's language, like every amount on every
page; a ratio or a probability is a percentage, written the same in either language.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.i18n import gettext, money, share
from app.supervision.models import MeasureKind
from scoring import CATALOGUE

if TYPE_CHECKING:
    from app.supervision.models import Measure

FEATURE_OF = {(k.source.value, k.name): k.feature for k in CATALOGUE}
"""An indicator record's (source, kind) and the feature the model reads it as."""


def measure_summary(lang: str, measure: Measure) -> str:
    """What a measure did, in a line."""
    params = measure.params
    if measure.kind in (
        MeasureKind.RAISE_CUSTODY_RATIO,
        MeasureKind.LIFT_CUSTODY_RATIO,
        MeasureKind.GRADE_ACTION,
    ):
        return f"{share(int(params['from']), lang)} → {share(int(params['to']), lang)}"
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
