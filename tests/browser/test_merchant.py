"""A merchant's day in the console, in Chromium: products, the counter QR, redeeming a
customer's code, answering a complaint; and the overview on a phone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.browser.conftest import shot
from tests.browser.journeys import fits_phone, sign_in
from tests.e2e.api import Api, add_rating, buy_registered, complain, reason, redemption_code

if TYPE_CHECKING:
    from playwright.async_api import Page


async def define_products(page: Page) -> None:
    """One product refused with the error beside its field, then corrected."""
    await page.click("nav.m-tabs >> text=卡产品")
    await page.fill("input[name=name]", "储值卡 1000 元")
    await page.select_option("select[name=kind]", "stored_value")
    await page.fill("input[name=price]", "1200")
    await page.fill("input[name=units]", "1000")
    await page.click("#new-product button[type=submit]")
    beside = page.locator("#price-error")
    await beside.wait_for()
    assert await beside.inner_text() == "售价不得高于卡面值"
    assert await page.locator("input[name=price]").get_attribute("aria-invalid") == "true"
    assert await page.locator("input[name=name]").input_value() == "储值卡 1000 元"
    await shot(page, "merchant-product-refused")
    await page.fill("input[name=price]", "800")
    await page.click("#new-product button[type=submit]")
    await page.wait_for_url(lambda url: "/console/products?done=created" in url)
    assert "已创建" in await page.locator(".flash").inner_text()
    row = page.locator("table.m-products tbody tr")
    assert await row.count() == 1
    assert "¥800.00" in await row.inner_text()
    await shot(page, "merchant-products")


async def see_counter_qr(page: Page) -> None:
    """The QR image loads (from the API, with the session cookie) and the downloads are there."""
    await page.click("nav.m-tabs >> text=收款码")
    await page.wait_for_function(
        "() => { const i = document.getElementById('counter-qr'); return i && i.complete; }"
    )
    assert await page.evaluate("document.getElementById('counter-qr').naturalWidth") > 0
    for label in ("打印海报 PDF", "二维码 PNG", "二维码 SVG"):
        assert await page.get_by_role("link", name=label).get_attribute("download")
    await shot(page, "merchant-qr")


async def redeem_typed_digits(page: Page, digits: str) -> None:
    await page.click("nav.m-tabs >> text=核销")
    await page.fill("input[name=code]", digits)
    await page.fill("input[name=units]", "50")
    await page.click("button[type=submit].primary")
    receipt = page.locator(".m-receipt")
    await receipt.wait_for()
    said = await receipt.inner_text()
    assert "¥50.00" in said  # taken
    assert "¥950.00" in said  # face value left
    assert await page.locator("input[name=code]").input_value() == ""
    await shot(page, "merchant-redeem")


async def answer_complaint(page: Page, dispute_id: str) -> None:
    await page.click("nav.m-tabs >> text=投诉")
    item = page.locator(f"[data-dispute='{dispute_id}']")
    assert "预约了三次都说没有教练" in await item.inner_text()
    assert "待您答复" in await item.inner_text()
    await shot(page, "merchant-complaints")
    await item.locator("textarea[name=text]").fill("已为您安排固定教练，并补偿两次课")
    await item.locator("input[name=offer]").fill("100")
    await item.locator("button[type=submit]").click()
    await page.wait_for_url(lambda url: "/console/complaints?done=answered" in url)
    assert "转监管部门调解" in await page.locator(".flash").inner_text()
    assert "监管调解中" in await item.inner_text()
    await shot(page, "merchant-complaint-answered")


async def test_merchant_sells_redeems_and_answers(desktop: Page, bapi: Api) -> None:
    shop = await bapi.active_merchant()
    await sign_in(desktop, shop["username"], "/console")
    assert await desktop.locator("h1").inner_text() == shop["merchant"]["legal_name"]
    assert await desktop.locator("[data-grade]").inner_text() == "NR"
    await shot(desktop, "merchant-overview")
    await define_products(desktop)
    await see_counter_qr(desktop)

    (product,) = await bapi.call("GET", "/merchants/me/products", shop["token"])
    consumer, order = await buy_registered(bapi, shop, product)
    card_id = order["card_id"]
    code = await redemption_code(bapi, consumer, card_id, 5_000)
    await redeem_typed_digits(desktop, code["digits"])

    filed = await complain(
        bapi, consumer, card_id, "not_delivered", "预约了三次都说没有教练", 20_000
    )
    await answer_complaint(desktop, filed["id"])

    desktop.once("dialog", lambda dialog: dialog.accept())
    await desktop.click("nav.m-tabs >> text=卡产品")
    await desktop.click("table.m-products button.danger")
    await desktop.wait_for_url(lambda url: "/console/products?done=retired" in url)
    assert "已停售" in await desktop.locator("table.m-products").inner_text()


async def test_overview_fits_a_phone(phone: Page, bapi: Api) -> None:
    shop = await bapi.active_merchant()
    await add_rating(
        bapi,
        shop["merchant"]["id"],
        [
            reason("tax_arrears_fen", 120_000.0, 0.0, 0.12),
            reason("complaints_count_30d", 6.0, 0.0, 0.06),
            reason("social_security_headcount", 1.0, 6.0, 0.03),
        ],
        probability=0.31,
    )
    await sign_in(phone, shop["username"], "/console")
    assert await phone.locator("[data-grade]").inner_text() == "D"
    advice = phone.locator(".m-advice li")
    assert await advice.count() == 3
    assert "缴清欠税" in await advice.first.inner_text()
    await fits_phone(phone)
    await shot(phone, "merchant-overview-phone")
    await phone.click("a.lang")
    await phone.locator(".m-advice").wait_for()
    assert "pay it down" in await phone.locator(".m-advice").inner_text()
    await shot(phone, "merchant-overview-phone-en")
