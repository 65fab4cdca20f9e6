"""The merchant console over HTTP: signed in through the form, pages in both languages, errors
beside the fields, and nothing reachable that is not the merchant's own."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from html import unescape
from typing import Any

from sqlalchemy import update

from app.auth.models import Role
from app.clock import utcnow
from app.i18n.errors import say
from app.pages.forms import parse_yuan
from app.pages.merchant import explain
from app.supervision.models import Dispute
from scoring import CATALOGUE
from tests.e2e.api import (
    SESSIONS,
    STORED,
    Api,
    add_rating,
    bearer,
    buy_registered,
    complain,
    counter_of,
    reason,
    redeem,
    redemption_code,
    shop_with,
    sign_in_form,
)

PAGES = {
    "/console": "销售与结算",
    "/console/products": "新建卡产品",
    "/console/qr": "柜台收款码",
    "/console/redeem": "核销码",
    "/console/refunds": "退款申请",
    "/console/complaints": "投诉",
}
UNTRANSLATED = re.compile(r">[^<]*\bm_[a-z]")
"""A message key shown as text: a ``t("m_…")`` without words."""


async def sign_in(api: Api, username: str) -> None:
    """Sign in through the page's form, as a browser does; the client keeps the cookie."""
    response = await sign_in_form(api.client, username)
    assert response.headers["location"] == "/console"


def words(code: str, **params: object) -> str:
    """What a Chinese page says for error ``code`` (its words are its area's catalogue's)."""
    return say("zh", code, params)


def error_beside(text: str, field: str) -> str:
    """The error shown next to ``field`` (the ``<small id="field-error">`` the macro writes)."""
    found = re.search(rf'<small class="error" id="{field}-error">([^<]*)</small>', text)
    assert found, f"no error beside {field}"
    assert f'aria-describedby="{field}-error"' in text
    return unescape(found.group(1))


def test_every_feature_has_words_and_advice_follows_its_direction() -> None:
    for kind in CATALOGUE:
        said = explain(reason(kind.feature, 1.0, 0.0, 0.1), "zh")
        assert "m_" not in said.said + said.advice, kind.feature
    tax = explain(reason("tax_arrears_fen", 120_000.0, 0.0, 0.12), "en")
    assert tax.advice == "overdue tax: CN¥1,200.00 → pay it down (typical: CN¥0.00)"
    staff = explain(reason("social_security_headcount", 1.0, 6.0, 0.02), "en")
    assert "enrol your staff" in staff.advice
    assert "(typical: 6)" in staff.advice
    missing = explain(reason("bank_inflow_trend_pct", None, 0.0, 0.01), "zh")
    assert "确保该项数据如实报送" in missing.advice
    assert missing.source is None
    better = explain(reason("tax_filing_gap_months", 0.0, 1.0, 0.001), "en")
    assert "keep it so" in better.advice
    surge = explain(reason("sales_surge_pct", 240.0, 0.0, 0.05), "zh")
    assert (
        surge.advice == "预付卡销售较平常的变化（%）：240 → 平稳售卡，避免突击售卡（一般商户：0）"
    )


def test_yuan_fields_parse_to_fen() -> None:
    assert parse_yuan("800") == 80_000
    assert parse_yuan("¥1,000.5") == 100_050
    assert parse_yuan(" 0.01 ") == 1
    for bad in ("", "abc", "1.234", "-5", "1e3"):
        assert parse_yuan(bad) is None


async def test_console_pages_render_in_chinese_and_english(api: Api) -> None:
    shop, _ = await shop_with(api, STORED)
    await sign_in(api, shop["username"])
    for path, words in PAGES.items():
        response = await api.client.get(path)
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"].startswith("text/html")
        assert words in response.text, path
        assert not UNTRANSLATED.search(response.text), path
        assert 'aria-current="page"' in response.text
    api.client.cookies.set("lang", "en")
    english = await api.client.get("/console")
    assert "Sales and settlement" in english.text
    assert "Not rated yet" in english.text
    assert not UNTRANSLATED.search(english.text)


