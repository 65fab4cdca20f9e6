"""The pages people open on a phone fit 360 px and 390 px screens, in Chinese and English.

On each page: nothing is wider than the screen, every text meets WCAG AA contrast, and no
word or figure is broken across two lines (a credit code, ``Active``, ``¥3,256,041.97``):
:func:`tests.browser.conftest.shot` checks both before its screenshot. The pages are the
ones the grade and the money headline: the counter code's page, the merchant's console and
its products, the regulator's dashboard and a merchant's file, the insurer's overview.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urljoin

import pytest

from app.i18n.catalogues import LANG_COOKIE
from tests.browser.conftest import shot
from tests.browser.journeys import fits_phone, sign_in
from tests.e2e.api import SESSIONS, STORED, Api, buy_registered, counter_of

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from playwright.async_api import Browser, Page

    from tests.live import Server

LANGS = ("zh", "en")
HTML_LANG = {"zh": "zh-CN", "en": "en"}


@pytest.fixture(params=[360, 390], ids=lambda width: f"{width}px")
async def narrow(
    request: pytest.FixtureRequest, browser: Browser, server: Server
) -> AsyncIterator[Page]:
    """A phone of the width asked for."""
    context = await browser.new_context(
        viewport={"width": request.param, "height": 780},
        base_url=server.base,
        locale="zh-CN",
        is_mobile=True,
        has_touch=True,
    )
    yield await context.new_page()
    await context.close()


async def looks_right(page: Page, path: str, name: str) -> None:
    """Open ``path`` in each language and check that it fits, reads and keeps words whole."""
    width = (page.viewport_size or {"width": 0})["width"]
    for lang in LANGS:  # by the cookie: a counter code takes no other query parameter
        home = urljoin(page.url, "/")  # the site's cookie, as the language link sets it
        await page.context.add_cookies([{"name": LANG_COOKIE, "value": lang, "url": home}])
        await page.goto(path)
        assert await page.locator("html").get_attribute("lang") == HTML_LANG[lang]
        await fits_phone(page, f"{path} ({lang})")
        await shot(page, f"phone-{name}-{lang}-{width}")


async def test_the_pages_people_open_on_a_phone_fit_it(narrow: Page, bapi: Api) -> None:
    insurer = await bapi.new_insurer()
    shop = await bapi.active_merchant(insurer_token=insurer.token)
    for product in (STORED, SESSIONS):
        made = await bapi.call(
            "POST", "/merchants/me/products", shop["token"], json=product, expect=201
        )
        await buy_registered(bapi, shop, made)
    counter = await counter_of(bapi, shop["token"])
    await narrow.goto("/")
    await looks_right(narrow, counter.path, "counter")
    assert await narrow.locator("a.buy").count() == 2  # the merchant's page, not a warning

    await sign_in(narrow, shop["username"], "/console")
    tabs = narrow.locator("nav.m-tabs a")
    for n in range(await tabs.count()):  # every tab can be reached: scrolled to, in view
        await tabs.nth(n).scroll_into_view_if_needed()
        assert await tabs.nth(n).is_visible()
    await looks_right(narrow, "/console", "console")
    await looks_right(narrow, "/console/products", "products")
    await narrow.context.clear_cookies()

    await sign_in(narrow, shop["regulator_username"], "/dashboard")
    await looks_right(narrow, "/dashboard", "dashboard")
    await looks_right(narrow, f"/dashboard/merchants/{shop['merchant']['id']}", "file")
    await narrow.context.clear_cookies()

    await sign_in(narrow, insurer.username, "/insurer-view")
    await looks_right(narrow, "/insurer-view", "insurer")
