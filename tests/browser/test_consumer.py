"""A consumer at phone width: scan the counter code, sign in by SMS, buy, pay, use, complain.

Every page is photographed (``test-output/screenshots/consumer-*.png``).
"""

from __future__ import annotations

import io
import re
import secrets
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import zxingcpp
from PIL import Image

from tests.browser.conftest import shot
from tests.browser.journeys import fits_phone
from tests.e2e.api import (
    ANONYMOUS,
    ID,
    STORED,
    Api,
    add_rating,
    counter_of,
    flip,
    redeem,
    shop_with,
)

if TYPE_CHECKING:
    from playwright.async_api import Page


async def _submit(page: Page, form: str) -> None:
    await page.click(f"{form} button[type=submit]")


async def _scan_sign_in_and_buy(phone: Page, bapi: Api, shop: dict[str, Any], stored: Any) -> str:
    """From the counter code to a paid registered card; returns the card page's URL."""
    counter = await counter_of(bapi, shop["token"])
    number = f"139{secrets.randbelow(10**8):08d}"

    # the counter code opens the merchant page
    await phone.goto(counter.path)
    assert await phone.locator("h1").inner_text() == shop["merchant"]["legal_name"]
    assert await phone.locator("a.buy").count() == 2
    assert "30%" in await phone.locator("section.protection").inner_text()
    await shot(phone, "consumer-merchant")

    # a registered card: sign in by SMS first, then back to the purchase
    await phone.click(f'a.buy[href*="{stored["id"]}"]')
    await phone.wait_for_url("**/login/phone?next=*")
    await phone.fill("input[name=phone]", number)
    await _submit(phone, 'form[action="/login/phone/code"]')
    await phone.locator("input[name=code]").wait_for()
    await shot(phone, "consumer-sign-in")
    await phone.fill("input[name=code]", await bapi.last_sms_code(number))
    await _submit(phone, 'form[action="/login/phone"]')
    await phone.wait_for_url("**/buy/**")

    # the real name is asked for; a wrong ID number is shown beside its field
    await phone.fill("input[name=real_name]", ID["real_name"])
    await phone.fill("input[name=id_number]", "110105194912310021")
    await shot(phone, "consumer-buy")
    await _submit(phone, "form.buy-form")
    await phone.locator("#id_number-error").wait_for()
    await shot(phone, "consumer-buy-error")
    await phone.fill("input[name=real_name]", ID["real_name"])
    await phone.fill("input[name=id_number]", ID["id_number"])
    await _submit(phone, "form.buy-form")

    # the sandbox provider's pay page, then the new card
    await phone.wait_for_url("**/sandbox/pay/*")
    assert "¥800.00" in await phone.locator("main").inner_text()
    await shot(phone, "consumer-pay")
    await _submit(phone, 'form[action$="/confirm"]')
    await phone.wait_for_url("**/my/cards/*?done=paid")
    return phone.url.split("?")[0]


