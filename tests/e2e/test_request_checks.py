"""What a request must show before any handler runs: JSON for the API, a same-site origin for
anything the session cookie authorises, a sane depth; and a Secure cookie outside development.
"""

from __future__ import annotations

import json

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from app.asgi import create_app
from app.auth.middleware import SESSION_COOKIE
from app.auth.models import Role
from app.merchants.models import Product
from app.settings import get_settings
from tests.e2e.api import PASSWORD, STORED, Api, shop_with, sign_in_form

PRODUCT = {"name": "跨站储值卡", "kind": "stored_value", "price": 10_000, "units": 10_000}


async def _products(api: Api, merchant_id: str) -> int:
    async with api.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Product).where(Product.merchant_id == merchant_id)
        )
    return int(count or 0)


async def test_the_session_cookie_does_not_authorise_a_cross_site_api_call(api: Api) -> None:
    shop, _ = await shop_with(api, STORED)
    await sign_in_form(api.client, shop["username"])
    before = await _products(api, shop["merchant"]["id"])
    attack = await api.client.post(
        "/merchants/me/products",
        content=json.dumps(PRODUCT),
        headers={"origin": "https://evil.example", "content-type": "application/json"},
    )
    assert attack.status_code == 403, attack.text
    assert attack.json()["type"] == "/problems/cross-site-request"
    # without any Origin or Referer a cookie cannot vouch for the call either
    bare = await api.client.post("/merchants/me/products", json=PRODUCT)
    assert bare.status_code == 403, bare.text
    assert await _products(api, shop["merchant"]["id"]) == before
    # from the site itself the cookie works; a bearer token needs no Origin at all
    own = await api.client.post(
        "/merchants/me/products", json=PRODUCT, headers={"origin": "http://testserver.local"}
    )
    assert own.status_code == 201, own.text
    api.client.cookies.delete(SESSION_COOKIE)
    await api.call("POST", "/merchants/me/products", shop["token"], json=PRODUCT, expect=201)
    assert await _products(api, shop["merchant"]["id"]) == before + 2


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", json.dumps(PRODUCT)),
        ("application/x-www-form-urlencoded", "name=x&kind=stored_value&price=1&units=1"),
        ("multipart/form-data; boundary=x", '--x\r\nContent-Disposition: form-data; name="a"'),
        (None, json.dumps(PRODUCT)),
    ],
)
async def test_api_bodies_that_are_not_json_are_refused_with_415(
    api: Api, content_type: str | None, body: str
) -> None:
    shop, _ = await shop_with(api, STORED)
    before = await _products(api, shop["merchant"]["id"])
    headers = {"authorization": f"Bearer {shop['token']}"}
    if content_type:
        headers["content-type"] = content_type
    response = await api.client.post("/merchants/me/products", content=body, headers=headers)
    assert response.status_code == 415, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "/problems/json-body-required"
    assert await _products(api, shop["merchant"]["id"]) == before


async def test_json_with_a_charset_or_a_json_suffix_is_json(api: Api) -> None:
    shop, _ = await shop_with(api, STORED)
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = await api.client.post(
            "/merchants/me/products",
            content=json.dumps(PRODUCT),
            headers={"authorization": f"Bearer {shop['token']}", "content-type": content_type},
        )
        assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "path", ["/auth/sign-in", "/orders", "/merchants", "/auth/sms-code", "/payments/sandbox/notify"]
)
async def test_deeply_nested_json_is_a_400_not_a_500(
    api: Api, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    # 975 deep once passed a check made at one stack depth and broke the parser at another
    for depth in (33, 500, 975, 2000):
        for deep in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
            response = await api.client.post(
                path, content=deep, headers={"content-type": "application/json"}
            )
            assert response.status_code == 400, (depth, response.text)
            assert response.json()["type"] == "/problems/json-too-deep"
    shallow = await api.client.post(
        path, content="[" * 32 + "]" * 32, headers={"content-type": "application/json"}
    )
    assert shallow.json()["type"] != "/problems/json-too-deep"
    assert "Traceback" not in caplog.text


async def test_a_string_is_not_a_number(api: Api) -> None:
    shop, _ = await shop_with(api, STORED)
    refused = await api.call(
        "POST",
        "/merchants/me/products",
        shop["token"],
        json={**PRODUCT, "price": "100"},
        expect=400,
    )
    assert "price" in json.dumps(refused)


async def test_the_session_cookie_is_secure_outside_development(api: Api, engine, env) -> None:
    username = await api.staff_user(Role.OPERATOR)
    dev = await api.client.post(
        "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert "secure" not in dev.headers["set-cookie"].lower()
    env(PGUARD_ENV="staging")
    assert get_settings().security.secure_cookies
    async with AsyncTestClient(app=create_app(engine)) as client:
        served = await client.post(
            "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
        )
    assert served.status_code == 303, served.text
    assert "secure" in served.headers["set-cookie"].lower()
    env(PGUARD_ENV="development", PGUARD_SECURE_COOKIES="1")
    assert get_settings().security.secure_cookies


async def test_the_openapi_document_names_every_problem_answer(api: Api) -> None:
    document = (await api.client.get("/schema/openapi.json")).json()
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "patch", "put", "delete"}
    ]
    assert len(operations) > 50
    for path, method, operation in operations:
        for status in ("400", "401", "403", "404", "409", "422", "429", "503"):
            answer = operation["responses"].get(status)
            assert answer is not None, (method, path, status)
            assert list(answer["content"]) == ["application/problem+json"], (method, path, status)
