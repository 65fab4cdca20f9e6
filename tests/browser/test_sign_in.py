"""A staff member signs in through the real page in Chromium, in Chinese, and switches to
English."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from app.auth.models import Role
from tests.browser.conftest import one_language, people_get_pages, shot
from tests.e2e.api import PASSWORD, Api

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

    from tests.live import Server


async def test_staff_sign_in_shows_errors_next_to_the_form(desktop: Page, bapi: Api) -> None:
    token = await bapi.staff(Role.OPERATOR)
    me = await bapi.call("GET", "/auth/me", token)
    assert me["role"] == "operator"
    await desktop.goto("/login")
    assert await desktop.locator("h1").inner_text() == "工作人员登录"
    await shot(desktop, "login-zh")
    await desktop.fill("input[name=username]", "nobody")
    await desktop.fill("input[name=password]", PASSWORD)
    await desktop.click("button[type=submit]")
    alert = desktop.locator("[role=alert]")
    await alert.wait_for()
    assert await alert.inner_text()
    await desktop.click("a.lang")
    assert await desktop.locator("h1").inner_text() == "Staff sign-in"
    await shot(desktop, "login-en")


async def test_the_pages_checks_catch_a_json_answer_and_mixed_languages(
    browser: Browser, server: Server
) -> None:
    """The checks every browser test relies on can fail: JSON shown to a person is noted,
    English on a Chinese page is refused."""
    context = await browser.new_context(base_url=server.base, locale="zh-CN")
    page = await context.new_page()
    json_pages = people_get_pages(page)
    await page.goto("/health")  # the API's health answer, JSON
    assert len(json_pages) == 1
    assert "application/json" in json_pages[0]
    await page.goto("/login")
    await page.evaluate("document.querySelector('h1').textContent = 'Staff sign-in'")
    with pytest.raises(AssertionError, match="mixes languages"):
        await one_language(page, "login-altered")
    await context.close()
