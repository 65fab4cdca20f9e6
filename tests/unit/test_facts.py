"""What the platform records as facts reads as a sentence in each language, with no raw key."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.i18n import facts, plain_reason
from app.supervision.models import WarningRule

LATIN = re.compile(r"[A-Za-z_]{2,}")
CJK = re.compile(r"[\u3400-\u9fff]")

EVIDENCE: dict[str, dict[str, Any]] = {
    "grade-drop": {"from": "A", "to": "E", "probability": 0.31, "cause": "complaint filed",
                   "model_version": "demo-3"},
    "complaint-surge": {"last_7_days": 5, "last_30_days": 9, "weekly_baseline": 0.25},
    "sales-surge": {"surge_pct": 412.4, "threshold_pct": 300.0},
    "deep-discount": {"max_discount_pct": 60.0, "threshold_pct": 40.0},
    "custody-shortfall": {"shortfall_fen": 123_456, "filename": "hzbank-2026-01.csv",
                          "from": "2026-01-01", "to": "2026-01-31"},
    "hard-override": {"record": 17, "source": "court", "kind": "dishonest_debtor",
                      "as_of": "2026-01-02"},
    "dispute-overdue": {"dispute_id": "5a93825e", "card_id": "696fd54d", "step": "decide-1",
                        "status": "mediation", "kind": "not_delivered",
                        "amount_asked_fen": 500, "filed_at": "2026-01-01T02:00:00+00:00",
                        "deadline_at": "2026-01-12T16:00:00+00:00"},
    "rating-failed": {"error": "ValueError", "attempts": 3,
                      "since": "2026-01-01T02:00:00+00:00"},
    "exit-pattern": {"steps": [
        {"record": 1, "source": "registration", "kind": "capital_change", "as_of": "2026-01-02"},
        {"record": 2, "source": "registration", "kind": "equity_transfer", "as_of": "2026-02-02"},
        {"record": 3, "source": "registration", "kind": "legal_representative_change",
         "as_of": "2026-03-02"},
    ], "window_days": 180},
}  # fmt: skip
"""Evidence as each rule writes it (app.supervision.rules, escalation, custody)."""


def test_every_rule_has_evidence_here() -> None:
    assert set(EVIDENCE) == {rule.value for rule in WarningRule}


@pytest.mark.parametrize("rule", sorted(EVIDENCE))
def test_a_warning_reads_in_chinese_and_in_english(rule: str) -> None:
    zh = facts.warning_title(rule, EVIDENCE[rule], "zh")
    en = facts.warning_title(rule, EVIDENCE[rule], "en")
    assert CJK.search(zh), zh
    assert not LATIN.search(zh), zh
    assert not CJK.search(en), en
    for said in facts.evidence_items(rule, EVIDENCE[rule], "zh"):
        assert not said.label.isascii(), (rule, said)  # a label, never the raw key
        if not said.data:
            assert not LATIN.search(said.value), (rule, said)


def test_titles_carry_the_figures() -> None:
    assert facts.warning_title("grade-drop", {"from": "A", "to": "E"}, "zh") == "评级由 A 降至 E"
    assert facts.warning_title("grade-drop", {"from": None, "to": "D"}, "en") == "first rated D"
    assert (
        facts.warning_title("complaint-surge", EVIDENCE["complaint-surge"], "zh")
        == "近 7 天投诉 5 起（此前平均每周 0.2 起）"
    )
    assert "¥1,234.56" in facts.warning_title("custody-shortfall", {"shortfall_fen": 123456}, "en")
    assert facts.warning_title("deep-discount", {"max_discount_pct": 60.0}, "en") == (
        "cards sold at 60% off"
    )


def test_evidence_is_labelled_and_formatted() -> None:
    said = {
        s.label: s
        for s in facts.evidence_items("custody-shortfall", EVIDENCE["custody-shortfall"], "zh")
    }
    assert said["短缺金额"].value == "¥1,234.56"
    assert said["对账期起"].value == "2026年1月1日"
    assert said["对账单文件"].data
    none = facts.evidence_value("sales-surge", "surge_pct", None, "zh")
    assert none.value.startswith("无数据")


def test_causes_a_person_gave_pass_through_given() -> None:
    assert facts.cause_text("complaint filed", "zh") == "收到一起投诉"
    assert facts.cause_text("indicator court/dishonest_debtor", "zh").startswith("收到新数据：法院")
    marked = facts.cause_text("rated E: 法院和税务记录", "en", lambda t: f"<{t}>")
    assert marked == "rated E: <法院和税务记录>"
    assert facts.provenance_text("synthetic:seed=8:court", "zh") == "演示数据（法院，随机种子 8）"
    assert facts.provenance_text("platform:sales", "en") == "the platform's own sales figures"
    assert facts.provenance_text("税务局接口", "zh", lambda t: f"[{t}]") == "[税务局接口]"


@pytest.mark.parametrize(
    ("step", "step_facts", "zh"),
    [
        ("filed", {"kind": "not_delivered", "asked_fen": 500}, "未提供服务；要求退还 ¥5.00"),
        ("answered", {"offer_fen": 10_000}, "提出退还 ¥100.00"),
        ("answered", {}, ""),
        ("decided", {"decision": "refund", "amount_fen": 800, "entry": 12},
         "裁决全额退款 ¥8.00（账本分录 12）"),
        ("decided", {"decision": "reject"}, "驳回，不予退款"),
        ("escalated", {"overdue": "answer", "deadline": "2026-01-04T16:00:00+00:00"},
         "纠纷逾期：商户未在 2026/1/5 00:00 前答复"),
        ("deemed-confirmed", {"deadline": "2026-01-04T16:00:00+00:00"},
         "消费者未在 2026/1/5 00:00 前确认或申请复议，裁决生效"),
        ("confirmed", {}, ""),
    ],
)  # fmt: skip
def test_a_dispute_step_says_what_it_did(step: str, step_facts: dict[str, Any], zh: str) -> None:
    assert facts.step_said(step, step_facts, "zh") == zh
    en = facts.step_said(step, step_facts, "en")
    assert bool(en) == bool(zh)
    assert not CJK.search(en)


def test_a_reason_is_said_against_a_typical_merchant_without_points() -> None:
    higher = {"feature": "complaints_count_30d", "value": 14.0, "reference": 2.0}
    assert plain_reason(higher, "zh") == "近30日投诉 14，高于一般商户（2）"
    assert "above a typical merchant" in plain_reason(higher, "en")
    lower = {**higher, "value": 0.0}
    assert plain_reason(lower, "zh") == "近30日投诉 0，低于一般商户（2）"
    missing = {**higher, "value": None}
    assert plain_reason(missing, "zh").startswith("近30日投诉：无数据（来源尚未报送")
    fact = {"feature": "court_dishonest_debtor", "value": True, "reference": 0.0}
    assert plain_reason(fact, "zh") == "列入失信被执行人名单：是"
