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

    from playwright.async_api import Browser, BrowserContext, Page, Response
    from sqlalchemy.ext.asyncio import AsyncEngine

    from tests.conftest import Databases

CHROMIUM = os.environ.get("PGUARD_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = PROJECT_ROOT / "test-output" / "screenshots"
AXE = PROJECT_ROOT / "tests" / "browser" / "vendor" / "axe.min.js"
"""axe-core, vendored (tests/browser/vendor/README.md): never fetched at run time."""
PHONE = {"width": 360, "height": 780}
"""The narrowest phone in common use; ``test_phone_layout.py`` also looks at 390 px."""
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


JSON_TYPES = ("application/json", "application/problem+json")


def people_get_pages(page: Page) -> list[str]:
    """Every page the browser navigates to must be HTML: a person is never shown JSON (an
    API's problem+json answering a link or a form). What came back as JSON is noted here and
    the test fails at its end."""
    found: list[str] = []

    def look(response: Response) -> None:
        kind = response.headers.get("content-type", "").split(";")[0].strip()
        if response.request.is_navigation_request() and kind in JSON_TYPES:
            found.append(f"{response.status} {kind} for {response.url}")

    page.on("response", look)
    return found


@pytest.fixture
async def phone(browser: Browser, server: Server) -> AsyncIterator[Page]:
    """A phone-sized page (360 px) on the served app; no navigation may answer JSON."""
    context = await browser.new_context(
        viewport=PHONE, base_url=server.base, locale="zh-CN", is_mobile=True, has_touch=True
    )
    page = await context.new_page()
    json_pages = people_get_pages(page)
    yield page
    await context.close()
    assert not json_pages, "a browser was answered with JSON:\n" + "\n".join(json_pages)


@pytest.fixture
async def desktop(browser: Browser, server: Server) -> AsyncIterator[Page]:
    """A desktop-sized page (1280 px) on the served app; no navigation may answer JSON."""
    context: BrowserContext = await browser.new_context(
        viewport=DESKTOP, base_url=server.base, locale="zh-CN"
    )
    page = await context.new_page()
    json_pages = people_get_pages(page)
    yield page
    await context.close()
    assert not json_pages, "a browser was answered with JSON:\n" + "\n".join(json_pages)


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


WORD = r"[A-Za-z0-9¥$€+]+(?:[.,:/%][A-Za-z0-9]+)*%?"
"""A word or a number as a line must keep it whole: ``Active``, ``¥3,256,041.97``, ``91330…``.
A hyphen is where a line may break, as in any text (``PB-⏎5b7af371``)."""


async def words_whole(page: Page, what: str) -> None:
    """No word or number on the page is broken across two lines (``¥3,256,041.⏎97``), and no
    text is squeezed into a column a character or two wide.

    Chinese may break between any two characters; Latin words and figures may not. Each
    word or figure of every visible text is measured with a DOM range: its boxes must share
    one line. Tokens longer than 40 characters (links to save) may wrap.
    """
    broken = await page.evaluate(
        """(pattern) => {
            const word = new RegExp(pattern, 'g');
            const found = [];
            const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                const parent = node.parentElement;
                if (!parent || parent.closest('script, style, svg, .link-box')) continue;
                if (!parent.getClientRects().length) continue;
                for (const m of node.data.matchAll(word)) {
                    if (m[0].length < 2 || m[0].length > 40) continue;
                    const range = document.createRange();
                    range.setStart(node, m.index);
                    range.setEnd(node, m.index + m[0].length);
                    const tops = new Set([...range.getClientRects()]
                        .filter(r => r.width > 0).map(r => Math.round(r.top)));
                    if (tops.size > 1) found.push(`${m[0]} in <${parent.tagName.toLowerCase()}`
                        + ` class="${parent.className}">`);
                }
                // a column squeezed to a character or two a line: 储/值/卡
                // measured in the block that lays the text out (a marked <span> is inline)
                const text = node.data.trim();
                let block = parent;
                while (getComputedStyle(block).display === 'inline' && block.parentElement) {
                    block = block.parentElement;
                }
                const style = getComputedStyle(block);
                const size = parseFloat(getComputedStyle(parent).fontSize);
                const box = block.getBoundingClientRect();
                const inner = box.width - parseFloat(style.paddingLeft)
                    - parseFloat(style.paddingRight);
                const whole = document.createRange();
                whole.selectNodeContents(node);
                const lines = new Set([...whole.getClientRects()]
                    .filter(r => r.width > 0).map(r => Math.round(r.top))).size;
                if (text.length >= 4 && inner > 0 && inner < 3 * size && lines >= 3) {
                    found.push(`"${text}" squeezed to ${Math.round(inner)} px in`
                        + ` <${parent.tagName.toLowerCase()} class="${parent.className}">`);
                }
            }
            return found;
        }""",
        WORD,
    )
    assert not broken, f"{what} breaks words or figures across lines:\n" + "\n".join(broken)


LATIN_ALLOWED = ("QR", "ID", "PDF", "SVG", "PNG", "CSV", "ZIP", "SMS", "API", "SHA-256")
"""Latin words a Chinese page may carry: abbreviations read as they are, and the name."""


async def one_language(page: Page, what: str) -> None:
    """A Chinese page shows no English (or raw key) interface text, an English page no Chinese.

    Every visible text node and label is read, except code (``<code>``), data marked
    ``translate="no"`` in the templates (shop and product names, codes, hashes: shown as
    entered) and text marked as another language (``lang="en"`` on the language link).
    """
    found = await page.evaluate(
        """(allowed) => {
            const lang = document.documentElement.lang || '';
            const zh = lang.startsWith('zh');
            const foreign = zh ? /[A-Za-z_]{2,}/g : /[\u3400-\u9fff]/g;
            const found = new Set();
            const check = (text, where) => {
                let rest = text;
                for (const word of allowed) rest = rest.split(word).join(' ');
                const hits = rest.match(foreign);
                if (hits) found.add(`"${text.trim().slice(0, 80)}" in ${where}`);
            };
            const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                const parent = node.parentElement;
                if (!parent || parent.closest('script, style, code, [translate=no]')) continue;
                const own = parent.closest('[lang]');
                if (own && own.lang.slice(0, 2) !== lang.slice(0, 2)) continue;
                if (!node.data.trim() || !parent.getClientRects().length) continue;
                check(node.data, `<${parent.tagName.toLowerCase()} class="${parent.className}">`);
            }
            const labelled = '[placeholder], [title], [aria-label], input[type=submit]';
            for (const el of document.querySelectorAll(labelled)) {
                if (el.closest('[translate=no]')) continue;
                for (const attr of ['placeholder', 'title', 'aria-label', 'value']) {
                    if (attr === 'value' && el.type !== 'submit') continue;
                    const text = el.getAttribute(attr);
                    if (text) check(text, `${attr} of <${el.tagName.toLowerCase()}>`);
                }
            }
            return [...found];
        }""",
        list(LATIN_ALLOWED),
    )
    assert not found, f"{what} mixes languages:\n" + "\n".join(found)


async def shot(page: Page, name: str, **options: Any) -> Path:
    """Check that the page's text is readable and, on a phone, that no word or figure is
    broken across lines; then save a full-page screenshot under test-output/screenshots/
    for the reviewer."""
    await readable(page, name)
    await one_language(page, name)
    viewport = page.viewport_size
    if viewport and viewport["width"] <= PHONE["width"]:
        await words_whole(page, name)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True, **options)
    assert path.stat().st_size > 0
    return path