async def _redeem_like_a_payment_app(phone: Page, bapi: Api, shop: dict[str, Any]) -> None:
    """A redemption code like a payment app's: the consumer says how much, sees the code count
    down, and the page turns into the outcome the moment the merchant redeems."""
    assert await phone.input_value("input[name=max_units]") == ""
    await phone.fill("input[name=max_units]", "100")
    await shot(phone, "consumer-redeem-before")
    await _submit(phone, 'form[action$="/code"]')
    digits = phone.locator(".code-digits")
    await digits.wait_for()
    assert re.fullmatch(r"\d{6}", await digits.inner_text())
    assert await phone.locator(".qr img").count() == 1
    countdown = phone.locator("[data-countdown]")
    first = await countdown.inner_text()
    await phone.wait_for_function(
        "(first) => document.querySelector('[data-countdown]').textContent !== first", arg=first
    )
    assert re.fullmatch(r"[0-2]:\d\d", await countdown.inner_text())
    await shot(phone, "consumer-redeem-during")
    # the merchant's scanner reads the code off the screen: a real image, a real decoder
    shown = Image.open(io.BytesIO(await phone.locator(".qr img").screenshot()))
    scanned = zxingcpp.read_barcodes(shown, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(scanned) == 1
    await redeem(bapi, shop["token"], {"token": scanned[0].text, "units": 1000})
    await phone.locator("#code-outcome[data-state=used]").wait_for(timeout=15_000)
    assert await phone.locator("#code-used").inner_text() == "¥10.00"
    assert await phone.locator("#code-left").inner_text() == "余额 ¥990.00"
    await shot(phone, "consumer-redeem-after")
    await phone.click('header a[href="/my/cards"]')
    await phone.wait_for_url("**/my/cards")
    notice = await phone.locator(".notice").inner_text()
    assert "核销成功 ¥10.00，余额 ¥990.00" in notice
    await shot(phone, "consumer-cards-notice")


async def test_scan_sign_in_buy_pay_use_and_complain(phone: Page, bapi: Api) -> None:
    shop, (stored, _) = await shop_with(bapi, STORED, ANONYMOUS)
    card_url = await _scan_sign_in_and_buy(phone, bapi, shop, stored)
    assert await phone.locator(".big-number.balance").inner_text() == "¥1,000.00"
    assert "¥800.00" in await phone.locator(".refundable").inner_text()
    await shot(phone, "consumer-card")

    await _redeem_like_a_payment_app(phone, bapi, shop)

    # a complaint: asking back more than was paid is refused beside the field
    await phone.goto(card_url + "/complaint")
    await phone.select_option("select[name=kind]", "not_delivered")
    await phone.fill("textarea[name=text]", "付款后一直约不上课")
    await phone.fill("input[name=amount_asked]", "9999")
    await _submit(phone, 'form[action$="/complaint"]')
    await phone.locator("#amount_asked-error").wait_for()
    await shot(phone, "consumer-complaint-error")
    await phone.fill("input[name=amount_asked]", "800")
    await _submit(phone, 'form[action$="/complaint"]')
    await phone.wait_for_url("**/my/complaints/*?done=filed")
    assert "等待商户答复" in await phone.locator("main").inner_text()
    await shot(phone, "consumer-complaint")
    await phone.click('header a[href="/my/complaints"]')
    await phone.wait_for_url("**/my/complaints")
    assert shop["merchant"]["legal_name"] in await phone.locator("main").inner_text()
    await shot(phone, "consumer-complaints")
    await phone.click('header a[href="/my/cards"]')
    await phone.wait_for_url("**/my/cards")
    assert "¥990.00" in await phone.locator("main").inner_text()
    await shot(phone, "consumer-cards")

    # the whole journey fits the phone: nothing wider than the screen
    await fits_phone(phone)


async def test_an_anonymous_card_gives_a_link_to_save(phone: Page, bapi: Api) -> None:
    shop, (anonymous,) = await shop_with(bapi, ANONYMOUS)
    counter = await counter_of(bapi, shop["token"])
    await phone.goto(counter.path)
    await phone.click(f'a.buy[href*="{anonymous["id"]}"]')
    await phone.wait_for_url("**/buy/**")
    await shot(phone, "consumer-buy-anonymous")
    await _submit(phone, "form.buy-form")
    await phone.wait_for_url("**/sandbox/pay/*")
    await _submit(phone, 'form[action$="/confirm"]')
    await phone.wait_for_url("**/orders/*/done")
    link = phone.locator("a.card-link")
    assert "/card/" in await link.inner_text()
    await shot(phone, "consumer-save-link")
    await link.click()
    await phone.wait_for_url("**/card/*")
    assert await phone.locator(".big-number.balance").inner_text() == "¥600.00"
    await shot(phone, "consumer-anonymous-card")


async def test_a_forged_counter_code_shows_a_warning_and_no_buy_button(
    phone: Page, bapi: Api
) -> None:
    shop, _ = await shop_with(bapi, STORED)
    counter = await counter_of(bapi, shop["token"])
    response = await phone.goto(f"/q/{counter.merchant_id}?k={counter.k}&s={flip(counter.s)}")
    assert response is not None
    assert response.status == 403
    warning = phone.locator(".warning-page")
    assert await warning.count() == 1
    assert "请勿" in await warning.inner_text()
    assert await phone.locator("a.buy").count() == 0
    assert await phone.locator("main form").count() == 0
    await shot(phone, "consumer-forged")
    await phone.click("a.lang")
    assert "Do not pay" in await phone.locator("h1").inner_text()
    await shot(phone, "consumer-forged-en")


async def test_a_rated_merchant_page_shows_the_grade_colour_and_reasons(
    phone: Page, bapi: Api
) -> None:
    shop, _ = await shop_with(bapi, STORED)
    counter = await counter_of(bapi, shop["token"])
    reasons = [
        {"feature": "complaints_count_30d", "value": 6.0, "contribution": 0.052},
        {"feature": "sales_max_discount_pct", "value": 45.0, "contribution": 0.021},
    ]
    await add_rating(
        bapi,
        counter.merchant_id,
        reasons,
        scored_for=date(2026, 1, 2),
        rated_at=datetime(2026, 1, 1, 8, 0, tzinfo=UTC),
    )
    await phone.goto(counter.path)
    badge = phone.locator(".risk .grade")
    assert await badge.inner_text() == "D"
    colour = await badge.evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour == "rgb(252, 141, 89)"  # D's orange
    assert await phone.locator(".reasons li").count() == 2
    await shot(phone, "consumer-merchant-rated")
