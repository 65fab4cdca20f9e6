"""The consumer's pages over HTTP: the scanned code as a page, warnings, sign-in, own cards only."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.auth.middleware import SESSION_COOKIE
from app.auth.models import Role
from app.clock import ManualClock, use_clock, utcnow
from app.insurance.models import Insurer, Policy
from app.pages.consumer import mine
from app.pages.forms import parse_yuan
from tests.e2e.api import (
    ANONYMOUS,
    ID,
    SESSIONS,
    STORED,
    Api,
    add_rating,
    buy_registered,
    complain,
    counter_of,
    flip,
    redeem,
    shop_with,
)

BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def _signed_in(api: Api, token: str) -> None:
    """The pages' session cookie carries the same token as the API's bearer header."""
    api.client.cookies.set(SESSION_COOKIE, token)


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name}"
    return found.group(1)


def test_yuan_typed_in_forms() -> None:
    assert parse_yuan("100") == 10_000
    assert parse_yuan("99.5") == 9_950
    assert parse_yuan(" ¥1,000.01 ") == 100_001
    assert parse_yuan("1.234") is None
    assert parse_yuan("-1") is None
    assert parse_yuan("") is None


async def test_the_scanned_url_is_a_page_for_browsers_and_json_for_apps(api: Api) -> None:
    shop, (stored, anonymous) = await shop_with(api, STORED, ANONYMOUS)
    counter = await counter_of(api, shop["token"])
    page = await api.client.get(counter.path, headers=BROWSER)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "accept" in page.headers["vary"].lower()
    html = page.text
    assert shop["merchant"]["legal_name"] in html
    assert shop["merchant"]["uscc"] in html
    assert "正常经营" in html  # licence status
    assert "未评级" in html  # not rated yet
    assert "杭州银行" in html  # custody bank
    async with api.sessions() as session:  # activation needs the insurer's policy
        name = await session.scalar(
            select(Insurer.name)
            .join(Policy, Policy.insurer_id == Insurer.id)
            .where(Policy.merchant_id == uuid.UUID(counter.merchant_id), Policy.status == "active")
        )
    assert name
    # the insurer, from the active policy (a name: shown as stored, in no language of the page)
    assert f'70% 由 <span translate="no">{name}</span> 的履约保证保险承保' in html
    assert "30% 存入" in html
    assert "70% 由" in html
    assert "近 12 个月投诉" in html
    assert f"/buy/{counter.merchant_id}/{stored['id']}?k=" in html
    assert f"/buy/{counter.merchant_id}/{anonymous['id']}?k=" in html
    assert "¥800.00" in html
    assert "¥1,000.00" in html  # the face value beside the price
    assert '"c_' not in html
    assert ">c_" not in html  # every message is translated

    for accept in (None, "application/json", "application/json, text/html", "*/*"):
        headers = {"accept": accept} if accept else {}
        profile = (await api.client.get(counter.path, headers=headers)).json()
        assert profile["merchant_id"] == shop["merchant"]["id"], accept
        assert profile["products"]

    api.client.cookies.set("lang", "en")
    english = await api.client.get(counter.path, headers=BROWSER)
    assert "How your money is protected" in english.text
    assert "Not rated" in english.text
    api.client.cookies.delete("lang")


async def test_a_rated_merchant_shows_its_grade_and_reasons_in_plain_words(api: Api) -> None:
    shop, _ = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    reasons = [
        {"feature": "complaints_count_30d", "value": 6.0, "reference": 1.0, "contribution": 0.05},
        {"feature": "court_dishonest_debtor", "value": True, "contribution": 0.031},
    ]
    await add_rating(
        api,
        counter.merchant_id,
        reasons,
        model_grade="C",
        overrides=["dishonest-debtor"],
        scored_for=date(2026, 1, 2),
        rated_at=datetime(2026, 1, 1, 16, 30, tzinfo=UTC),
    )
    html = (await api.client.get(counter.path, headers=BROWSER)).text
    assert "grade-D" in html
    assert "#fc8d59" in html  # D's orange
    assert "风险较高" in html
    # as a person would say it: against a typical merchant, not in percentage points
    assert "近30日投诉 6，高于一般商户（1）" in html
    assert "个百分点" not in html
    assert "列入失信被执行人名单：是" in html
    assert "列入失信被执行人名单，等级为 E" in html  # the override, said why
    assert "2026/1/2 00:30" in html  # rated at, Shanghai time, as zh_CN writes it (Babel)


async def test_refused_codes_show_a_warning_page_and_no_way_to_pay(api: Api) -> None:
    shop, (product,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    forged = f"/q/{counter.merchant_id}?k={counter.k}&s={flip(counter.s)}"
    cases = [
        (forged, 403, "不是预付保签发的"),
        (f"/q/{counter.merchant_id}?k=zzzzzzzz&s={counter.s}", 403, "不是预付保签发的"),
        (f"/q/not-a-uuid?k={counter.k}&s={counter.s}", 400, "不是有效的预付保二维码"),
        # a parameter twice is a forged sticker, whichever of the two a page would read
        (
            f"/q/{counter.merchant_id}?k=bad&k={counter.k}&s={counter.s}",
            400,
            "不是有效的预付保二维码",
        ),
        # a code cut short (its signature lost when the link was copied): a warning, not JSON
        (f"/q/{counter.merchant_id}?k={counter.k}", 400, "不是有效的预付保二维码"),
        (f"/q/{counter.merchant_id}", 400, "不是有效的预付保二维码"),
    ]
    for path, status, words in cases:
        page = await api.client.get(path, headers=BROWSER)
        assert page.status_code == status, path
        assert 'class="card warning-page"' in page.text
        assert words in page.text
        assert "/buy/" not in page.text
        assert shop["merchant"]["legal_name"] not in page.text
    # the buy page re-verifies the code
    buy_forged = f"/buy/{counter.merchant_id}/{product['id']}?k={counter.k}&s={flip(counter.s)}"
    refused = await api.client.get(buy_forged, headers=BROWSER)
    assert refused.status_code == 403
    assert "warning-page" in refused.text
    assert "c_pay" not in refused.text
    assert 'method="post"' not in refused.text.split("</header>")[1]
    doubled = f"/buy/{counter.merchant_id}/{product['id']}?k=bad&k={counter.k}&s={counter.s}"
    refused = await api.client.get(doubled, headers=BROWSER)
    assert refused.status_code == 400
    assert "warning-page" in refused.text
    assert 'method="post"' not in refused.text.split("</header>")[1]

    measures = f"/merchants/{counter.merchant_id}/measures"
    body = {"kind": "suspend-sales", "reason": "complaints"}
    await api.call("POST", measures, shop["regulator"], json=body, expect=201)
    suspended = await api.client.get(counter.path, headers=BROWSER)
    assert suspended.status_code == 403
    assert "warning-page" in suspended.text
    assert "暂停该商户售卡" in suspended.text
    assert shop["merchant"]["legal_name"] in suspended.text  # genuine: it says who
    assert "/buy/" not in suspended.text
    assert (await api.client.get(counter.path)).json()["type"].endswith("merchant-sales-suspended")


async def test_consumer_pages_ask_for_the_phone_sign_in(api: Api) -> None:
    for path in ("/my/cards", "/my/complaints", f"/my/cards/{uuid.uuid4()}"):
        response = await api.client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login/phone?next=/my/")
    shop, (registered,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    wanted = f"/buy/{counter.merchant_id}/{registered['id']}?k={counter.k}&s={counter.s}"
    response = await api.client.get(wanted, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login/phone?next=%2Fbuy%2F")
    staff = await api.staff(Role.REGULATOR, "上城区")
    _signed_in(api, staff)
    forbidden = await api.client.get("/my/cards")
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"].startswith("text/html")


async def test_another_consumers_card_and_complaint_are_not_found(api: Api) -> None:
    shop, (product,) = await shop_with(api, STORED)
    owner, order = await buy_registered(api, shop, product)
    card = order["card_id"]
    filed = await complain(api, owner, card, "quality", "坏了", 100)
    _signed_in(api, await api.consumer())
    for path in (f"/my/cards/{card}", f"/my/complaints/{filed['id']}", "/card/not-a-secret"):
        page = await api.client.get(path)
        assert page.status_code == 404, path
        assert page.headers["content-type"].startswith("text/html")
        assert "¥" not in page.text.split("<main>")[1]
    mine = await api.client.get("/my/cards")
    assert "c_cards_empty" not in mine.text
    assert "您还没有卡" in mine.text


async def test_an_anonymous_card_is_bought_paid_and_kept_by_its_link(api: Api) -> None:
    shop, (product,) = await shop_with(api, ANONYMOUS)
    counter = await counter_of(api, shop["token"])
    form = await api.client.get(
        f"/buy/{counter.merchant_id}/{product['id']}?k={counter.k}&s={counter.s}"
    )
    assert form.status_code == 200
    assert 'name="real_name"' not in form.text  # anonymous, under ¥10,000: no real name
    fields = {"k": counter.k, "s": counter.s, "key": _hidden(form.text, "key")}
    target = f"/buy/{counter.merchant_id}/{product['id']}"
    placed = await api.client.post(target, data=fields, follow_redirects=False)
    assert placed.status_code == 303
    pay_url = placed.headers["location"]
    assert pay_url.startswith("/sandbox/pay/sbx_")
    again = await api.client.post(target, data=fields, follow_redirects=False)
    assert again.headers["location"] == pay_url  # a double submit replays the order

    pay_page = await api.client.get(pay_url)
    assert "¥500.00" in pay_page.text
    paid = await api.client.post(f"{pay_url}/confirm", follow_redirects=False)
    assert paid.status_code == 303
    done = await api.client.get(paid.headers["location"])
    assert done.status_code == 200
    assert "请保存这条链接" in done.text
    assert done.headers["cache-control"] == "no-store"
    secret = re.search(r'href="/card/([A-Za-z0-9_-]+)"', done.text)
    assert secret
    card = await api.client.get(f"/card/{secret.group(1)}")
    assert card.status_code == 200
    assert "¥600.00" in card.text  # the face value left
    assert "¥500.00" in card.text  # refundable at the price paid
    assert card.headers["referrer-policy"] == "no-referrer"
    # the link's own code page, followed like a registered card's; only through this link
    code = await api.client.post(f"/card/{secret.group(1)}/code", data={"max_units": "50"})
    assert code.url.path.startswith(f"/card/{secret.group(1)}/code/")
    assert (await api.client.get(f"{code.url.path}/state")).json()["state"] == "waiting"
    code_id = code.url.path.rsplit("/", 1)[1]
    assert (await api.client.get(f"/card/{'A' * 43}/code/{code_id}/state")).status_code == 404
    # unused and within cooling-off: refunded at once, custody's share and the merchant's
    refund = await api.client.post(
        f"/card/{secret.group(1)}/refund", data={"key": _hidden(card.text, "key")}
    )
    assert refund.status_code == 200
    assert "已退还 ¥500.00：存管账户支付 ¥150.00，商户支付 ¥350.00。" in refund.text
    closed = await api.client.get(f"/card/{secret.group(1)}")
    assert "已退款" in closed.text
    assert 'action="/card/' + secret.group(1) + '/code"' not in closed.text
    # a stranger without the cookie cannot read the order's page
    api.client.cookies.clear()
    assert (await api.client.get(paid.headers["location"])).status_code == 404


async def test_a_decision_is_reopened_once_then_confirmed(api: Api) -> None:
    shop, (product,) = await shop_with(api, STORED)
    token, order = await buy_registered(api, shop, product)
    card = order["card_id"]
    _signed_in(api, token)
    filed = await api.client.post(
        f"/my/cards/{card}/complaint",
        data={"kind": "refund_refused", "text": "不给退", "amount_asked": "800.00"},
        follow_redirects=False,
    )
    assert filed.status_code == 303
    page_path = filed.headers["location"].split("?")[0]
    dispute = page_path.rsplit("/", 1)[1]
    twice = await api.client.post(
        f"/my/cards/{card}/complaint",
        data={"kind": "quality", "text": "另一件事", "amount_asked": "1"},
    )
    assert twice.status_code == 409
    assert f'href="{page_path}"' in twice.text  # the open one, to follow instead

    await api.call(
        "POST",
        f"/merchants/me/disputes/{dispute}/answer",
        shop["token"],
        json={"text": "已经上过课"},
    )
    decide = {"decision": "reject", "text": "证据不足"}
    await api.call("POST", f"/disputes/{dispute}/decide", shop["regulator"], json=decide)
    decided = await api.client.get(page_path)
    assert "已有决定，请确认" in decided.text
    assert "投诉不成立" in decided.text
    assert "已经上过课" in decided.text
    blank = await api.client.post(f"{page_path}/reopen", data={"text": " "})
    assert 'id="text-error"' in blank.text
    reopened = await api.client.post(f"{page_path}/reopen", data={"text": "我有聊天记录"})
    assert "已重新提交" in reopened.text
    assert "您要求重新处理" in reopened.text  # the timeline
    decide = {"decision": "partial", "text": "补偿一半", "amount_fen": 40_000}
    await api.call("POST", f"/disputes/{dispute}/decide", shop["regulator"], json=decide)
    confirmed = await api.client.post(f"{page_path}/confirm")
    assert "您已接受决定" in confirmed.text
    assert "部分补偿 ¥400.00" in confirmed.text
    assert "已结束" in confirmed.text
    assert f'action="{page_path}/confirm"' not in confirmed.text


async def _code_shows_its_outcome(
    api: Api, shop: dict[str, Any], card_path: str, token: str
) -> None:
    """A code for 2 sessions: shown at its own address, redeemed for 1, then the page (and the
    card list) say so; nobody else can look at it."""
    code = await api.client.post(f"{card_path}/code", data={"max_units": "2"})
    assert code.status_code == 200
    code_path = code.url.path  # the code has its own address: a reload shows it again
    assert re.fullmatch(rf"{card_path}/code/[0-9a-f-]{{36}}", code_path)
    digits = re.search(r'class="code-digits"[^>]*>(\d{6})<', code.text)
    assert digits
    assert "data:image/svg+xml;base64," in code.text
    assert 'data-state="waiting"' in code.text
    assert re.search(r"data-countdown>[12]:\d\d<", code.text)
    assert (await api.client.get(f"{code_path}/state")).json()["state"] == "waiting"
    again = await api.client.get(code_path)
    assert digits.group(0) in again.text  # the same code, not a new one
    redeemed = await redeem(api, shop["token"], {"digits": digits.group(1), "units": 1})
    assert redeemed["card"]["units_remaining"] == 9
    # the holder's screen follows: the page turns into the outcome
    assert (await api.client.get(f"{code_path}/state")).json()["state"] == "used"
    outcome = await api.client.get(code_path)
    assert 'data-state="used"' in outcome.text
    assert "核销成功" in outcome.text
    assert 'id="code-used">1 次<' in outcome.text
    assert 'id="code-left">余额 9 次<' in outcome.text
    assert "data:image/svg+xml" not in outcome.text  # a used code is not shown again
    listed = await api.client.get("/my/cards")
    assert 'class="notice"' in listed.text
    assert "核销成功 1 次，余额 9 次" in listed.text
    # a code is its holder's: another consumer, or another card's path, finds nothing
    _signed_in(api, await api.consumer())
    assert (await api.client.get(code_path)).status_code == 404
    assert (await api.client.get(f"{code_path}/state")).status_code == 404
    assert "核销成功" not in (await api.client.get("/my/cards")).text
    _signed_in(api, token)


async def test_a_registered_card_code_refund_and_complaint_with_errors_beside_fields(
    api: Api,
) -> None:
    shop, (sessions, stored) = await shop_with(api, SESSIONS, STORED)
    counter = await counter_of(api, shop["token"])
    token = await api.consumer()
    _signed_in(api, token)
    form = await api.client.get(
        f"/buy/{counter.merchant_id}/{sessions['id']}?k={counter.k}&s={counter.s}"
    )
    assert 'name="real_name"' in form.text  # registered: real name needed the first time
    fields = {"k": counter.k, "s": counter.s, "key": _hidden(form.text, "key")}
    bad = await api.client.post(
        f"/buy/{counter.merchant_id}/{sessions['id']}",
        data={**fields, "real_name": "张三", "id_number": "110105194912310021"},
    )
    assert bad.status_code == 200
    assert 'id="id_number-error"' in bad.text
    assert "身份证号无效" in bad.text
    placed = await api.client.post(
        f"/buy/{counter.merchant_id}/{sessions['id']}", data={**fields, **ID}
    )  # follows: pay page
    assert "确认支付" in placed.text
    done = await api.client.post(f"{placed.url.path}/confirm")  # follows to the card
    assert done.url.path.startswith("/my/cards/")
    assert "支付成功" in done.text
    assert "10 / 10 次" in done.text
    card_path = done.url.path
    # the second card needs no real name: it is on file
    second = await api.client.get(
        f"/buy/{counter.merchant_id}/{stored['id']}?k={counter.k}&s={counter.s}"
    )
    assert 'name="real_name"' not in second.text

    too_many = await api.client.post(f"{card_path}/code", data={"max_units": "11"})
    assert too_many.status_code == 422
    assert 'id="max_units-error"' in too_many.text
    await _code_shows_its_outcome(api, shop, card_path, token)

    empty = await api.client.post(
        f"{card_path}/complaint", data={"kind": "quality", "text": " ", "amount_asked": "x"}
    )
    assert empty.status_code == 422
    assert 'id="text-error"' in empty.text
    assert 'id="amount_asked-error"' in empty.text
    filed = await api.client.post(
        f"{card_path}/complaint",
        data={"kind": "quality", "text": "教练不来", "amount_asked": "100"},
    )
    assert filed.url.path.startswith("/my/complaints/")
    assert "投诉已提交" in filed.text
    assert "等待商户答复" in filed.text
    assert "¥100.00" in filed.text
    listed = await api.client.get("/my/complaints")
    assert "教练不来" not in listed.text  # the list says what and where it stands
    assert "服务质量问题" in listed.text
    assert shop["merchant"]["legal_name"] in listed.text

    # used, so the refund request goes to the merchant
    form_page = await api.client.get(card_path)
    refund = await api.client.post(
        f"{card_path}/refund", data={"reason": "搬家", "key": _hidden(form_page.text, "key")}
    )
    assert refund.status_code == 200
    assert "退款申请已提交" in refund.text
    again = await api.client.post(f"{card_path}/refund", data={"reason": "搬家", "key": "k" * 40})
    assert again.status_code == 409
    assert 'class="flash error"' in again.text


async def test_an_unknown_address_is_a_page_for_browsers_and_problem_json_for_apps(
    api: Api,
) -> None:
    page = await api.client.get("/no-such-page/here", headers=BROWSER)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "这个地址没有页面" in page.text
    assert 'href="/"' in page.text  # a way home
    english = await api.client.get("/no-such-page/here?lang=en", headers=BROWSER)
    assert "There is no page at this address" in english.text
    for accept in (None, "application/json", "*/*"):
        headers = {"accept": accept} if accept else {}
        answer = await api.client.get("/no-such-page/here", headers=headers)
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["status"] == 404


async def test_a_stored_value_code_asks_the_amount_and_tells_when_it_expired(api: Api) -> None:
    shop, (stored,) = await shop_with(api, STORED)
    token, paid = await buy_registered(api, shop, stored)
    _signed_in(api, token)
    card_path = f"/my/cards/{paid['card_id']}"
    page = await api.client.get(card_path)
    # the amount is the consumer's to say: not prefilled with the whole balance
    field = re.search(r'<input name="max_units"[^>]*>', page.text)
    assert field
    assert 'value=""' in field.group(0)
    assert "卡内余额 ¥1,000.00" in page.text
    empty = await api.client.post(f"{card_path}/code", data={"max_units": ""})
    assert empty.status_code == 422
    code = await api.client.post(f"{card_path}/code", data={"max_units": "50"})
    assert "本次最多 ¥50.00" in code.text
    with use_clock(ManualClock(utcnow() + timedelta(minutes=3))):
        assert (await api.client.get(f"{code.url.path}/state")).json()["state"] == "expired"
        expired = await api.client.get(code.url.path)
    assert 'data-state="expired"' in expired.text
    assert "核销码已过期" in expired.text
    assert 'name="max_units" value="50.00"' in expired.text  # one tap makes a new one
    assert "data:image/svg+xml" not in expired.text


async def test_a_bug_behind_a_page_is_an_error_page_with_the_id_to_quote(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> None:
        msg = "secret internals"
        raise RuntimeError(msg)

    monkeypatch.setattr(mine, "code_page", broken)
    _signed_in(api, await api.consumer())
    page = await api.client.get(f"/my/cards/{uuid.uuid4()}/code/{uuid.uuid4()}", headers=BROWSER)
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert "系统出了问题，没有做任何改动" in page.text
    assert page.headers["x-request-id"] in page.text
    assert "secret" not in page.text
    # (the API keeps problem+json for its own routes: test_http.py, the "bug" case)
