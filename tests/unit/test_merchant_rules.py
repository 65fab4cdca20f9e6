"""The merchant area's pure rules: which products may be sold, which codes are credit codes,
why sales are blocked; each refusal a code with words in both languages."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.exceptions import Invalid
from app.i18n import describe, field_messages, message_ids
from app.merchants.blocks import WHY
from app.merchants.rules import (
    MAX_NAME,
    MAX_TERMS,
    MAX_VALIDITY_DAYS,
    ProductDraft,
    product_problems,
)
from app.merchants.uscc import check_character, uscc_fault, uscc_problem
from app.settings import CardRules

RULES = CardRules(registered_limit=500_000, anonymous_limit=100_000)
GOOD = ProductDraft(
    name="储值卡 1000 元",
    kind="stored_value",
    price=80_000,
    units=100_000,
    validity_days=None,
    anonymous=False,
    terms="余额可随时按实付比例退还。",
)


def _refused(draft: ProductDraft) -> Invalid:
    problems = product_problems(draft, RULES)
    return Invalid("product-refused", fields=problems.fields, **problems.params)


def test_a_good_product_breaks_no_rule() -> None:
    assert product_problems(GOOD, RULES).fields == {}
    sessions = replace(GOOD, kind="sessions", price=300_000, units=10)
    assert product_problems(sessions, RULES).fields == {}


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"name": "  "}, "name", "merchant-field-required"),
        ({"name": "x" * (MAX_NAME + 1)}, "name", "product-name-too-long"),
        ({"kind": "points"}, "kind", "product-kind-unknown"),
        ({"price": 0}, "price", "product-price-not-positive"),
        ({"units": 0}, "units", "product-units-not-positive"),
        ({"price": 100_001}, "price", "product-price-above-face"),
        ({"price": 500_001, "units": 600_000}, "price", "product-price-above-registered-limit"),
        ({"units": 600_000}, "units", "product-face-above-limit"),
        ({"validity_days": 0}, "validity_days", "product-validity-out-of-range"),
        (
            {"validity_days": MAX_VALIDITY_DAYS + 1},
            "validity_days",
            "product-validity-out-of-range",
        ),
        ({"validity_days": 365}, "validity_days", "product-registered-never-expires"),
        (
            {"anonymous": True, "price": 50_000, "units": 50_000, "validity_days": 365},
            "validity_days",
            "product-anonymous-validity-too-short",
        ),
        (
            {"anonymous": True, "price": 100_001, "units": 100_001, "validity_days": 1200},
            "price",
            "product-price-above-anonymous-limit",
        ),
        ({"no_refund": True}, "no_refund", "product-excludes-refunds"),
        ({"forfeit_on_expiry": True}, "forfeit_on_expiry", "product-forfeits-balance"),
        ({"terms": "本卡售出概不退款"}, "terms", "product-forbidden-clause"),
        ({"name": "年卡（过期作废）"}, "terms", "product-forbidden-clause"),
        ({"terms": "x" * (MAX_TERMS + 1)}, "terms", "product-terms-too-long"),
    ],
)
def test_each_rule_names_its_field_and_code(
    change: dict[str, object], field: str, code: str
) -> None:
    problems = product_problems(replace(GOOD, **change), RULES)
    assert problems.fields.get(field) == code, problems.fields
    assert f"error.{code}" in message_ids()


def test_the_words_carry_the_limits_in_each_language() -> None:
    over = _refused(replace(GOOD, price=500_001, units=600_000))
    assert field_messages(over, "zh")["price"] == "记名卡售价不得超过 ¥5,000.00"
    assert field_messages(over, "en")["price"] == (
        "a registered card may not be sold for more than CN¥5,000.00"
    )
    assert field_messages(over, "zh")["units"] == "面值不得超过 ¥5,000.00"
    assert describe(over, "zh") == "该卡产品不符合规定，不能销售"
    assert describe(over, "en") == "this product may not be sold"
    short = _refused(replace(GOOD, anonymous=True, price=50_000, units=50_000, validity_days=9))
    assert field_messages(short, "en")["validity_days"] == (
        "an anonymous card must be valid for at least 1096 days (3 years)"
    )
    clause = _refused(replace(GOOD, terms="Balance is non-refundable."))
    assert field_messages(clause, "zh")["terms"] == (
        "条款含有“non-refundable”：卡产品不得拒绝退款或使余额作废"
    )


def _code(first17: str) -> str:
    return first17 + check_character(first17)


def test_credit_codes_are_refused_with_a_code_and_english_words_for_reports() -> None:
    good = _code("91330102MA2XXXXX1")
    assert uscc_fault(good) is None
    assert uscc_problem(good) is None
    typo = good[:17] + ("0" if good[17] != "0" else "1")
    fault = uscc_fault(typo)
    assert fault is not None
    assert fault.code == "uscc-check-character"
    assert uscc_problem(typo) == (
        "the check character does not match; please check the code for a typo"
    )
    short = uscc_fault("ABC")
    assert short is not None
    assert (short.code, short.params) == ("uscc-length", {"uscc_length": 18, "uscc_given": 3})
    assert uscc_problem("ABC") == "a unified social credit code has 18 characters, this one has 3"
    bad = uscc_fault("91330102MA2XXXXXIO")
    assert bad is not None
    assert bad.code == "uscc-characters"
    division = uscc_fault(_code("913301X2MA2XXXXX1"))
    assert division is not None
    assert division.code == "uscc-division"


def test_every_sales_block_says_why_in_both_languages() -> None:
    known = message_ids()
    assert all(f"error.{code}" in known for code in WHY.values())
