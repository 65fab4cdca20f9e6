"""A case across departments on the officers' own pages, in Chinese and in English.

The regulator opens a case on a complaint and routes it to two departments on her page; the
market-supervision officer, reading English, finds it in her queue, takes it, is told beside
the field that a penalty needs its document number, and records the fine; the commerce
officer, reading Chinese, records the refund it arranged, which resolves the case; the
regulator sees both findings and each department's figures. Screenshots:
``test-output/screenshots/case-*.png``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urljoin

from app.i18n.catalogues import LANG_COOKIE
from tests.browser.conftest import shot
from tests.browser.journeys import sign_in
from tests.e2e.api import buy_registered, complain
from tests.e2e.test_cases import offices, salon

if TYPE_CHECKING:
    from playwright.async_api import Page

    from tests.e2e.api import Api


async def _english(page: Page) -> None:
    await page.context.add_cookies(
        [{"name": LANG_COOKIE, "value": "en", "url": urljoin(page.url, "/")}]
    )


async def test_departments_handle_a_case_on_their_pages(  # noqa: PLR0915 - one journey
    desktop: Page, bapi: Api
) -> None:
    district, orgs, officers = await offices(bapi)
    shop = await salon(bapi, district)
    consumer, paid = await buy_registered(bapi, shop, shop["product"])
    await complain(
        bapi, consumer, paid["card_id"], "not_delivered", "门店装修停业，课上不了", 300_000
    )

    # The regulator opens the case from the complaint and routes it to two departments.
    await sign_in(desktop, shop["regulator_username"], "/dashboard")
    await desktop.goto("/dashboard/disputes")
    await desktop.locator("form[action='/dashboard/cases/open'] button").first.click()
    await desktop.wait_for_url("**/dashboard/cases/*?done=opened")
    await desktop.check(f"input[name='org-{orgs['market']}']")
    await desktop.check(f"input[name='org-{orgs['commerce']}']")
    await desktop.fill("#route textarea[name=task]", "联合检查，核实退款")
    await desktop.fill("#route input[name=days]", "0")
    await desktop.click("#route button[type=submit]")
    assert "1 至 90 天" in await desktop.locator("#route .field.invalid").inner_text()
    await desktop.check(f"input[name='org-{orgs['market']}']")
    await desktop.check(f"input[name='org-{orgs['commerce']}']")
    await desktop.fill("#route textarea[name=task]", "联合检查，核实退款")
    await desktop.fill("#route input[name=days]", "7")
    await desktop.click("#route button[type=submit]")
    await desktop.wait_for_url("**?done=routed")
    case_path = desktop.url.split("?")[0].split(desktop.url.split("/dashboard")[0])[1]
    assert await desktop.locator("table.case-tasks tbody tr").count() == 2
    await shot(desktop, "case-regulator-routed")
    await desktop.context.clear_cookies()

    # The market-supervision officer, in English: her queue, the case, the penalty.
    await sign_in(desktop, officers["market"], "/dept")
    await _english(desktop)
    await desktop.goto("/dept")
    assert "District Market Supervision Bureau" in await desktop.locator("#org-name").inner_text()
    await desktop.locator("table.queue a").first.click()
    await desktop.wait_for_url("**/dept/cases/*")
    await desktop.click("#my-task form[action$='/take'] button")
    await desktop.wait_for_url("**?done=taken")
    await desktop.select_option("#my-task select[name=finding]", "penalty")
    await desktop.fill("#my-task textarea[name=text]", "Failed to refund prepaid cards; fined")
    await desktop.fill("#my-task input[name=penalty]", "5000")
    await desktop.click(".finding-form button[type=submit]")
    invalid = desktop.locator(".finding-form .field.invalid")
    assert "document" in (await invalid.inner_text()).lower()
    await desktop.fill("#my-task input[name=document_no]", "杭上市监罚〔2026〕12号")
    await desktop.click(".finding-form button[type=submit]")
    await desktop.wait_for_url("**?done=found")
    row = desktop.locator("table.case-tasks tr[data-org=market]")
    assert "Administrative penalty" in await row.inner_text()
    assert "¥5,000.00" in await row.inner_text()
    await shot(desktop, "case-department-en")
    await desktop.context.clear_cookies()

    # The commerce officer, in Chinese, records the refund: the case is resolved.
    await sign_in(desktop, officers["commerce"], "/dept")
    await desktop.goto(f"/dept{case_path.removeprefix('/dashboard')}")
    assert await desktop.locator("#my-task").count() == 1
    await desktop.select_option("#my-task select[name=finding]", "refund-arranged")
    await desktop.fill("#my-task textarea[name=text]", "商户已退还剩余课时费用")
    await desktop.click(".finding-form button[type=submit]")
    await desktop.wait_for_url("**?done=found")
    assert await desktop.locator("#case-status").inner_text() == "已办结，待消费者确认"
    assert await desktop.locator("#my-task").count() == 0
    await shot(desktop, "case-department-zh")
    await desktop.context.clear_cookies()

    # An officer of a department not brought in is shown nothing of it.
    await sign_in(desktop, officers["health"], "/dept")
    response = await desktop.goto(f"/dept{case_path.removeprefix('/dashboard')}")
    assert response is not None
    assert response.status == 404
    await desktop.context.clear_cookies()

    # The regulator sees the case resolved and each department's figures.
    await sign_in(desktop, shop["regulator_username"], "/dashboard")
    await desktop.goto("/dashboard/cases")
    market = desktop.locator("table.kpis tr[data-org=market]")
    assert (await market.locator("td").nth(2).inner_text()).strip() == "1"
    await shot(desktop, "case-regulator-list")
