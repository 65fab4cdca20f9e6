"""A district regulator's morning in Chromium: merchants by grade, one filtered out, a merchant's
file with its probability chart, a warning acknowledged, sales suspended after confirming;
and the merchant's file on a phone."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from app.auth.models import Role
from app.clock import today, utcnow
from app.risk.models import Rating
from app.risk.service import Cause, add_model, rate
from tests.browser.conftest import shot
from tests.browser.journeys import accept_next_dialog, fits_phone, sign_in
from tests.e2e.api import STORED, Api, buy_registered
from tests.e2e.background import live_model, record

if TYPE_CHECKING:
    from playwright.async_api import Page


async def rate_now(api: Api, merchant_id: str, cause: str, days_ago: int = 0) -> str:
    """Rate the merchant with the active model, as the re-rating worker would; its grade."""
    merchant = uuid.UUID(merchant_id)
    async with api.sessions() as session, session.begin():
        await rate(session, {merchant: Cause(cause)}, now=utcnow() - timedelta(days=days_ago))
    async with api.sessions() as session:
        grade = await session.scalar(select(Rating.grade).where(Rating.merchant_id == merchant))
    assert grade is not None
    return grade


def clean(uscc: str) -> list[dict[str, object]]:
    day = today() - timedelta(days=60)
    return [
        record(uscc, "registration", "age_years", 9, day, "市场监管局登记信息"),
        record(uscc, "credit", "public_rating", "A", day, "信用中国"),
        record(uscc, "social_security", "headcount", 25, day, "人社局参保数据"),
    ]


async def district_with_ratings(api: Api) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A district with a merchant gone bad (two ratings, then court and tax records) and one
    that stayed clean; a regulator of the district, by user name."""
    here = f"浏览器区-{uuid.uuid4().hex[:6]}"
    async with api.sessions() as session, session.begin():
        await add_model(session, live_model(), activate=True, by=None)
    risky = await api.active_merchant(here)
    calm = await api.active_merchant(here)
    product = await api.call(
        "POST", "/merchants/me/products", risky["token"], json=STORED, expect=201
    )
    await buy_registered(api, risky, product)
    feeds = await api.staff(Role.OPERATOR)
    for shop in (risky, calm):
        uscc = str(shop["merchant"]["uscc"])
        await api.call("POST", "/indicators", feeds, json={"records": clean(uscc)}, expect=201)
    risky_id, calm_id = str(risky["merchant"]["id"]), str(calm["merchant"]["id"])
    await rate_now(api, risky_id, "first rating", days_ago=20)
    calm["grade"] = await rate_now(api, calm_id, "first rating", days_ago=20)
    bad_day = today() - timedelta(days=2)
    uscc = str(risky["merchant"]["uscc"])
    bad = [
        record(uscc, "court", "dishonest_debtor", True, bad_day, "最高法失信被执行人名单"),
        record(uscc, "tax", "arrears_fen", 8_600_000, bad_day, "税务局欠税公告"),
        record(uscc, "social_security", "contribution_gap_months", 4, bad_day, "人社局"),
    ]
    await api.call("POST", "/indicators", feeds, json={"records": bad}, expect=201)
    risky["grade"] = await rate_now(api, risky_id, "court and tax records")
    assert risky["grade"] in ("D", "E")  # a dishonest debtor is never better than D
    return await api.staff_user(Role.REGULATOR, here), risky, calm


async def dashboard_by_grade(page: Page, risky: dict[str, Any], calm: dict[str, Any]) -> None:
    assert await page.locator("h1").inner_text() == "商户风险看板"
    rows = page.locator("table.merchants tbody tr")
    assert await rows.count() == 2
    grades = {await rows.nth(i).get_attribute("data-grade") for i in range(2)}
    assert grades == {risky["grade"], calm["grade"]}
    assert await page.locator("#total-merchants").inner_text() == "2"
    assert await page.locator("#total-outstanding").inner_text() == "¥800.00"
    await shot(page, "regulator-dashboard")

    await page.check(f"fieldset.grades input[value={risky['grade']}]")
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url(f"**grade={risky['grade']}**")
    shown = await page.locator("table.merchants tbody").inner_text()
    assert risky["merchant"]["legal_name"] in shown
    if calm["grade"] != risky["grade"]:
        assert await rows.count() == 1
        calm_link = f"a[href='/dashboard/merchants/{calm['merchant']['id']}']"
        assert await page.locator(calm_link).count() == 0
    await shot(page, "regulator-dashboard-filtered")


