"""A holder of a closing merchant's card chooses on a phone, in Chinese and in English.

Screenshots: ``test-output/screenshots/closure-*.png``.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from app.clock import today
from app.i18n.catalogues import LANG_COOKIE
from tests.browser.conftest import shot
from tests.browser.journeys import fits_phone
from tests.e2e.api import SESSIONS, STORED, Api, buy_registered

if TYPE_CHECKING:
    from playwright.async_api import Page


async def _sign_in_by_phone(phone: Page, bapi: Api, number: str, lang: str) -> None:
    """The consumer signs in with the code texted to ``number``, reading ``lang``."""
    await phone.goto("/")
    await phone.context.add_cookies(
        [{"name": LANG_COOKIE, "value": lang, "url": urljoin(phone.url, "/")}]
    )
    await phone.goto("/login/phone?next=/my/cards")
    await phone.fill("input[name=phone]", number)
    await phone.click('form[action="/login/phone/code"] button[type=submit]')
    await phone.locator("input[name=code]").wait_for()
    await phone.fill("input[name=code]", await bapi.last_sms_code(number))
    await phone.click('form[action="/login/phone"] button[type=submit]')
    await phone.wait_for_url("**/my/cards")


async def _closing_school(bapi: Api) -> dict[str, Any]:
    """A school closing in 30 days with a successor that accepted: cards of two holders."""
    school = await bapi.active_merchant()
    lessons, stored = [
        await bapi.call("POST", "/merchants/me/products", school["token"], json=p, expect=201)
        for p in (SESSIONS, STORED)
    ]
    successor = await bapi.active_merchant()
    new_lessons = await bapi.call(
        "POST",
        "/merchants/me/products",
        successor["token"],
        json={**SESSIONS, "name": "私教课 10 次"},
        expect=201,
    )
    numbers = {lang: f"138{secrets.randbelow(10**8):08d}" for lang in ("zh", "en")}
    cards = {}
    for lang, number in numbers.items():
        token = await bapi.consumer(number)
        bought = lessons if lang == "zh" else stored
        cards[lang] = (await buy_registered(bapi, school, bought, token))[1]["card_id"]
    closes_on = (today() + timedelta(days=30)).isoformat()
    closure = await bapi.call(
        "POST",
        "/closures",
        school["token"],
        json={"kind": "closure", "closes_on": closes_on, "reason": "租约到期，停止营业"},
        expect=201,
    )
    offer = await bapi.call(
        "POST",
        f"/closures/{closure['id']}/successors",
        school["regulator"],
        json={
            "successor_id": successor["merchant"]["id"],
            "terms": [{"from": lessons["id"], "to": new_lessons["id"], "per_unit": 1}],
        },
        expect=201,
    )
    await bapi.call("POST", f"/closures/offers/{offer['id']}/accept", successor["token"])
    return {
        "school": school,
        "successor": successor,
        "closure": closure,
        "offer": offer,
        "numbers": numbers,
        "cards": cards,
    }


async def test_a_holder_moves_a_card_in_chinese_and_another_takes_a_refund_in_english(
    phone: Page, bapi: Api
) -> None:
    world = await _closing_school(bapi)
    school, successor = world["school"], world["successor"]

    # Chinese: the card list says to choose; the card says when and lets the holder move it
    await _sign_in_by_phone(phone, bapi, world["numbers"]["zh"], "zh")
    assert await phone.locator(".choose-now").count() == 1
    await shot(phone, "closure-cards-zh")
    await phone.click(".card-row")
    notice = phone.locator("#closure")
    assert "停业" in await notice.locator("h2").inner_text()
    assert successor["merchant"]["legal_name"] in await notice.inner_text()
    await shot(phone, "closure-choose-zh")
    await phone.check(f'input[value="transfer:{world["offer"]["id"]}"]')
    await phone.click("form.closure-choice button[type=submit]")
    await phone.wait_for_url("**?done=closure-transfer*")
    assert await phone.locator("#closure").get_attribute("data-choice") == "transfer"
    assert "已保存" in await phone.locator(".flash").inner_text()
    await fits_phone(phone, "the card of a closing merchant (zh)")
    await shot(phone, "closure-chosen-zh")

    # the regulator's bulk run moves it: the old card leads to the new one, at the successor
    await bapi.call("POST", f"/closures/{world['closure']['id']}/transfers", school["regulator"])
    await phone.reload()
    assert await phone.locator("#closure").get_attribute("data-outcome") == "transferred"
    await phone.click("#closure a.button")
    await phone.wait_for_url("**/my/cards/*")
    assert successor["merchant"]["legal_name"] in await phone.locator(".balance-card").inner_text()
    assert school["merchant"]["legal_name"] in await phone.locator(".came-from").inner_text()
    assert "10" in await phone.locator(".sessions-left").inner_text()
    assert await phone.locator(".contract .continues").inner_text() == world["cards"]["zh"]
    await fits_phone(phone, "the card taken over (zh)")
    await shot(phone, "closure-new-card-zh")
    await phone.context.clear_cookies()

    # English: a stored-value card no successor takes; its holder takes the refund at once
    await _sign_in_by_phone(phone, bapi, world["numbers"]["en"], "en")
    await phone.click(".card-row")
    notice = phone.locator("#closure")
    assert "closes on" in await notice.locator("h2").inner_text()
    assert "No other merchant" in await notice.inner_text()
    await shot(phone, "closure-choose-en")
    await phone.check('input[value="refund"]')
    await phone.click("form.closure-choice button[type=submit]")
    await phone.wait_for_url("**?done=closure-refund*")
    assert await phone.locator("#closure").get_attribute("data-outcome") == "refunded"
    assert "Refunded: CN¥800.00" in await phone.locator("#closure").inner_text()
    await fits_phone(phone, "the card of a closing merchant (en)")
    await shot(phone, "closure-refunded-en")
