"""A small driver for the HTTP API: the journeys tests share (sign in, onboard a merchant, buy a
card, complain, rate a merchant)."""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.admin import create_staff
from app.auth.models import Role, SandboxSms
from app.auth.service import normalise_phone
from app.clock import today, utcnow
from app.merchants.uscc import CHARSET, check_character
from app.outbox.service import create_insurer
from app.payments.sandbox import SandboxProvider
from app.risk.models import Rating
from app.security.pii import PiiCipher
from scoring import FEATURES

PASSWORD = "correct horse battery"


def new_uscc() -> str:
    """A fresh, valid unified social credit code."""
    body = "9133" + "0102" + "".join(secrets.choice(CHARSET[:10]) for _ in range(9))
    return body + check_character(body)


async def fresh_window(seconds: int, needed: float) -> None:
    """Wait, if need be, until a fixed rate-limit window has ``needed`` seconds left.

    Limits count in windows aligned to the clock; a burst that straddles two windows would
    be counted half in each, and a test of the limit would pass or fail by the clock.
    """
    left = seconds - time.time() % seconds
    if left < needed:
        await asyncio.sleep(left + 0.05)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_in_form(client: AsyncTestClient[Litestar], username: str) -> Response:
    """Sign staff in through the page's form, as a browser does; the client keeps the cookie.

    Returns the redirect to the role's page (303), not followed.
    """
    response = await client.post(
        "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return response


@dataclass
class InsurerAccount:
    """An insurer, its webhook signing secret, and a signed-in member of its staff."""

    insurer_id: uuid.UUID
    secret: str
    token: str
    username: str


class Api:
    """Drives the app through HTTP as each role would."""

    def __init__(
        self, client: AsyncTestClient[Litestar], sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        self.client = client
        self.sessions = sessions

    async def call(
        self, method: str, path: str, token: str | None = None, *, expect: int = 200, **kw: Any
    ) -> Any:
        # The client may hold a page's session cookie too: then it calls as the site's own
        # script would, from the site's origin (a cross-site call is refused; tested apart).
        origin = str(self.client.base_url).rstrip("/")
        headers = {"origin": origin, **kw.pop("headers", {}), **(bearer(token) if token else {})}
        response = await self.client.request(method, path, headers=headers, **kw)
        assert response.status_code == expect, (response.status_code, response.text)
        if response.headers.get("content-type", "").startswith("application/problem+json"):
            return response.json()
        if "json" in response.headers.get("content-type", ""):
            return response.json()
        return response

    async def staff_user(self, role: Role, district: str | None = None) -> str:
        """A new staff account of ``role`` (password :data:`PASSWORD`); returns its user name."""
        username = f"{role.value}-{uuid.uuid4().hex[:12]}@test"
        async with self.sessions() as session, session.begin():
            await create_staff(
                session,
                username=username,
                password=PASSWORD,
                role=role,
                district=district,
                organisation=f"{role.value} org",
            )
        return username

    async def staff(self, role: Role, district: str | None = None) -> str:
        """A new staff account of ``role``, signed in; returns its token."""
        return await self.sign_in(await self.staff_user(role, district))

    async def sign_in(self, username: str) -> str:
        """A staff account signed in through the API; returns the token."""
        body = await self.call(
            "POST", "/auth/sign-in", json={"username": username, "password": PASSWORD}
        )
        return str(body["token"])

    async def last_sms_code(self, phone: str) -> str:
        cipher = PiiCipher.from_master_key()
        phone = normalise_phone(phone)
        async with self.sessions() as session:
            body = await session.scalar(
                select(SandboxSms.body)
                .where(SandboxSms.phone_hash == cipher.lookup_hash(phone, field="phone"))
                .order_by(SandboxSms.id.desc())
                .limit(1)
            )
        assert body is not None, "no SMS was sent"
        return body.split("验证码 ")[1][:6]

    async def consumer(self, phone: str | None = None) -> str:
        """A consumer signed in by SMS code; returns the token."""
        phone = phone or f"139{secrets.randbelow(10**8):08d}"
        await self.call("POST", "/auth/sms-code", json={"phone": phone}, expect=202)
        code = await self.last_sms_code(phone)
        body = await self.call("POST", "/auth/sms-sign-in", json={"phone": phone, "code": code})
        return str(body["token"])

    async def register_merchant(self, district: str = "上城区", **overrides: Any) -> dict[str, Any]:
        username = f"shop-{uuid.uuid4().hex[:10]}"
        data = {
            "uscc": new_uscc(),
            "legal_name": "杭州示范健身有限公司",
            "industry": "fitness",
            "district": district,
            "address": "杭州市上城区解放路1号",
            "owner_username": username,
            "owner_password": PASSWORD,
            "custody_bank": "杭州银行",
            "custody_account": "6222020200112233445",
            "policy_ref": f"PB-{uuid.uuid4().hex[:8]}",
            **overrides,
        }
        merchant = await self.call("POST", "/merchants", json=data, expect=201)
        token = (
            await self.call(
                "POST", "/auth/sign-in", json={"username": username, "password": PASSWORD}
            )
        )["token"]
        return {"merchant": merchant, "token": token, "username": username}

    async def active_merchant(
        self, district: str = "上城区", *, insurer_token: str | None = None, **overrides: Any
    ) -> dict[str, Any]:
        """Registered (``overrides`` to its registration), approved by a regulator of its
        district, insured, activated.

        The insurer (``insurer_token``'s, else a test insurer) registers the policy the
        merchant declared, as activation requires.
        """
        shop = await self.register_merchant(district, **overrides)
        shop["regulator_username"] = await self.staff_user(Role.REGULATOR, district)
        regulator = await self.sign_in(shop["regulator_username"])
        await self.call("POST", f"/merchants/{shop['merchant']['id']}/approve", regulator)
        await self.insure(shop, insurer_token)
        shop["merchant"] = await self.call("POST", "/merchants/me/activate", shop["token"])
        shop["regulator"] = regulator
        return shop

    async def insure(self, shop: dict[str, Any], insurer_token: str | None = None) -> Any:
        """The insurer registers the policy number the merchant declared."""
        if insurer_token is None:
            insurer_token = await self.test_insurer()
        body = {
            "uscc": shop["merchant"]["uscc"],
            "number": shop["merchant"]["policy_ref"],
            "coverage_fen": 10**10,
            "starts_on": "2026-01-01",
        }
        return await self.call("POST", "/insurer/policies", insurer_token, json=body, expect=201)

    async def test_insurer(self) -> str:
        """A signed-in member of a new test insurer's staff."""
        return (await self.new_insurer()).token

    async def new_insurer(self, url: str | None = None) -> InsurerAccount:
        """A new insurer (webhooks to ``url``, if any) and a signed-in member of its staff."""
        tag = uuid.uuid4().hex[:10]
        username = f"insurer-{tag}@test"
        async with self.sessions() as session, session.begin():
            made, secret = await create_insurer(
                session, PiiCipher.from_master_key(), name=f"保险公司 {tag}", webhook_url=url
            )
            await create_staff(
                session,
                username=username,
                password=PASSWORD,
                role=Role.INSURER,
                organisation=made.name,
                insurer_id=made.id,
            )
        body = await self.call(
            "POST", "/auth/sign-in", json={"username": username, "password": PASSWORD}
        )
        return InsurerAccount(made.id, secret, str(body["token"]), username)


def flip(signature: str) -> str:
    """A code's signature with one bit flipped: what a forged counter code carries."""
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[10] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


class Counter:
    """A merchant's counter code as a consumer's phone reads it."""

    def __init__(self, url: str) -> None:
        parsed = urlsplit(url)
        self.url = url
        self.merchant_id = parsed.path.rsplit("/", 1)[-1]
        query = parse_qs(parsed.query)
        self.k = query["k"][0]
        self.s = query["s"][0]

    @property
    def path(self) -> str:
        return f"/q/{self.merchant_id}?k={self.k}&s={self.s}"


async def counter_of(api: Api, merchant_token: str) -> Counter:
    return Counter((await api.call("GET", "/merchants/me/qr", merchant_token))["url"])


async def order(
    api: Api,
    counter: Counter,
    product_id: str,
    token: str | None = None,
    *,
    key: str | None = None,
    expect: int = 201,
    **extra: Any,
) -> Any:
    body = {
        "merchant_id": counter.merchant_id,
        "k": counter.k,
        "s": counter.s,
        "product_id": product_id,
        **extra,
    }
    return await api.call(
        "POST",
        "/orders",
        token,
        json=body,
        expect=expect,
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )


async def notify(
    api: Api,
    provider_order_id: str,
    amount: int,
    status: str = "SUCCESS",
    *,
    event_id: str | None = None,
    expect: int = 200,
) -> Any:
    headers, body = SandboxProvider().notification(
        provider_order_id,
        amount,
        status,
        event_id=event_id,  # type: ignore[arg-type]
    )
    return await api.call(
        "POST",
        "/payments/sandbox/notify",
        content=body,
        headers={**headers, "content-type": "application/json"},
        expect=expect,
    )


async def redeem(
    api: Api,
    merchant_token: str,
    body: dict[str, Any],
    *,
    key: str | None = None,
    expect: int = 200,
) -> Any:
    """The merchant redeems with a consumer's code (``token`` or ``digits``) and ``units``."""
    return await api.call(
        "POST",
        "/merchants/me/redemptions",
        merchant_token,
        json=body,
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
        expect=expect,
    )


async def buy(
    api: Api, counter: Counter, product: dict[str, Any], token: str | None = None, **extra: Any
) -> dict[str, Any]:
    """Order and pay one card; returns the paid order."""
    placed = await order(api, counter, product["id"], token, **extra)
    done = await notify(api, placed["provider_order_id"], placed["amount"])
    assert done["outcome"] == "issued", done
    query = {"card_link": placed["card_link"]} if placed["card_link"] else None
    paid = await api.call("GET", f"/orders/{placed['id']}", token, params=query)
    assert paid["status"] == "paid"
    return {**placed, **{k: v for k, v in paid.items() if k != "card_link"}}


STORED = {"name": "储值卡 1000 元", "kind": "stored_value", "price": 80_000, "units": 100_000}
SESSIONS = {"name": "私教 10 次", "kind": "sessions", "price": 300_000, "units": 10}
ANONYMOUS = {
    "name": "洗车卡",
    "kind": "stored_value",
    "price": 50_000,
    "units": 60_000,
    "anonymous": True,
    "validity_days": 1096,
}
ID = {"real_name": "张三", "id_number": "11010519491231002X"}


async def shop_with(
    api: Api, *products: dict[str, object]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An active merchant selling ``products``."""
    shop = await api.active_merchant()
    made = [
        await api.call("POST", "/merchants/me/products", shop["token"], json=p, expect=201)
        for p in products
    ]
    return shop, made


async def buy_registered(
    api: Api, shop: dict[str, Any], product: dict[str, Any], consumer: str | None = None
) -> tuple[str, dict[str, Any]]:
    """A consumer (a new one unless given) buys ``product`` at ``shop``'s counter under a real
    name; the consumer's token and the paid order."""
    consumer = consumer or await api.consumer()
    return consumer, await buy(api, await counter_of(api, shop["token"]), product, consumer, **ID)


async def redemption_code(
    api: Api, consumer: str, card_id: str, max_units: int, *, expect: int = 201
) -> Any:
    """The holder's consent code for at most ``max_units`` (its ``token`` and ``digits``)."""
    return await api.call(
        "POST",
        f"/me/cards/{card_id}/redemption-code",
        consumer,
        json={"max_units": max_units},
        expect=expect,
    )


async def complain(
    api: Api, consumer: str, card_id: str, kind: str, text: str, amount_asked: int
) -> Any:
    """The holder files a complaint about the card; the new dispute."""
    return await api.call(
        "POST",
        f"/me/cards/{card_id}/disputes",
        consumer,
        json={"kind": kind, "text": text, "amount_asked": amount_asked},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        expect=201,
    )


async def declare_default(api: Api, shop: dict[str, Any], reason: str) -> Any:
    """The shop's regulator declares it in default (custody pays, the claim opens)."""
    return await api.call(
        "POST",
        f"/merchants/{shop['merchant']['id']}/measures",
        shop["regulator"],
        json={"kind": "declare-default", "reason": reason, "confirm": True},
        expect=201,
    )


def reason(feature: str, value: Any, reference: Any, contribution: float) -> dict[str, Any]:
    """A rating's reason as the rater stores it, with its source record unless ``value`` is
    missing."""
    return {
        "feature": feature,
        "source": feature.split("_", 1)[0],
        "kind": feature.split("_", 1)[1],
        "value": value,
        "reference": reference,
        "contribution": contribution,
        "record": None
        if value is None
        else {"ref": "1", "value": value, "as_of": "2025-01-02", "provenance": "税务局 feed"},
    }


async def add_rating(
    api: Api, merchant_id: str, reasons: list[dict[str, Any]], **fields: Any
) -> None:
    """Give the merchant a stored rating, as the rater would have left it (no model needed).

    A grade D with no overrides unless ``fields`` say otherwise (any column of ``Rating``).
    """
    values: dict[str, Any] = {
        "probability": 0.21,
        "reference_probability": 0.05,
        "grade": "D",
        "model_grade": "D",
        "overrides": [],
        "model_version": "test-1",
        "cut_points_version": "cp-1",
        "scored_for": today(),
        "rated_at": utcnow(),
        "cause": "test",
        **fields,
    }
    async with api.sessions() as session, session.begin():
        session.add(
            Rating(
                merchant_id=uuid.UUID(merchant_id),
                reasons=reasons,
                contributions=[
                    next((r["contribution"] for r in reasons if r["feature"] == f), 0.0)
                    for f in FEATURES
                ],
                **values,
            )
        )