async def merchant_file(page: Page, risky: dict[str, Any]) -> None:
    risky_id = risky["merchant"]["id"]
    await page.click(f"a[href='/dashboard/merchants/{risky_id}']")
    await page.wait_for_url(f"**/dashboard/merchants/{risky_id}")
    chart = page.locator("svg.chart")
    await chart.wait_for()
    assert await chart.is_visible()
    box = await chart.bounding_box()
    assert box is not None
    assert box["width"] > 300
    assert box["height"] > 100
    assert await chart.locator("circle.point").count() == 3  # two changes and the current
    assert await chart.locator("rect.band").count() == 5
    assert await page.locator("#merchant-grade").inner_text() == risky["grade"]
    assert "失信被执行人" in await page.locator("section.rating").inner_text()
    indicators = await page.locator("table.indicators").inner_text()
    assert "税务局欠税公告" in indicators
    assert "¥86,000.00" in indicators
    await shot(page, "regulator-merchant")


async def acknowledge_a_warning(page: Page, merchant_id: str) -> None:
    await page.click("nav >> text=预警")
    await page.wait_for_url("**/dashboard/warnings")
    mine = page.locator("article.warning", has=page.locator(f"a[href$='{merchant_id}']"))
    assert await mine.count() >= 1
    warning_id = (await mine.first.get_attribute("id") or "")[2:]
    await mine.first.locator("button", has_text="受理").click()
    await page.wait_for_url(f"**done=acknowledge#w-{warning_id}")
    assert "已受理预警" in await page.locator(".flash").inner_text()
    badge = page.locator(f"#w-{warning_id} .badge.wstatus-acknowledged")
    assert await badge.inner_text() == "已受理"
    await shot(page, "regulator-warning-acknowledged")


async def suspend_sales(page: Page, risky: dict[str, Any]) -> None:
    await page.goto(f"/dashboard/merchants/{risky['merchant']['id']}#measures")
    form = page.locator("#m-suspend-sales")
    asked: list[str] = []
    accept_next_dialog(page, asked)
    await form.locator("button[type=submit]").click()  # no reason: refused beside the field
    await page.locator("#suspend-sales-reason-error").wait_for()
    assert await form.locator("textarea[name=reason]").get_attribute("aria-invalid") == "true"
    await shot(page, "regulator-measure-refused")

    accept_next_dialog(page, asked)
    await form.locator("textarea[name=reason]").fill("近期投诉集中，且被列为失信被执行人")
    await form.locator("button[type=submit]").click()
    await page.wait_for_url("**done=suspend-sales**")
    assert len(asked) == 2
    assert risky["merchant"]["legal_name"] in asked[1]
    assert "已暂停售卡" in await page.locator(".flash").inner_text()
    assert await page.locator("#merchant-status").inner_text() == "暂停售卡"
    assert "近期投诉集中" in await page.locator("table.measures").inner_text()
    assert await page.locator("#m-lift-suspension").count() == 1
    await shot(page, "regulator-suspended")

    # declaring a default asks "are you sure" only once the tick says so
    declare = page.locator("#m-declare-default")
    await declare.locator("textarea[name=reason]").fill("法定代表人失联")
    asked.clear()
    before = page.url
    page.on("dialog", lambda dialog: asked.append(dialog.message))  # none is expected
    await declare.locator("button[type=submit]").click()
    assert await declare.locator("input[name=confirm]:invalid").count() == 1
    assert asked == []
    assert page.url == before
    assert await page.locator("#merchant-status").inner_text() == "暂停售卡"


async def test_regulator_filters_reads_acknowledges_and_suspends(
    desktop: Page, phone: Page, bapi: Api
) -> None:
    username, risky, calm = await district_with_ratings(bapi)
    await sign_in(desktop, username, "/dashboard")
    await dashboard_by_grade(desktop, risky, calm)
    await merchant_file(desktop, risky)
    await acknowledge_a_warning(desktop, risky["merchant"]["id"])
    await suspend_sales(desktop, risky)

    await sign_in(phone, username, "/dashboard")
    await phone.goto(f"/dashboard/merchants/{risky['merchant']['id']}")
    await phone.locator("svg.chart").wait_for()
    assert await phone.locator("svg.chart").is_visible()
    await fits_phone(phone, "the merchant's file")
    await shot(phone, "regulator-merchant-phone")
    await phone.goto("/dashboard")
    await fits_phone(phone, "the dashboard")
    await shot(phone, "regulator-dashboard-phone")