async def test_overview_says_why_the_grade_and_what_would_improve_it(api: Api) -> None:
    shop, _ = await shop_with(api, STORED)
    await add_rating(
        api,
        shop["merchant"]["id"],
        [
            reason("tax_arrears_fen", 120_000.0, 0.0, 0.12),
            reason("social_security_headcount", 1.0, 6.0, 0.03),
        ],
        probability=0.31,
    )
    await sign_in(api, shop["username"])
    page = (await api.client.get("/console")).text
    assert 'data-grade="D"' in page
    # as a person says it (against a typical merchant), and what would bring it down
    assert "欠税金额 ¥1,200.00，高于一般商户（¥0.00）" in page
    assert "个百分点" not in page
    assert "欠税金额：¥1,200.00 → 缴清欠税（一般商户：¥0.00）" in page
    assert '来源：<span translate="no">税务局 feed</span>，截至 2025-01-02' in page
    api.client.cookies.set("lang", "en")
    english = (await api.client.get("/console")).text
    assert "overdue tax: CN¥1,200.00 → pay it down (typical: CN¥0.00)" in english
    assert "employees with social insurance: 1 → enrol your staff in social insurance" in english


async def test_product_form_shows_each_error_beside_its_field(api: Api) -> None:
    shop, _ = await shop_with(api)
    await sign_in(api, shop["username"])
    unreadable = await api.client.post(
        "/console/products", data={"name": "", "kind": "stored_value", "price": "abc", "units": ""}
    )
    assert unreadable.status_code == 200
    assert error_beside(unreadable.text, "name") == "必填"
    assert "金额" in error_beside(unreadable.text, "price")
    assert error_beside(unreadable.text, "units")
    above_face = await api.client.post(
        "/console/products",
        data={"name": "年卡", "kind": "stored_value", "price": "900", "units": "800"},
    )
    assert error_beside(above_face.text, "price") == "售价不得高于卡面值"
    assert "该卡产品不符合规定" in above_face.text  # the form's message, above it
    assert 'value="年卡"' in above_face.text  # what was typed stays
    no_refund = await api.client.post(
        "/console/products",
        data={
            "name": "次卡",
            "kind": "sessions",
            "price": "300",
            "units": "10",
            "anonymous": "on",
            "terms": "售出概不退款",
        },
    )
    assert "概不退" in error_beside(no_refund.text, "terms")
    assert "有效期至少" in error_beside(no_refund.text, "validity_days")
    api.client.cookies.set("lang", "en")
    english = await api.client.post(
        "/console/products",
        data={"name": "年卡", "kind": "stored_value", "price": "900", "units": "800"},
    )
    assert error_beside(english.text, "price") == "the price may not be above the card's face value"
    api.client.cookies.delete("lang")
    made = await api.client.post(
        "/console/products",
        data={"name": "私教 10 次", "kind": "sessions", "price": "3,000", "units": "10"},
        follow_redirects=False,
    )
    assert made.status_code == 303
    assert made.headers["location"] == "/console/products?done=created"
    listed = await api.call("GET", "/merchants/me/products", shop["token"])
    assert [(p["name"], p["price"], p["units"]) for p in listed] == [("私教 10 次", 300_000, 10)]
    page = (await api.client.get("/console/products?done=created")).text
    assert "卡产品已创建" in page
    assert "data-confirm=" in page


async def test_retiring_works_for_own_products_only(api: Api) -> None:
    mine, (own,) = await shop_with(api, STORED)
    theirs, (other,) = await shop_with(api, STORED)
    await sign_in(api, mine["username"])
    foreign = await api.client.post(f"/console/products/{other['id']}/retire")
    assert foreign.status_code == 404
    assert foreign.headers["content-type"].startswith("text/html")
    assert "未找到" in foreign.text  # the status, in the page's language
    assert "没有这个卡产品" in foreign.text  # error.product-not-found
    still = await api.call("GET", "/merchants/me/products", theirs["token"])
    assert still[0]["status"] == "active"
    retired = await api.client.post(f"/console/products/{own['id']}/retire", follow_redirects=False)
    assert retired.headers["location"] == "/console/products?done=retired"
    assert (await api.call("GET", "/merchants/me/products", mine["token"]))[0]["status"] == (
        "retired"
    )
    forged = await api.client.post(
        f"/console/products/{own['id']}/retire", headers={"origin": "https://evil.example"}
    )
    assert forged.status_code == 403


