"""A regulator's measure as the use case takes it, and the regulator's forms read without a
database: the order is checked (kind, what it needs, the reason) before anything is read."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app.auth.models import Role
from app.auth.principal import Principal
from app.exceptions import Conflict, Invalid
from app.merchants.models import Merchant, MerchantStatus
from app.pages.regulator.disputes import ruling
from app.pages.regulator.merchants import actions_for, measure_order
from app.pages.regulator.protection import grade_table, ticked
from app.pages.render import FORM, refusal
from app.supervision import measures
from app.supervision.dispute_rules import Decision
from app.supervision.models import MeasureKind
from scoring import GRADES

REGULATOR = Principal(Role.REGULATOR, user_id=uuid.uuid4(), district="测试区")


class Untouched:
    """A session the use case must not reach: every order here is refused before."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the session was used ({name}) before the order was checked")


async def refused_order(order: measures.MeasureOrder) -> Invalid:
    with pytest.raises(Invalid) as refused:
        await measures.take(Untouched(), REGULATOR, uuid.uuid4(), order)  # type: ignore[arg-type]
    return refused.value


@pytest.mark.parametrize("reason", ["", "   ", "\n"])
async def test_every_measure_says_why(reason: str) -> None:
    for kind in measures.REGULATOR_MEASURES:
        order = measures.MeasureOrder(kind.value, reason, ratio_bp=6000, confirmed=True)
        refused = await refused_order(order)
        assert refused.code == "measure-reason-required"
        assert refused.fields == {"reason": "measure-reason-required"}


@pytest.mark.parametrize("kind", ["", "close-shop", MeasureKind.GRADE_ACTION.value])
async def test_only_a_regulators_measures_are_taken(kind: str) -> None:
    refused = await refused_order(measures.MeasureOrder(kind, "理由"))
    assert (refused.code, refused.fields) == (
        "measure-kind-unknown",
        {"kind": "measure-kind-unknown"},
    )


async def test_what_a_kind_needs_is_asked_first() -> None:
    no_ratio = await refused_order(measures.MeasureOrder("raise-custody-ratio", ""))
    assert no_ratio.code == "measure-ratio-required"
    unconfirmed = await refused_order(measures.MeasureOrder("declare-default", "跑路"))
    assert unconfirmed.code == "measure-default-unconfirmed"
    assert unconfirmed.fields == {"confirm": "measure-default-unconfirmed"}


@pytest.mark.parametrize(
    ("status", "floor", "blocked", "kinds"),
    [
        ("active", None, False, ["raise-custody-ratio", "suspend-sales", "declare-default"]),
        (
            "active",
            6000,
            True,
            [
                "raise-custody-ratio",
                "lift-custody-ratio",
                "suspend-sales",
                "lift-suspension",
                "declare-default",
            ],
        ),
        ("suspended", None, False, ["raise-custody-ratio", "lift-suspension", "declare-default"]),
        ("defaulted", 6000, True, []),
        ("pending", None, True, []),
    ],
)
def test_the_measures_that_apply_follow_the_merchant(
    status: str, floor: int | None, blocked: bool, kinds: list[str]
) -> None:
    merchant = Merchant(status=MerchantStatus(status), ratio_floor_bp=floor)
    assert [k.value for k in measures.applicable(merchant, blocked=blocked)] == kinds
    shown = actions_for(merchant, blocked=blocked)
    assert [a.kind for a in shown] == kinds
    assert {a.kind for a in shown if a.danger} <= {"suspend-sales", "declare-default"}


def test_the_measure_form_reads_a_percentage_and_the_confirmation() -> None:
    order = measure_order(
        {"kind": "raise-custody-ratio", "reason": "风险", "custody_ratio_pct": "45.5"}
    )
    assert order == measures.MeasureOrder("raise-custody-ratio", "风险", ratio_bp=4550)
    assert measure_order({"kind": "declare-default", "confirm": "yes"}).confirmed
    assert not measure_order({"kind": "declare-default", "confirm": "on"}).confirmed
    for typed in ("", "x", "101", "12.345"):
        with pytest.raises(Invalid) as junk:
            measure_order({"kind": "raise-custody-ratio", "custody_ratio_pct": typed})
        assert junk.value.fields == {"custody_ratio_pct": "regulator-percent-unreadable"}


def test_the_decision_form_reads_yuan_and_a_decision() -> None:
    asked = ruling({"decision": "partial", "amount": "¥1,000.50", "text": "部分"})
    assert (asked.decision, asked.amount_fen, asked.text) == (Decision.PARTIAL, 100_050, "部分")
    assert ruling({"decision": "refund", "amount": " ", "text": "x"}).amount_fen is None
    with pytest.raises(Invalid) as bad:
        ruling({"decision": "partial", "amount": "1.234"})
    assert bad.value.code == "regulator-amount-unreadable"
    with pytest.raises(Invalid) as unchosen:
        ruling({"decision": "maybe"})
    assert unchosen.value.code == "regulator-decision-unchosen"


def test_the_protection_forms_read_ticks_and_percentages() -> None:
    merchant = uuid.uuid4()
    assert ticked({f"merchant-{merchant}": "on", "reason": "x"}) == [merchant]
    with pytest.raises(Invalid):
        ticked({"merchant-nonsense": "on"})
    typed = {f"ratio-{g}": "30" for g in GRADES} | {f"sales-{g}": "allowed" for g in GRADES}
    assert grade_table(typed)["A"] == {"custody_ratio_bp": 3000, "sales": "allowed"}
    with pytest.raises(Invalid):
        grade_table({**typed, "ratio-C": "abc"})


def test_a_refusal_is_shown_in_the_pages_language_beside_its_fields() -> None:
    coded = Invalid("measure-reason-required", fields={"reason": "measure-reason-required"})
    assert refusal(coded, "zh") == {"reason": "请说明理由：每项措施都会连同理由一并记录"}
    assert refusal(coded, "en") == {"reason": "say why: a measure is recorded with its reason"}
    renamed = Invalid(
        "measure-ratio-out-of-range",
        fields={"custody_ratio_bp": "measure-ratio-out-of-range"},
        current_bp=3000,
        max_bp=10_000,
    )
    beside = refusal(renamed, "zh", rename={"custody_ratio_bp": "custody_ratio_pct"})
    assert "3000" in beside["custody_ratio_pct"]
    assert "above" not in beside["custody_ratio_pct"]
    no_field = Conflict("measure-nothing-to-lift")
    assert refusal(no_field, "zh") == {FORM: "该商户的售卡既未被暂停，也未被限制"}
    # a field whose code has no words of its own shows the whole error beside it
    unworded = Invalid("measure-ratio-required", fields={"custody_ratio_bp": "required"})
    assert refusal(unworded, "zh") == {"custody_ratio_bp": "请填写新的存管比例"}
    # a short hint beside the field: the whole error is said for the form too
    hinted = Invalid("measure-ratio-required", fields={"reason": "measure-reason-required"})
    assert refusal(hinted, "zh") == {
        "reason": "请说明理由：每项措施都会连同理由一并记录",
        FORM: "请填写新的存管比例",
    }
