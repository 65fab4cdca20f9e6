"""Facts the platform records, in words: warnings, re-rating causes, provenance, dispute steps.

Warning titles and evidence, why a merchant was re-rated, where a record came from, what a
dispute step did.
The platform keeps these as facts (a rule and its evidence, a step and its amounts), never as
sentences, so each reader sees them in their own language: a regulator in Hangzhou reads
"评级由 A 降至 E", an English reader "grade fell from A to E", from the same row. Messages
are in the ``facts`` catalogue; what a person wrote (a merchant's reply, a regulator's
reasons) is shown as written, beside these words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from app.i18n.catalogues import gettext, has
from app.i18n.features import feature_label, feature_value
from app.i18n.formats import NOTHING, day, money, number, probability, when

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


@dataclass(frozen=True)
class Said:
    """One piece of evidence: its label and its value in words.

    ``data`` values (ids, codes, grades, names) are shown as stored, untranslated.
    """

    label: str
    value: str
    data: bool = False


def _pct(value: object, lang: str) -> str:
    return f"{number(round(float(str(value))), lang)}%"


def _title_params(  # noqa: PLR0911 - a branch for each rule whose title carries figures
    rule: str, evidence: Mapping[str, Any], lang: str
) -> tuple[str, dict[str, Any]]:
    """The title's message and what fills it, for each rule whose title carries figures."""
    if rule == "grade-drop":
        if evidence.get("from"):
            return "grade-drop", {"before": evidence["from"], "after": evidence.get("to", "")}
        return "first-rated", {"after": evidence.get("to", "")}
    if rule == "complaint-surge":
        baseline = number(round(float(evidence.get("weekly_baseline", 0.0)), 1), lang)
        return rule, {"count": evidence.get("last_7_days", 0), "baseline": baseline}
    if rule in ("sales-surge", "deep-discount"):
        figure = evidence.get("surge_pct" if rule == "sales-surge" else "max_discount_pct", 0)
        return rule, {"pct": _pct(figure, lang)}
    if rule == "custody-shortfall":
        return rule, {"amount": money(evidence.get("shortfall_fen"), lang)}
    if rule == "hard-override":
        key = f"override.{evidence.get('source')}.{evidence.get('kind')}"
        return (key if has(f"fact.title.{key}") else rule), {}
    if rule == "dispute-overdue":
        step = str(evidence.get("step", ""))
        deadline = when(_moment(evidence.get("deadline_at")), lang)
        return f"overdue-{step.split('-', maxsplit=1)[0]}", {"deadline": deadline}
    return rule, {}


def warning_title(rule: str, evidence: Mapping[str, Any], lang: str) -> str:
    """A warning's headline, from its rule and evidence."""
    name, params = _title_params(rule, evidence, lang)
    key = f"fact.title.{name}"
    return gettext(lang, key, **params) if has(key) else rule