async def test_only_merchants_get_the_console(api: Api) -> None:
    visitor = await api.client.get("/console/products", follow_redirects=False)
    assert visitor.status_code == 303
    assert visitor.headers["location"] == "/login?next=/console/products"
    await sign_in_form(api.client, await api.staff_user(Role.REGULATOR, "上城区"))
    for path in PAGES:
        refused = await api.client.get(path)
        assert refused.status_code == 403, path
        assert refused.headers["content-type"].startswith("text/html")
    consumer = await api.consumer()
    refused = await api.client.get("/console", headers=bearer(consumer))
    assert refused.status_code == 403
    assert "<html" in refused.text


async def test_qr_page_and_its_images_work_with_the_session_cookie(api: Api) -> None:
    shop, _ = await shop_with(api, STORED)
    await sign_in(api, shop["username"])
    page = (await api.client.get("/console/qr")).text
    for link in ("/merchants/me/qr.png", "/merchants/me/qr.svg", "/merchants/me/poster.pdf"):
        assert f'href="{link}"' in page
    counter = await counter_of(api, shop["token"])
    assert counter.url.replace("&", "&amp;") in page
    for path, kind in (
        ("/merchants/me/qr.png", "image/png"),
        ("/merchants/me/qr.svg", "image/svg+xml"),
        ("/merchants/me/poster.pdf", "application/pdf"),
        ("/merchants/me/poster.svg", "image/svg+xml"),
    ):
        served = await api.client.get(path)  # no bearer: the cookie alone
        assert served.status_code == 200, (path, served.text)
        assert served.headers["content-type"].startswith(kind)


async def card_holder(api: Api) -> tuple[dict[str, Any], str, str]:
    """An active merchant signed in on the pages, a consumer and the card it bought there."""
    shop, (product,) = await shop_with(api, STORED)
    consumer, order = await buy_registered(api, shop, product)
    await sign_in(api, shop["username"])
    return shop, consumer, order["card_id"]


async def test_redeem_by_typed_digits_with_the_receipt_or_the_error_beside_the_code(
    api: Api,
) -> None:
    _, consumer, card_id = await card_holder(api)
    code = await redemption_code(api, consumer, card_id, 5_000)
    form = (await api.client.get("/console/redeem")).text
    key = re.search(r'name="key" value="([A-Za-z0-9_-]{43})"', form)
    assert key
    other = "000000" if code["digits"] != "000000" else "111111"
    wrong = await api.client.post(
        "/console/redeem",
        data={"code": other, "measure": "yuan", "units": "50", "key": key.group(1)},
    )
    assert error_beside(wrong.text, "code") == words("live-code-not-found")
    forged = await api.client.post(
        "/console/redeem",
        data={"code": "r1.not-a-token", "measure": "yuan", "units": "50", "key": key.group(1)},
    )
    assert error_beside(forged.text, "code") == words("redemption-code-malformed")
    assert "请勿" not in forged.text  # a merchant at the counter, not a consumer being warned
    too_much = await api.client.post(
        "/console/redeem",
        data={"code": code["digits"], "measure": "yuan", "units": "60", "key": key.group(1)},
    )
    assert error_beside(too_much.text, "code") == words(
        "units-above-consent", agreed=5_000, asked=6_000
    )
    unreadable = await api.client.post(
        "/console/redeem",
        data={"code": code["digits"], "measure": "yuan", "units": "5.555", "key": key.group(1)},
    )
    assert "金额" in error_beside(unreadable.text, "units")
    sent = {
        "code": f" {code['digits'][:3]} {code['digits'][3:]} ",
        "measure": "yuan",
        "units": "50",
        "key": key.group(1),
    }
    done = await api.client.post("/console/redeem", data=sent)
    assert 'role="status"' in done.text
    assert "¥50.00" in done.text
    assert "¥950.00" in done.text  # face value left
    assert "¥760.00" in done.text  # refundable at the paid price: 800 × 950 / 1000
    assert key.group(1) not in done.text  # the next redemption gets a key of its own
    again = await api.client.post("/console/redeem", data=sent)  # the browser re-sent it
    assert "重复提交" in again.text
    card = await api.call("GET", f"/me/cards/{card_id}", consumer)
    assert card["balance"]["units_remaining"] == 95_000


