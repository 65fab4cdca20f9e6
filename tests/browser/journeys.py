"""Steps every browser journey takes: signing in through the form, answering the confirmation
dialogs, checking that a page fits a phone."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import PHONE
from tests.e2e.api import PASSWORD

if TYPE_CHECKING:
    from playwright.async_api import Dialog, Page


async def sign_in(page: Page, username: str, lands_on: str) -> None:
    """Sign staff in on the login page; their role's page (``lands_on``) opens."""
    await page.goto("/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"**{lands_on}")


def accept_next_dialog(page: Page, asked: list[str]) -> None:
    """Say yes to the next confirmation the page asks for, noting its question."""

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        asyncio.ensure_future(dialog.accept())  # noqa: RUF006 - Playwright awaits it

    page.once("dialog", accept)


async def fits_phone(page: Page, what: str = "the page") -> None:
    """Nothing on the page is wider than the phone's screen."""
    screen = (page.viewport_size or PHONE)["width"]
    width = await page.evaluate("document.documentElement.scrollWidth")
    if width > screen:  # name the texts that stick out
        wide = await page.evaluate(
            """(screen) => {
                const out = [];
                const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
                for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                    const range = document.createRange();
                    range.selectNodeContents(node);
                    const right = Math.max(0, ...[...range.getClientRects()].map(r => r.right));
                    const parent = node.parentElement;
                    if (right > screen + 1 && !parent.closest('.table-wrap, .m-tabs')) {
                        out.push(`${Math.round(right)} px: "${node.data.trim().slice(0, 30)}"`
                            + ` in <${parent.tagName.toLowerCase()} class="${parent.className}">`);
                    }
                }
                return out.slice(0, 5);
            }""",
            screen,
        )
        pytest.fail(f"{what} is {width} px wide on a {screen} px phone: " + "; ".join(wide))