def _moment(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


DATA_KEYS = frozenset(
    {
        "grade",
        "from_grade",
        "model_version",
        "record",
        "dispute_id",
        "card_id",
        "statement_id",
        "filename",
        "district",
        "version",
        "error",
    }
)
"""Evidence shown as stored: grades, ids, file names, codes (read the same in any language)."""


def evidence_value(rule: str, key: str, value: Any, lang: str) -> Said:  # noqa: ANN401, C901, PLR0911, PLR0912
    """One item of a warning's evidence, labelled and formatted for ``lang``.

    A key may mean one thing under one rule (``from``: the grade before, for a grade drop;
    the statement's first day, for a custody shortfall): its label is looked up under the
    rule first.
    """
    label_key = next(
        (k for k in (f"fact.evidence.{rule}.{key}", f"fact.evidence.{key}") if has(k)), None
    )
    label = gettext(lang, label_key) if label_key else feature_label(key, lang)
    if value is None or value == "":
        return Said(label, gettext(lang, "fact.none"))
    if key in DATA_KEYS or (rule == "grade-drop" and key in ("from", "to")):
        return Said(label, str(value), data=True)
    if rule == "custody-shortfall" and key in ("from", "to"):
        return Said(label, _day(str(value), lang))
    if key == "step" and rule == "dispute-overdue":
        return Said(label, gettext(lang, f"fact.overdue-step.{str(value).split('-')[0]}"))
    if key == "probability":
        return Said(label, probability(float(value), lang))
    if key == "cause":
        said = cause_text(str(value), lang)
        return Said(label, said, data=said == str(value))
    if key == "source":
        return Said(label, source_name(str(value), lang))
    if key == "provenance":
        said = provenance_text(str(value), lang)
        return Said(label, said, data=said == str(value))
    if key == "kind" and isinstance(value, str):
        dispute_kind = f"r_dkind_{value}"
        if has(dispute_kind):
            return Said(label, gettext(lang, dispute_kind))
        return Said(
            label, gettext(lang, f"fact.kind.{value}") if has(f"fact.kind.{value}") else value
        )
    if key == "status" and has(f"r_dstatus_{value}"):
        return Said(label, gettext(lang, f"r_dstatus_{value}"))
    if key == "steps" and isinstance(value, list):
        return Said(label, "；".join(_step_record(step, lang) for step in value))
    if key.endswith("_fen"):
        return Said(label, money(int(value), lang))
    if key.endswith("_pct"):
        return Said(label, _pct(value, lang))
    if key.endswith(("_at", "since")) and (moment := _moment(value)) is not None:
        return Said(label, when(moment, lang))
    if key == "as_of" and isinstance(value, str):
        return Said(label, _day(value, lang))
    if (
        key.endswith("_days")
        or key in ("attempts", "weekly_baseline")
        or isinstance(value, int | float)
    ):
        return Said(
            label, number(value if isinstance(value, int) else round(float(value), 2), lang)
        )
    return Said(label, feature_value(None, value, lang))


def _day(value: str, lang: str) -> str:
    try:
        return day(date.fromisoformat(value[:10]), lang)
    except ValueError:
        return value


def _step_record(step: Mapping[str, Any], lang: str) -> str:
    """A record cited as a step of the exit path: what, when."""
    kind = str(step.get("kind", ""))
    source = str(step.get("source", ""))
    key = f"fact.kind.{kind}"
    what = gettext(lang, key) if has(key) else feature_label(f"{source}_{kind}", lang)
    return f"{what} {_day(str(step.get('as_of', '')), lang)}"


def evidence_items(rule: str, evidence: Mapping[str, Any], lang: str) -> list[Said]:
    """A warning's evidence, every key labelled and every value formatted."""
    return [evidence_value(rule, key, value, lang) for key, value in evidence.items()]


def source_name(source: str, lang: str) -> str:
    """A data source (``court``, ``tax``) by its name."""
    key = f"r_src_{source}"
    return gettext(lang, key) if has(key) else source


SYNTHETIC = re.compile(r"^synthetic:seed=(?P<seed>\d+):(?P<source>\w+)$")


def _as_given(text: str) -> str:
    return text


def provenance_text(provenance: str, lang: str, given: Callable[[str], str] = _as_given) -> str:
    """Where a record came from: the platform's own figures, demo data, or a feed's name.

    A feed's name is shown as its operator gave it, through ``given`` (a page marks it as
    data, in no language of its own).
    """
    if provenance.startswith("platform:"):
        key = f"fact.provenance.{provenance}"
        if has(key):
            return gettext(lang, key)
    if found := SYNTHETIC.match(provenance):
        return gettext(
            lang,
            "fact.provenance.synthetic",
            source=source_name(found["source"], lang),
            seed=found["seed"],
        )
    return given(provenance)


CAUSES = {
    "card sold": "fact.cause.card-sold",
    "registered": "fact.cause.registered",
    "complaint filed": "fact.cause.complaint-filed",
    "nightly re-rating": "fact.cause.nightly",
    "scheduled re-rating": "fact.cause.scheduled",
    "demo: rated on loading": "fact.cause.demo",
}
"""The platform's own causes of a re-rating; any other cause is what a person gave."""

INDICATOR = re.compile(r"^indicator (?P<source>\w+)/(?P<kind>\w+)$")
GRADE_ACTION = re.compile(r"^rated (?P<grade>[A-E]|NR): (?P<cause>.*)$", re.DOTALL)


def cause_text(cause: str, lang: str, given: Callable[[str], str] = _as_given) -> str:
    """Why a merchant was re-rated (or a grade action taken), in words.

    A cause a person gave (an operator's re-rating, a feed's note) is shown as given, through
    ``given``.
    """
    if cause in CAUSES:
        return gettext(lang, CAUSES[cause])
    if found := INDICATOR.match(cause):
        return gettext(
            lang,
            "fact.cause.indicator",
            source=source_name(found["source"], lang),
            what=feature_label(f"{found['source']}_{found['kind']}", lang),
        )
    if found := GRADE_ACTION.match(cause):
        return gettext(
            lang,
            "fact.cause.grade-action",
            grade=found["grade"],
            cause=cause_text(found["cause"], lang, given),
        )
    return given(cause)


STEP_MESSAGES = {
    "filed": "fact.step.filed",
    "answered": "fact.step.offer",
    "deemed-confirmed": "fact.step.deemed-confirmed",
}


def step_said(step: str, facts: Mapping[str, Any] | None, lang: str) -> str:
    """What a dispute step did, from its facts; empty when the step has none.

    The facts: the kind and sum asked, the offer, the decision and its ledger entry, the
    deadline missed.
    """
    if not facts or (step == "answered" and facts.get("offer_fen") is None):
        return ""
    params = {
        "kind": gettext(lang, f"r_dkind_{facts.get('kind')}") if "kind" in facts else "",
        "amount": money(
            facts.get("asked_fen", facts.get("offer_fen", facts.get("amount_fen"))), lang
        ),
        "entry": facts.get("entry") if facts.get("entry") is not None else NOTHING,
        "deadline": when(_moment(facts.get("deadline")), lang),
    }
    if step == "decided":
        key = f"fact.step.decided-{facts.get('decision')}"
    elif step == "escalated":
        key = f"fact.title.overdue-{str(facts.get('overdue', 'decide')).split('-')[0]}"
    else:
        key = STEP_MESSAGES.get(step, "")
    return gettext(lang, key, **params) if has(key) else ""