async def test_a_token_pasted_from_the_scanner_redeems_sessions(api: Api) -> None:
    shop, (product,) = await shop_with(api, SESSIONS)
    consumer, order = await buy_registered(api, shop, product)
    card_id = order["card_id"]
    code = await redemption_code(api, consumer, card_id, 2)
    await sign_in(api, shop["username"])
    form = (await api.client.get("/console/redeem")).text
    key = re.search(r'name="key" value="([A-Za-z0-9_-]{43})"', form)
    assert key
    done = await api.client.post(
        "/console/redeem",
        data={"code": code["token"], "measure": "sessions", "units": "2", "key": key.group(1)},
    )
    assert 'role="status"' in done.text, done.text
    assert "8 次" in done.text


async def test_refund_requests_are_refused_with_a_reason_or_accepted(api: Api) -> None:
    shop, consumer, card_id = await card_holder(api)
    code = await redemption_code(api, consumer, card_id, 1_000)
    await redeem(api, shop["token"], {"digits": code["digits"], "units": 1_000})
    asked = await api.call(
        "POST",
        f"/me/cards/{card_id}/refund",
        consumer,
        json={"reason": "搬家了"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert asked["status"] == "requested"
    request_id = asked["request_id"]
    listed = (await api.client.get("/console/refunds")).text
    assert "搬家了" in listed
    assert "¥792.00" in listed  # 800 × 990 / 1000
    assert "data-confirm=" in listed
    blank = await api.client.post(f"/console/refunds/{request_id}/refuse", data={"answer": " "})
    assert error_beside(blank.text, f"answer-{request_id}") == words("reason-required")
    accepted = await api.client.post(
        f"/console/refunds/{request_id}/accept", data={"answer": ""}, follow_redirects=False
    )
    assert accepted.headers["location"] == "/console/refunds?done=accepted"
    after = (await api.client.get("/console/refunds?done=accepted")).text
    assert "已同意退款" in after
    assert "¥792.00" in after
    twice = await api.client.post(f"/console/refunds/{request_id}/refuse", data={"answer": "不"})
    answered = words("refund-request-answered", status="accepted")
    assert f'role="alert">{answered}<' in twice.text
    card = await api.call("GET", f"/me/cards/{card_id}", consumer)
    assert card["balance"]["outstanding"] == 0


async def test_complaints_show_their_deadline_and_take_an_answer(api: Api) -> None:
    shop, consumer, card_id = await card_holder(api)
    filed = await complain(api, consumer, card_id, "quality", "教练经常缺席", 10_000)
    waiting = (await api.client.get("/console")).text
    assert "1 条投诉待答复" in waiting
    complaints = (await api.client.get("/console/complaints")).text
    assert "教练经常缺席" in complaints
    assert "m-overdue" not in complaints
    async with api.sessions() as session, session.begin():
        await session.execute(
            update(Dispute)
            .where(Dispute.id == uuid.UUID(filed["id"]))
            .values(deadline_at=utcnow() - timedelta(hours=1))
        )
    late = (await api.client.get("/console/complaints")).text
    assert "m-overdue" in late
    assert "已逾期" in late
    missing = await api.client.post(
        f"/console/complaints/{filed['id']}/answer", data={"text": "", "offer": "abc"}
    )
    assert error_beside(missing.text, f"text-{filed['id']}") == "必填"
    assert error_beside(missing.text, "offer")
    too_big = await api.client.post(
        f"/console/complaints/{filed['id']}/answer", data={"text": "抱歉", "offer": "900"}
    )
    assert "¥800.00" in error_beside(too_big.text, "offer")
    answered = await api.client.post(
        f"/console/complaints/{filed['id']}/answer",
        data={"text": "已安排新教练", "offer": "100"},
        follow_redirects=False,
    )
    assert answered.headers["location"] == "/console/complaints?done=answered"
    dispute = await api.call("GET", f"/merchants/me/disputes/{filed['id']}", shop["token"])
    assert dispute["status"] == "mediation"
    assert dispute["merchant_answer"] == "已安排新教练"
    assert dispute["timeline"][-1]["facts"] == {"offer_fen": 10_000}
    after = (await api.client.get("/console/complaints")).text
    assert "监管处理期限" in after
    assert "m-overdue" not in after
    assert '提出退还 ¥100.00 — <span translate="no">已安排新教练</span>' in after
    again = await api.client.post(
        f"/console/complaints/{filed['id']}/answer", data={"text": "再说一次"}
    )
    assert f'role="alert">{words("dispute-already-answered")}<' in again.text
    elsewhere = await api.client.post(
        f"/console/complaints/{uuid.uuid4()}/answer", data={"text": "?"}
    )
    assert elsewhere.status_code == 404
