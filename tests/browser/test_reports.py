"""The regulator's report page in Chromium, in Chinese and in English: the month's figures, a
switch to the quarter, the downloads; and the dashboard's matrix and hot spots."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from app.auth.models import Role
from app.reports import periods
from tests.browser.conftest import shot
from tests.browser.journeys import fits_phone, sign_in
from tests.e2e.api import STORED, Api, buy_registered, complain

if TYPE_CHECKING:
    from playwright.async_api import Page


async def a_month(api: Api) -> tuple[str, str]:
    """A district with a gym that sold a card this month and had a complaint; its regulator."""
    here = f"报表区-{uuid.uuid4().hex[:6]}"
    shop = await api.active_merchant(here)
    product = await api.call(
        "POST", "/merchants/me/products", shop["token"], json=STORED, expect=201
    )
    consumer, card = await buy_registered(api, shop, product)
    await complain(api, consumer, card["card_id"], "quality", "服务差", 100)
    return here, await api.staff_user(Role.REGULATOR, here)


async def test_the_report_page_in_both_languages(bapi: Api, desktop: Page, phone: Page) -> None:
    here, regulator = await a_month(bapi)
    page = desktop
    await sign_in(page, regulator, "/dashboard")
    await page.click("nav >> text=报表")
    await page.wait_for_url("**/dashboard/reports")
    assert await page.locator("h1").inner_text() == "辖区报表"
    assert here in await page.locator("#report-title").inner_text()
    month = periods.this_month()
    prepaid = page.locator('tr[data-figure="prepaid_fen"] td').first
    assert await prepaid.inner_text() == "¥800.00"
    received = page.locator('tr[data-figure="complaints_received"] td').first
    assert await received.inner_text() == "1"
    xlsx = page.locator("#download-xlsx")
    assert f"period={month.code}" in (await xlsx.get_attribute("href") or "")
    assert await page.locator("#download-pdf").get_attribute("download") is not None
    await shot(page, "regulator-report")

    # the quarter: the same card, counted in it
    quarter = next(p for p in periods.recent() if p.kind == "quarter")
    await page.select_option("#period", quarter.code)
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url(f"**period={quarter.code}**")
    assert await prepaid.inner_text() == "¥800.00"
    assert f"period={quarter.code}" in (await xlsx.get_attribute("href") or "")
    async with page.expect_download() as waiting:
        await page.click("#download-pdf")
    pdf = await (await waiting.value).path()
    assert pdf.read_bytes().startswith(b"%PDF")

    # in English
    await page.goto(f"/lang/en?next=/dashboard/reports?period={quarter.code}")
    await page.wait_for_url("**/dashboard/reports**")
    assert await page.locator("h1").inner_text() == "District reports"
    assert await prepaid.inner_text() == "CN¥800.00"
    assert "lang=en" in (await xlsx.get_attribute("href") or "")
    assert "Q" in await page.locator("#report-period").inner_text()
    await shot(page, "regulator-report-en")

    # a period that cannot be read is said beside the picker
    await page.goto("/dashboard/reports?period=2026-13")
    assert "2026-11" in await page.locator("#period-error").inner_text()

    # on a phone, in Chinese
    await sign_in(phone, regulator, "/dashboard")
    await phone.goto("/dashboard/reports")
    await fits_phone(phone, "the report page")
    await shot(phone, "regulator-report-phone")
    # the dashboard's matrix and hot spots, with their CSV links
    await phone.goto("/dashboard")
    assert await phone.locator("#matrix").count() == 1
    assert await phone.locator('a[href^="/reports/dashboard/matrix.csv"]').count() == 1
    await shot(phone, "regulator-dashboard-matrix-phone")
