"""Browser tests: the real app served by uvicorn on a port, Debian's Chromium driven by Playwright.

The server runs on a thread with its own event loop and engine, on a database of its own.
Screenshots go to ``test-output/screenshots/`` for a reviewer to look at; every page so taken
is first checked for text too faint to read (:func:`readable`). Chromium is
``/usr/bin/chromium`` (``.ci/run`` installs it); without it these tests fail in CI and are
skipped elsewhere, saying why.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from litestar.testing import AsyncTestClient
from playwright.async_api import async_playwright

from app.asgi import create_app
from app.db import create_engine, session_factory
from app.settings import PROJECT_ROOT
from tests.e2e.api import Api
from tests.live import Server

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from playwright.async_api import Browser, BrowserContext, Page
    from sqlalchemy.ext.asyncio import AsyncEngine

    from tests.conftest import Databases

CHROMIUM = os.environ.get("PGUARD_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = PROJECT_ROOT / "test-output" / "screenshots"
AXE = PROJECT_ROOT / "tests" / "browser" / "vendor" / "axe.min.js"
"""axe-core, vendored (tests/browser/vendor/README.md): never fetched at run time."""
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Without the networking flags Chromium keeps trying Google's hosts on a closed network."""


@pytest.fixture(scope="session")
def browser_db(databases: Databases) -> str:
    return databases.create()


@pytest.fixture(scope="session")
def server(browser_db: str) -> Iterator[Server]:
    with Server(browser_db) as running:
        yield running


@pytest.fixture(scope="session")
async def browser_engine(browser_db: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(browser_db, pool_size=5, max_overflow=5)
    yield engine
    await engine.dispose()


@pytest.fixture
async def bapi(browser_engine: AsyncEngine) -> AsyncIterator[Api]:
    """The API driver on the same database, to set up what a journey starts from."""
    async with AsyncTestClient(app=create_app(browser_engine)) as client:
        yield Api(client, session_factory(browser_engine))


def _chromium_present() -> bool:
    return Path(CHROMIUM).exists() or shutil.which("chromium") is not None


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not _chromium_present():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests, and there is no Chromium at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium); .ci/run installs it")
    async with async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        await launched.close()


@pytest.fixture
async def phone(browser: Browser, server: Server) -> AsyncIterator[Page]:
    """A phone-sized page (375 px) on the served app."""
    context = await browser.new_context(
        viewport=PHONE, base_url=server.base, locale="zh-CN", is_mobile=True, has_touch=True
    )
    yield await context.new_page()
    await context.close()


@pytest.fixture
async def desktop(browser: Browser, server: Server) -> AsyncIterator[Page]:
    """A desktop-sized page (1280 px) on the served app."""
    context: BrowserContext = await browser.new_context(
        viewport=DESKTOP, base_url=server.base, locale="zh-CN"
    )
    yield await context.new_page()
    await context.close()


async def readable(page: Page, what: str) -> None:
    """Every text on the page meets WCAG AA contrast (4.5:1, large text 3:1), as axe-core's
    ``color-contrast`` rule measures it on the rendered page; the failures are named."""
    if not await page.evaluate("typeof axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    found = await page.evaluate(
        """async () => {
            const result = await axe.run(document, {runOnly: ['color-contrast']});
            return result.violations.flatMap(v => v.nodes.map(
                n => `${n.target.join(' ')}: ${n.any.map(c => c.message).join('; ')}`));
        }"""
    )
    assert not found, f"{what} has text too faint to read:\n" + "\n".join(found)


async def shot(page: Page, name: str, **options: Any) -> Path:
    """Check that the page's text is readable, then save a full-page screenshot under
    test-output/screenshots/ for the reviewer."""
    await readable(page, name)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True, **options)
    assert path.stat().st_size > 0
    return path
