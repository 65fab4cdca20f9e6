"""Signing in over HTTP: staff by password, consumers by SMS code; limits and refusals."""

from __future__ import annotations

import hashlib

from sqlalchemy import select, text

from app.auth.models import Consumer, Role
from tests.e2e.api import PASSWORD, Api, fresh_window


async def test_staff_sign_in_me_and_sign_out(api: Api) -> None:
    token = await api.staff(Role.REGULATOR, "上城区")
    me = await api.call("GET", "/auth/me", token)
    assert (me["role"], me["district"]) == ("regulator", "上城区")
    await api.call("POST", "/auth/sign-out", token, expect=204)
    gone = await api.call("GET", "/auth/me", token, expect=401)
    assert "sign in again" in gone["detail"]


async def test_wrong_password_and_unknown_user_look_the_same(api: Api) -> None:
    token = await api.staff(Role.OPERATOR)
    username = (await api.call("GET", "/auth/me", token))["user_id"]
    assert username
    wrong = await api.call(
        "POST", "/auth/sign-in", json={"username": "nobody-here", "password": PASSWORD}, expect=401
    )
    assert wrong["detail"] == "wrong user name or password"
    assert wrong["type"] == "/problems/wrong-username-or-password"


async def test_anonymous_and_bad_tokens_are_refused_with_problem_details(api: Api) -> None:
    response = await api.client.get("/auth/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"
    bad = await api.call("GET", "/auth/me", "not-a-token", expect=401)
    assert "expired or is unknown" in bad["detail"]
    basic = await api.client.get("/auth/me", headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401


async def test_consumer_signs_in_with_an_sms_code(api: Api) -> None:
    token = await api.consumer("13912345678")
    me = await api.call("GET", "/auth/me", token)
    assert me["role"] == "consumer"
    # signing in again finds the same consumer
    again = await api.consumer("+86 139-1234-5678")
    assert (await api.call("GET", "/auth/me", again))["consumer_id"] == me["consumer_id"]


async def test_phone_numbers_are_encrypted_at_rest(api: Api) -> None:
    phone = "13700001111"
    token = await api.consumer(phone)
    consumer_id = (await api.call("GET", "/auth/me", token))["consumer_id"]
    async with api.sessions() as session:
        row = await session.scalar(select(Consumer).where(Consumer.id == consumer_id))
        assert row is not None
        dump = await session.scalar(
            text("SELECT row_to_json(c)::text FROM consumers c WHERE id = :id"), {"id": row.id}
        )
    assert phone not in (dump or "")
    assert phone.encode() not in row.phone_enc
    assert row.phone_hash != hashlib.sha256(phone.encode()).digest()  # keyed, not a plain hash


async def test_wrong_codes_burn_the_code(api: Api) -> None:
    phone = "13600002222"
    await api.call("POST", "/auth/sms-code", json={"phone": phone}, expect=202)
    code = await api.last_sms_code(phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        await api.call(
            "POST", "/auth/sms-sign-in", json={"phone": phone, "code": wrong}, expect=401
        )
    refused = await api.call(
        "POST", "/auth/sms-sign-in", json={"phone": phone, "code": code}, expect=401
    )
    assert "ask for a new one" in refused["detail"]


async def test_a_code_works_once(api: Api) -> None:
    phone = "13600003333"
    await api.call("POST", "/auth/sms-code", json={"phone": phone}, expect=202)
    code = await api.last_sms_code(phone)
    await api.call("POST", "/auth/sms-sign-in", json={"phone": phone, "code": code})
    await api.call("POST", "/auth/sms-sign-in", json={"phone": phone, "code": code}, expect=401)


async def test_bad_phone_numbers_are_refused_next_to_the_field(api: Api) -> None:
    body = await api.call("POST", "/auth/sms-code", json={"phone": "12345"}, expect=422)
    assert body["errors"] == [
        {"field": "phone", "message": "not a mainland mobile number", "code": "phone-not-mainland"}
    ]
    body = await api.call("POST", "/auth/sms-sign-in", json={"phone": "13600003333"}, expect=400)
    assert body["status"] == 400


async def test_sign_in_is_rate_limited_per_user(api: Api) -> None:
    await fresh_window(600, needed=60)
    for _ in range(10):
        await api.call(
            "POST", "/auth/sign-in", json={"username": "target-user", "password": "x"}, expect=401
        )
    response = await api.client.post(
        "/auth/sign-in", json={"username": "target-user", "password": "x"}
    )
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert "too many attempts" in response.json()["detail"]
