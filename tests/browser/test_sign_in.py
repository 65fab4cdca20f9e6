"""A staff member signs in through the real page in Chromium, in Chinese, and switches to
English."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.auth.models import Role
from tests.browser.conftest import shot
from tests.e2e.api import PASSWORD, Api

if TYPE_CHECKING:
    from playwright.async_api import Page


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
