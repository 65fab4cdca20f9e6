"""The console's product form: read by the one form parser, refused by the one rule set."""

from __future__ import annotations

from app.exceptions import Invalid
from app.merchants.rules import product_problems
from app.pages.merchant.products import read_product
from app.pages.render import FORM, refusal
from app.settings import CardRules


def test_the_form_is_read_into_a_draft_in_fen() -> None:
    draft, unreadable = read_product(
        {"name": " 年卡 ", "kind": "stored_value", "price": "¥800", "units": "1,000.00"}
    )
    assert unreadable == {}
    assert (draft.price, draft.units, draft.validity_days, draft.anonymous) == (
        80_000,
        100_000,
        None,
        False,
    )
    sessions, _ = read_product(
        {"kind": "sessions", "price": "3000", "units": "10", "validity_days": "1096"}
    )
    assert (sessions.units, sessions.validity_days) == (10, 1096)


def test_what_cannot_be_read_is_said_and_never_sold() -> None:
    draft, unreadable = read_product(
        {"name": "x", "kind": "sessions", "price": "abc", "units": "2.5", "validity_days": "一年"}
    )
    assert unreadable == {"price": "m_err_yuan", "units": "m_err_count"}
    fields = product_problems(draft, CardRules()).fields
    assert {"price", "units", "validity_days"} <= fields.keys()  # 0 is refused by the rules


def test_a_refusal_goes_beside_its_fields_or_the_default_one() -> None:
    named = Invalid("product-refused", fields={"price": "product-price-above-face"})
    assert refusal(named, "zh", default_field="name") == {
        "price": "售价不得高于卡面值",
        FORM: "该卡产品不符合规定，不能销售",  # the whole refusal, above the form
    }
    bare = Invalid("product-not-found")
    assert refusal(bare, "en", default_field="code") == {"code": "no such product"}
