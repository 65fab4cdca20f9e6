"""Refusals found by review: each abuse is refused clearly and changes nothing."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import timedelta

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update

from app.asgi import create_app
from app.auth.models import OtpCode, Role
from app.cards.models import CardHolder, Order, RedemptionCode
from app.logging import loggable_path
from app.payments.sandbox import SandboxProvider
from app.security.pii import PiiCipher
from tests.e2e.api import (
    ANONYMOUS,
    ID,
    STORED,
    Api,
    buy,
    buy_registered,
    counter_of,
    fresh_window,
    order,
    redeem,
    redemption_code,
    shop_with,
)
from tests.live import Server


async def test_anonymous_orders_need_a_secret_sized_key(api: Api) -> None:
    shop, (anon,) = await shop_with(api, ANONYMOUS)
    counter = await counter_of(api, shop["token"])
    body = await order(api, counter, anon["id"], key="order-0001", expect=422)
    assert body["type"] == "/problems/anonymous-key-too-short"
    assert body["errors"] == [
        {"field": "Idempotency-Key", "message": "too short to be secret", "code": "key-too-short"}
    ]
    async with api.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Order)
            .where(Order.merchant_id == shop["merchant"]["id"])
        )
    assert count == 0


async def test_concurrent_orders_with_one_key_make_one_order(api: Api, live: Server) -> None:
    shop, (stored,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    await order(api, counter, stored["id"], consumer, **ID)  # real name now on file
    key = uuid.uuid4().hex
    # on a served app: the in-process test client answers one request at a time
    async with httpx.AsyncClient(base_url=live.base, timeout=60) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    "/orders",
                    json={
                        "merchant_id": counter.merchant_id,
                        "k": counter.k,
                        "s": counter.s,
                        "product_id": stored["id"],
                    },
                    headers={"Idempotency-Key": key, "Authorization": f"Bearer {consumer}"},
                )
                for _ in range(8)
            )
        )
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["id"] for r in responses}) == 1


async def test_consent_limits_what_the_merchant_takes(api: Api) -> None:
    shop, (stored,) = await shop_with(api, STORED)
    consumer, paid = await buy_registered(api, shop, stored)
    card_id = paid["card_id"]
    too_much = await redemption_code(api, consumer, card_id, 100_001, expect=422)
    assert too_much["errors"] == [
        {"field": "max_units", "message": "at most CN¥1,000.00", "code": "consent-at-most-value"}
    ]
    code = await redemption_code(api, consumer, card_id, 3_000)
    assert code["qr_svg"] is None  # drawn only when asked for (?image=svg)
    greedy = await redeem(
        api, shop["token"], {"token": code["token"], "units": 100_000}, expect=409
    )
    assert "agreed to 3000 units" in greedy["detail"]
    card = await api.call("GET", f"/me/cards/{card_id}", consumer)
    assert card["balance"]["units_remaining"] == 100_000


async def test_a_redemption_retry_after_the_code_expired_replays(api: Api) -> None:
    shop, (stored,) = await shop_with(api, STORED)
    consumer, paid = await buy_registered(api, shop, stored)
    code = await redemption_code(api, consumer, paid["card_id"], 500)
    key = uuid.uuid4().hex
    first = await redeem(api, shop["token"], {"digits": code["digits"], "units": 500}, key=key)
    async with api.sessions() as session, session.begin():
        await session.execute(
            update(RedemptionCode)
            .where(RedemptionCode.digits == code["digits"])
            .values(expires_at=RedemptionCode.expires_at - timedelta(minutes=5))
        )
    retry = await redeem(api, shop["token"], {"digits": code["digits"], "units": 500}, key=key)
    assert (retry["replayed"], retry["seq"]) == (True, first["seq"])
    clash = await redeem(
        api, shop["token"], {"digits": code["digits"], "units": 400}, key=key, expect=409
    )
    assert "different redemption" in clash["detail"]


async def test_typed_code_guessing_is_rate_limited(api: Api) -> None:
    shop, _ = await shop_with(api)
    await fresh_window(60, needed=20)
    statuses = []
    for n in range(125):
        response = await api.client.post(
            "/merchants/me/redemptions",
            json={"digits": f"{n:06d}", "units": 1},
            headers={
                "Idempotency-Key": uuid.uuid4().hex,
                "Authorization": f"Bearer {shop['token']}",
            },
        )
        statuses.append(response.status_code)
    assert set(statuses[:120]) == {404}
    assert set(statuses[120:]) == {429}


async def test_refund_requests_are_idempotent(api: Api) -> None:
    shop, (stored,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    card_id = (await buy(api, counter, stored, consumer, **ID))["card_id"]
    code = await api.call(
        "POST", f"/me/cards/{card_id}/redemption-code", consumer, json={"max_units": 1}, expect=201
    )
    await redeem(api, shop["token"], {"digits": code["digits"], "units": 1})
    key = uuid.uuid4().hex
    first = await api.call(
        "POST",
        f"/me/cards/{card_id}/refund",
        consumer,
        json={"reason": "moving"},
        headers={"Idempotency-Key": key},
    )
    again = await api.call(
        "POST",
        f"/me/cards/{card_id}/refund",
        consumer,
        json={"reason": "moving"},
        headers={"Idempotency-Key": key},
    )
    assert again["request_id"] == first["request_id"]
    await api.call(
        "POST",
        f"/me/cards/{card_id}/refund",
        consumer,
        json={"reason": "other"},
        headers={"Idempotency-Key": key},
        expect=409,
    )
    second = await api.call(
        "POST",
        f"/me/cards/{card_id}/refund",
        consumer,
        json={},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        expect=409,
    )
    assert "already waiting" in second["detail"]


async def test_protection_cannot_be_swapped_after_approval(api: Api) -> None:
    shop = await api.active_merchant()
    body = await api.call(
        "PATCH",
        "/merchants/me/protection",
        shop["token"],
        json={"custody_account": "6222020200000000001"},
        expect=409,
    )
    assert body["errors"] == [
        {"field": "custody_account", "message": "already set", "code": "protection-already-set"}
    ]


async def test_nul_bytes_are_a_clear_400(api: Api) -> None:
    body = await api.call(
        "POST", "/auth/sign-in", json={"username": "a\u0000b", "password": "x"}, expect=400
    )
    assert body["type"] == "/problems/unstorable-value"


async def test_notification_edge_cases_are_refused(api: Api) -> None:
    provider = SandboxProvider()
    headers, body = provider.notification("sbx_unknown", 100)
    unknown = await api.call(
        "POST",
        "/payments/sandbox/notify",
        content=body,
        headers={**headers, "content-type": "application/json"},
        expect=404,
    )
    assert "provider order id" in unknown["detail"]
    fraction = json.dumps(
        {
            "event_id": "e",
            "provider_order_id": "sbx_x",
            "status": "SUCCESS",
            "amount": 500.9,
            "occurred_at": "2026-11-28T00:00:00+00:00",
        }
    ).encode()
    t = int(time.time())
    signed = {"x-sandbox-signature": f"t={t},v1={provider._sign(t, fraction)}"}
    refused = await api.call(
        "POST",
        "/payments/sandbox/notify",
        content=fraction,
        headers={**signed, "content-type": "application/json"},
        expect=400,
    )
    assert "whole number" in refused["detail"]
    odd = await api.client.post(
        "/payments/sandbox/notify",
        content=b"{}",
        headers={
            "x-sandbox-signature": f"t={t},v1=\u00e9".encode("latin-1"),
            "content-type": "application/json",
        },
    )
    assert odd.status_code == 400
    old_headers, old_body = provider.notification("sbx_x", 1, signed_at=t - 3600)
    stale = await api.call(
        "POST", "/payments/sandbox/notify", content=old_body, headers=old_headers, expect=400
    )
    assert "too old" in stale["detail"]


async def test_only_the_newest_sms_code_signs_in(api: Api) -> None:
    phone = "13500004444"
    await api.call("POST", "/auth/sms-code", json={"phone": phone}, expect=202)
    first = await api.last_sms_code(phone)
    await api.call("POST", "/auth/sms-code", json={"phone": phone}, expect=202)
    newest = await api.last_sms_code(phone)
    if first != newest:  # one in a million, the same six digits were drawn twice
        refused = await api.call(
            "POST", "/auth/sms-sign-in", json={"phone": phone, "code": first}, expect=401
        )
        assert refused["type"] == "/problems/sms-code-wrong"
    await api.call("POST", "/auth/sms-sign-in", json={"phone": phone, "code": newest})


def test_card_links_never_reach_the_log() -> None:
    assert loggable_path("/cards/anonymous/s3cr3t/refund") == "/cards/anonymous/[secret]/refund"
    assert loggable_path("/me/cards/abc") == "/me/cards/abc"
    # paths that reach no page still carry the link, in any case and anywhere in the path
    assert loggable_path("/Card/s3cr3t/redeem") == "/Card/[secret]/redeem"
    assert loggable_path("/./card/s3cr3t") == "/./card/[secret]"
    assert loggable_path("/api/cards/anonymous/s3cr3t") == "/api/cards/anonymous/[secret]"
    # control characters never reach the log raw (a NUL, a terminal escape sequence)
    assert loggable_path("/merchants/a\x1b[31mRED\x00") == "/merchants/a\\x1b[31mRED\\x00"


async def test_sandbox_pay_page_exists_only_with_the_sandbox(api: Api, engine, env) -> None:
    env(PGUARD_PAYMENTS="none")
    async with AsyncTestClient(app=create_app(engine)) as client:
        response = await client.post("/sandbox/pay/sbx_anything")
    assert response.status_code == 404


def test_production_refuses_sandbox_adapters(env) -> None:
    env(PGUARD_ENV="production")
    with pytest.raises(RuntimeError, match="sandbox adapters"):
        create_app()


async def test_staff_cannot_buy(api: Api) -> None:
    shop, (stored,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    regulator = await api.staff(Role.REGULATOR)
    body = await order(api, counter, stored["id"], regulator, expect=403)
    assert "only consumers" in body["detail"]


async def test_without_an_sms_gateway_no_code_is_made_that_nobody_receives(
    api: Api, engine, env
) -> None:
    env(PGUARD_SMS="none")
    phone = "13912345678"
    hashed = PiiCipher.from_master_key().lookup_hash(phone, field="phone")

    async def codes() -> int:
        async with api.sessions() as session:
            count = await session.scalar(
                select(func.count()).select_from(OtpCode).where(OtpCode.phone_hash == hashed)
            )
        return int(count or 0)

    before = await codes()
    async with AsyncTestClient(app=create_app(engine)) as client:
        response = await client.post("/auth/sms-code", json={"phone": phone})
    assert response.status_code == 503
    assert response.json()["type"] == "/problems/sms-unavailable"
    assert await codes() == before


async def test_concurrent_payment_notifications_issue_one_card_and_no_error(
    api: Api, live: Server
) -> None:
    shop, (stored,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    placed = await order(api, counter, stored["id"], consumer, **ID)
    clicked = await order(api, counter, stored["id"], consumer, **ID)
    provider = SandboxProvider()
    async with httpx.AsyncClient(base_url=live.base, timeout=60) as client:
        # 20 distinct SUCCESS notifications of one order at once, on a served app (the test
        # client answers one request at a time): every one answered, none a 500
        notices = [
            provider.notification(placed["provider_order_id"], placed["amount"]) for _ in range(20)
        ]
        answers = await asyncio.gather(
            *(
                client.post("/payments/sandbox/notify", content=body, headers=headers)
                for headers, body in notices
            )
        )
        # and two clicks at once on the sandbox's pay button
        clicks = await asyncio.gather(
            *(client.post(f"/sandbox/pay/{clicked['provider_order_id']}") for _ in range(2))
        )
    assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers]
    outcomes = sorted(a.json()["outcome"] for a in answers)
    assert outcomes == ["already paid"] * 19 + ["issued"]
    assert [c.status_code for c in clicks] == [200, 200], [c.text for c in clicks]
    async with api.sessions() as session:
        cards = (
            await session.scalars(
                select(CardHolder.order_id).where(
                    CardHolder.order_id.in_([placed["id"], clicked["id"]])
                )
            )
        ).all()
    assert sorted(map(str, cards)) == sorted([placed["id"], clicked["id"]])
