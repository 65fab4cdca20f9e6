"""An insurer in Chromium: its policies and exposure, a claim after a merchant's default (set up
through the API as a regulator would), acknowledged, paid with a reference, closed; the
webhook delivery log filled by the real delivery worker; the overview on a phone."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from app.outbox.models import OutboxEvent
from tests.browser.conftest import shot
from tests.browser.journeys import accept_next_dialog, fits_phone, sign_in
from tests.e2e.api import STORED, Api, buy_registered, declare_default
from tests.e2e.background import Endpoint, Receiver, delivery_thread, insurer, until

if TYPE_CHECKING:
    from playwright.async_api import Page

    from tests.e2e.api import InsurerAccount

FAST = {"interval": 0.05, "backoff_base": 0.05, "jitter": 0.0, "timeout": 2.0, "lease_seconds": 3.0}


async def insured_shop(api: Api, account: InsurerAccount) -> tuple[dict[str, Any], str]:
    """An active merchant insured by ``account``, two ¥800 cards sold; and the policy number."""
    shop = await api.active_merchant(
        f"浏览器区-{uuid.uuid4().hex[:6]}", insurer_token=account.token
    )
    product = await api.call(
        "POST", "/merchants/me/products", shop["token"], json=STORED, expect=201
    )
    for _ in range(2):
        await buy_registered(api, shop, product)
    return shop, str(shop["merchant"]["policy_ref"])


async def policies_and_exposure(page: Page, number: str) -> None:
    assert await page.locator("h1").inner_text() == "保险公司视图"
    policy = page.locator(f"tr[data-policy='{number}']")
    assert "¥1,120.00" in await policy.locator("td.exposure").inner_text()  # 2 × 70% × ¥800
    assert await page.locator("#total-exposure").inner_text() == "¥1,120.00"
    assert "暂无理赔" in await page.locator("body").inner_text()
    await shot(page, "insurer-policies")


async def settle(page: Page, claim_id: str) -> None:
    claim = page.locator(f"#c-{claim_id}")
    await page.reload()
    assert await claim.locator("[data-status]").get_attribute("data-status") == "triggered"
    assert "¥1,120.00" in await claim.locator(".claim-total").inner_text()
    breakdown = claim.locator("details.breakdown")
    assert await breakdown.get_attribute("open") is None  # collapsed, its total in the summary
    assert "¥1,120.00" in await breakdown.locator("summary").inner_text()
    await breakdown.locator("summary").click()
    lines = claim.locator("table.lines tbody tr")
    assert await lines.count() == 2
    assert "¥560.00" in await lines.first.inner_text()
    # still exposed: the claim is the insurer's to pay
    assert await page.locator("#total-exposure").inner_text() == "¥1,120.00"
    await shot(page, "insurer-claim-triggered")

    await claim.locator("button", has_text="受理理赔").click()
    await page.wait_for_url("**done=acknowledge**")
    assert "已受理理赔" in await page.locator(".flash").inner_text()
    assert await claim.locator("[data-status]").get_attribute("data-status") == "acknowledged"
    asked: list[str] = []
    accept_next_dialog(page, asked)
    await claim.locator("form.pay button[type=submit]").click()  # no reference: refused
    await claim.locator("input[name=payment_ref][aria-invalid=true]").wait_for()
    assert "必填" in await claim.locator("small.error").inner_text()  # beside the field
    assert "请填写付款凭证号" in await claim.locator("p.flash.error").inner_text()
    await shot(page, "insurer-claim-acknowledged")

    accept_next_dialog(page, asked)
    await claim.locator("input[name=payment_ref]").fill("ICBC-2026-000123")
    await claim.locator("form.pay button[type=submit]").click()
    await page.wait_for_url("**done=pay**")
    assert "¥1,120.00" in asked[-1]
    assert "理赔结案" in await page.locator(".flash").inner_text()
    assert await claim.locator("[data-status]").get_attribute("data-status") == "closed"
    assert await claim.locator(".payment-ref").inner_text() == "ICBC-2026-000123"
    assert await claim.locator("form").count() == 0
    assert await page.locator("#total-exposure").inner_text() == "¥0.00"  # paid: nothing left
    await shot(page, "insurer-claim-closed")


async def delivery_log(page: Page, api: Api, account: InsurerAccount, url: str) -> None:
    with delivery_thread(url, **FAST):

        async def delivered() -> bool:
            async with api.sessions() as session:
                pending = await session.scalar(
                    select(OutboxEvent.id).where(
                        OutboxEvent.insurer_id == account.insurer_id,
                        OutboxEvent.status != "delivered",
                    )
                )
            return pending is None

        await until(delivered, "the insurer's events to be delivered")
    await page.click("nav >> text=推送记录")
    await page.wait_for_url("**/insurer-view/deliveries")
    events = await page.locator("table.events").inner_text()
    assert "claim.triggered" in events
    assert "claim.closed" in events
    assert "已送达" in events
    assert "200" in await page.locator("table.attempts").inner_text()
    await shot(page, "insurer-deliveries")


async def test_insurer_settles_a_claim_card_by_card(
    desktop: Page, phone: Page, bapi: Api, browser_db: str
) -> None:
    endpoint = Endpoint("")
    with Receiver() as receiver:
        account = await insurer(bapi, receiver.add(endpoint))
        endpoint.secret = account.secret
        shop, number = await insured_shop(bapi, account)
        await sign_in(desktop, account.username, "/insurer-view")
        await policies_and_exposure(desktop, number)
        declared = await declare_default(bapi, shop, "商户失联")
        await settle(desktop, declared["claim_id"])
        await delivery_log(desktop, bapi, account, browser_db)
        assert set(endpoint.types) == {"claim.triggered", "claim.closed"}

    await sign_in(phone, account.username, "/insurer-view")
    await fits_phone(phone)
    await shot(phone, "insurer-phone")
