"""Every page, in Chinese and in English: no Chinese words on an English page, no message id.

A crawler signs in as each role of the demo district and follows every link on our own
pages (at most two of each path shape), rendering each page in both languages. Chinese on
an English page is allowed only where it is data people typed or registered (merchant and
product names, districts, complaint texts, real names) or marked with its own ``lang``
attribute (the link to the Chinese pages). A word that looks like a message id (``c_buy``,
``error.card-used``) on any page is a message without a translation.
"""

from __future__ import annotations

import re
from collections import deque
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import String, Text, select
from sqlalchemy.dialects.postgresql import JSONB

from app.asgi import create_app
from app.auth.models import Consumer
from app.base import Base
from app.db import create_engine, session_factory
from app.demo.district import phone_of, shop_username
from app.demo.loader import CITY_REGULATOR, DEMO_PASSWORD, INSURER, REGULATOR, Options, load
from app.i18n import message_ids
from app.security.pii import PiiCipher
from tests.e2e.api import Api, counter_of

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from litestar import Litestar
    from sqlalchemy.ext.asyncio import AsyncEngine

    from tests.conftest import Databases

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
MESSAGE_ID = re.compile(r"\b(?:[a-z]{1,2}_[a-z0-9_]+|error\.[a-z0-9-]+|status\.\d{3})\b")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NOT_PAGES = re.compile(r"^/(static|lang|logout|api|schema)\b|\.(png|svg|pdf|csv|xlsx)$")
PER_SHAPE = 2
"""Pages visited per path shape (``/my/cards/{id}``): the second catches per-row mistakes."""
SHOWN_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")


class _Words(HTMLParser):
    """The words a reader meets (text and spoken attributes), and the page's links.

    Text inside an element with its own ``lang`` (other than the page's) is set aside.
    """

    def __init__(self, page_lang: str) -> None:
        super().__init__()
        self.page_lang = page_lang
        self.stack: list[tuple[str, bool]] = []
        self.words: list[str] = []
        self.links: list[str] = []
        self.hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        foreign = bool(found.get("lang")) and not str(found["lang"]).startswith(self.page_lang)
        if tag in ("script", "style"):
            foreign = True
        if tag not in ("br", "img", "input", "meta", "link", "hr", "source"):
            self.stack.append((tag, foreign))
        if not any(f for _, f in self.stack):
            self.words += [str(found[a]) for a in SHOWN_ATTRIBUTES if found.get(a)]
        if tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                break

    def handle_data(self, data: str) -> None:
        if data.strip() and not any(f for _, f in self.stack):
            self.words.append(data.strip())


def _collect(value: Any, words: set[str]) -> None:
    if isinstance(value, str):
        words.add(value)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, words)
    elif isinstance(value, list):
        for item in value:
            _collect(item, words)


def _text_columns() -> list[Any]:
    return [
        column
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, String | Text | JSONB)
    ]


async def _data_words(engine: AsyncEngine) -> set[str]:
    """Every string the database holds (JSON values too) and the people's decrypted names."""
    cipher = PiiCipher.from_master_key()
    words: set[str] = set()
    async with session_factory(engine)() as session:
        for column in _text_columns():
            _collect(list(await session.scalars(select(column))), words)
        names = await session.scalars(
            select(Consumer.real_name_enc).where(Consumer.real_name_enc.is_not(None))
        )
        words |= {cipher.decrypt(blob, field="real_name") for blob in names}
    return words


def _shape(path: str) -> str:
    return UUID.sub("{id}", urlsplit(path).path)


async def _crawl(client: AsyncTestClient[Litestar], *starts: str) -> dict[str, tuple[str, str]]:
    """Each page reachable from ``starts``: path -> (Chinese html, English html)."""
    seen_shapes: dict[str, int] = {}
    pages: dict[str, tuple[str, str]] = {}
    queue = deque(starts)
    while queue:
        path = queue.popleft()
        shape = _shape(path)
        if path in pages or seen_shapes.get(shape, 0) >= PER_SHAPE:
            continue
        rendered = []
        for lang in ("zh", "en"):
            client.cookies.set("lang", lang)
            response = await client.get(path, follow_redirects=True)
            assert response.status_code < 500, (path, lang, response.status_code)
            rendered.append(response.text if "html" in response.headers["content-type"] else "")
        client.cookies.set("lang", "zh")
        seen_shapes[shape] = seen_shapes.get(shape, 0) + 1
        pages[path] = (rendered[0], rendered[1])
        parser = _Words("zh")
        parser.feed(rendered[0])
        for link in parser.links:
            parts = urlsplit(link)
            if parts.netloc or not parts.path.startswith("/") or NOT_PAGES.search(parts.path):
                continue
            queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return pages


@pytest.fixture(scope="module")
async def demo_engine(databases: Databases) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(databases.create(), pool_size=4)
    await load(session_factory(engine), Options(seed=11, merchants=6, cards=40))
    yield engine
    await engine.dispose()


async def _signed_in(client: AsyncTestClient[Litestar], api: Api, role: str) -> str:
    """Sign in through the pages as ``role``; the path its pages start from."""
    if role == "consumer":
        phone = phone_of(0)
        await client.post("/login/phone/code", data={"phone": phone})
        code = await api.last_sms_code(phone)
        response = await client.post(
            "/login/phone", data={"phone": phone, "code": code}, follow_redirects=False
        )
    elif role == "anonymous":
        return "/login"
    else:
        response = await client.post(
            "/login", data={"username": role, "password": DEMO_PASSWORD}, follow_redirects=False
        )
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


@pytest.mark.parametrize(
    "role",
    ["anonymous", "consumer", shop_username(1), REGULATOR, CITY_REGULATOR, INSURER],
)
async def test_every_page_speaks_each_language_and_no_message_id_shows(
    demo_engine: AsyncEngine, role: str
) -> None:
    data = await _data_words(demo_engine)
    ids = message_ids()
    app = create_app(demo_engine)
    async with AsyncTestClient(app=app) as client:
        api = Api(client, session_factory(demo_engine))
        home = await _signed_in(client, api, role)
        shop = await api.call(
            "POST", "/auth/sign-in", json={"username": shop_username(1), "password": DEMO_PASSWORD}
        )
        counter = await counter_of(api, str(shop["token"]))
        pages = await _crawl(client, home, counter.path)
    print(role, len(pages), sorted(pages))  # noqa: T201 - which pages were read, on failure
    assert len(pages) >= 2, pages.keys()
    chinese_in_english: dict[str, set[str]] = {}
    raw_ids: dict[str, set[str]] = {}
    for path, (zh, en) in pages.items():
        english = _Words("en")
        english.feed(en)
        stray = {
            run
            for words in english.words
            for run in HAN.findall(words)
            if not any(run in datum for datum in data)
        }
        if stray:
            chinese_in_english[path] = stray
        for html, lang in ((zh, "zh"), (en, "en")):
            reader = _Words(lang)
            reader.feed(html)
            shown = {m for words in reader.words for m in MESSAGE_ID.findall(words)}
            found = {m for m in shown if m in ids or m.startswith(("error.", "status."))}
            found |= {m for m in shown if re.fullmatch(r"[a-z]_[a-z0-9_]+", m)}
            if found:
                raw_ids[f"{path} ({lang})"] = found
    assert not chinese_in_english
    assert not raw_ids
