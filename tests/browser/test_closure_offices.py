"""The closing merchant, its regulator, the successor and the insurers, on their own pages.

The school files its closure in its console; the regulator names the successor and maps the
products (in English); the successor accepts in its console; a holder chooses; the regulator
starts the move and the page follows it to the end; each insurer sees its cover move.
Screenshots: ``test-output/screenshots/closure-office-*.png``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from app.clock import today
from app.i18n.catalogues import LANG_COOKIE
from tests.browser.conftest import shot
from tests.browser.journeys import sign_in
from tests.e2e.api import SESSIONS, Api, buy_registered

if TYPE_CHECKING:
    from playwright.async_api import Page


async def _english(page: Page) -> None:
    await page.context.add_cookies(
        [{"name": LANG_COOKIE, "value": "en", "url": urljoin(page.url, "/")}]
    )


async def test_the_school_files_the_regulator_moves_the_successor_takes_over(  # noqa: PLR0915 - one journey
    desktop: Page, bapi: Api
) -> None:
    school_insurer, successor_insurer = await bapi.new_insurer(), await bapi.new_insurer()
    school = await bapi.active_merchant(insurer_token=school_insurer.token)
    successor = await bapi.active_merchant(insurer_token=successor_insurer.token)
    lessons = await bapi.call(
        "POST", "/merchants/me/products", school["token"], json=SESSIONS, expect=201
    )
    theirs = await bapi.call(
        "POST",
        "/merchants/me/products",
        successor["token"],
        json={**SESSIONS, "name": "私教课 10 次"},
        expect=201,
    )
    holders = [await buy_registered(bapi, school, lessons) for _ in range(3)]

    # the school announces its closure in its console; a date too soon is refused beside it
    await sign_in(desktop, school["username"], "/console")
    await desktop.goto("/console/closure")
    await desktop.fill("input[name=closes_on]", (today() + timedelta(days=5)).isoformat())
    await desktop.fill("textarea[name=reason]", "租约到期，停止营业")
    await desktop.click("form.closure-file button[type=submit]")
    assert "最早" in await desktop.locator(".field.invalid").inner_text()
    await desktop.fill("input[name=closes_on]", (today() + timedelta(days=31)).isoformat())
    await desktop.fill("textarea[name=reason]", "租约到期，停止营业")
    await desktop.click("form.closure-file button[type=submit]")
    await desktop.wait_for_url("**/console/closure?done=filed")
    assert await desktop.locator('[data-count="cards"]').inner_text() == "3"
    await shot(desktop, "closure-office-school")
    await desktop.context.clear_cookies()

    # the regulator, reading English, finds it on the cockpit and names the successor
    await sign_in(desktop, school["regulator_username"], "/dashboard")
    await _english(desktop)
    await desktop.goto("/dashboard")
    assert int(await desktop.locator("#agenda-closures").inner_text()) >= 1
    await desktop.click('a[href="/dashboard/closures"] >> nth=0')
    await desktop.wait_for_url("**/dashboard/closures")
    assert await desktop.locator(".closure-row").count() >= 1
    # the schools share a name: this one's closure is reached from its file
    await desktop.goto(f"/dashboard/merchants/{school['merchant']['id']}")
    await desktop.click("#closure a")
    await desktop.wait_for_url("**/dashboard/closures/*")
    closure_url = desktop.url.split("?")[0]
    # the district has many schools: the successor is named by its code, listed or not
    await desktop.fill("input[name=uscc]", successor["merchant"]["uscc"].lower())
    await desktop.click("form.successor-pick button[type=submit]")
    await desktop.select_option(f'select[name="to-{lessons["id"]}"]', theirs["id"])
    await shot(desktop, "closure-office-regulator-terms-en")
    await desktop.click("form.successor-terms button[type=submit]")
    await desktop.wait_for_url("**?done=named*")
    assert await desktop.locator('[data-accepted="no"]').count() == 1
    await desktop.context.clear_cookies()

    # the successor accepts in its console
    await sign_in(desktop, successor["username"], "/console")
    await desktop.goto("/console/closure")
    await desktop.click("#offers form button[type=submit]")
    await desktop.wait_for_url("**/console/closure?done=accepted*")
    assert await desktop.locator('#offers [data-accepted="yes"]').count() == 1
    await shot(desktop, "closure-office-successor")
    await desktop.context.clear_cookies()

    # two holders choose the successor (by the API, as their phones would); one does nothing
    notice = await bapi.call("GET", f"/me/cards/{holders[0][1]['card_id']}/closure", holders[0][0])
    offer = notice["successors"][0]["offer_id"]
    for token, bought in holders[:2]:
        await bapi.call(
            "POST",
            f"/me/cards/{bought['card_id']}/closure",
            token,
            json={"choice": "transfer", "offer_id": offer},
        )

    # the regulator starts the move; the page follows it until nothing is left to move
    await sign_in(desktop, school["regulator_username"], "/dashboard")
    await _english(desktop)
    await desktop.goto(closure_url)
    assert await desktop.locator('[data-count="to_move"]').inner_text() == "2"
    await shot(desktop, "closure-office-regulator-en")
    await desktop.click("#move form button[type=submit]")
    await desktop.wait_for_url("**?done=moving*")
    for _ in range(40):
        if await desktop.locator('[data-count="transferred"]').inner_text() == "2":
            break
        await desktop.wait_for_timeout(500)
        await desktop.goto(closure_url)
    assert await desktop.locator('[data-count="transferred"]').inner_text() == "2"
    assert await desktop.locator('[data-count="to_move"]').inner_text() == "0"
    await shot(desktop, "closure-office-moved-en")
    await desktop.context.clear_cookies()

    # each insurer sees its cover move
    for insurer, change in ((school_insurer, "released"), (successor_insurer, "taken")):
        await sign_in(desktop, insurer.username, "/insurer-view")
        moved = desktop.locator(f'#cover-moves tr[data-change="{change}"]')
        assert await moved.count() == 1
        assert "2" in await moved.locator("td.num").first.inner_text()
        await shot(desktop, f"closure-office-insurer-{change}")
        await desktop.context.clear_cookies()
