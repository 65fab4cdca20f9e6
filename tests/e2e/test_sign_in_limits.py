"""Nobody can lock staff out, guess from many addresses for free, or find staff names.

Addresses are told apart through ``X-Forwarded-For`` from a trusted proxy, on a served app
(the in-process test client has one address only).
"""

from __future__ import annotations

import secrets
import uuid
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlalchemy import select

from app.auth.admin import create_staff
from app.auth.models import RateLimitHit, Role
from app.exceptions import Invalid
from tests.e2e.api import PASSWORD, Api, fresh_window, new_uscc
from tests.live import Server

if TYPE_CHECKING:
    from collections.abc import Callable


def _from(address: str) -> dict[str, str]:
    return {"x-forwarded-for": address}


async def _sign_in(client: httpx.AsyncClient, username: str, password: str, address: str) -> int:
    answer = await client.post(
        "/auth/sign-in",
        json={"username": username, "password": password},
        headers=_from(address),
    )
    return answer.status_code


async def test_a_stranger_cannot_lock_staff_out(
    api: Api, database_url: str, env: Callable[..., None]
) -> None:
    env(PGUARD_TRUSTED_PROXIES="127.0.0.1", PGUARD_SIGN_IN_SLOW_SECONDS="0.01")
    username = await api.staff_user(Role.REGULATOR, "上城区")
    await fresh_window(600, needed=90)
    with Server(database_url) as live:
        async with httpx.AsyncClient(base_url=live.base, timeout=30) as client:
            # one stranger: ten wrong passwords, then that address is refused...
            for _ in range(10):
                assert await _sign_in(client, username, "guess", "203.0.113.7") == 401
            assert await _sign_in(client, username, "guess", "203.0.113.7") == 429
            # ...while the owner, elsewhere, signs in
            assert await _sign_in(client, username, PASSWORD, "198.51.100.1") == 200
            # many strangers, one guess each, past the account's limit: slower, never locked
            for n in range(60):
                assert await _sign_in(client, username, "guess", f"192.0.2.{n + 1}") == 401
            assert await _sign_in(client, username, PASSWORD, "198.51.100.1") == 200


async def test_forwarded_for_is_believed_only_from_configured_proxies(
    api: Api, database_url: str, env: Callable[..., None]
) -> None:
    username = await api.staff_user(Role.REGULATOR, "上城区")
    await fresh_window(600, needed=60)

    async def buckets() -> set[str]:
        async with api.sessions() as session:
            rows = await session.scalars(
                select(RateLimitHit.bucket).where(
                    RateLimitHit.bucket.like(f"signin:user:{username}|%")
                )
            )
            return {row.rsplit("|", 1)[1] for row in rows}

    with Server(database_url) as live:  # by default no proxy is trusted
        async with httpx.AsyncClient(base_url=live.base, timeout=30) as client:
            for n in range(10):
                assert await _sign_in(client, username, "guess", f"203.0.113.{n + 1}") == 401
            # a new X-Forwarded-For each time changed nothing: the peer is the address
            assert await _sign_in(client, username, "guess", "203.0.113.99") == 429
    assert await buckets() == {"127.0.0.1"}
    env(PGUARD_TRUSTED_PROXIES="127.0.0.1")
    with Server(database_url) as live:
        async with httpx.AsyncClient(base_url=live.base, timeout=30) as client:
            assert await _sign_in(client, username, "guess", "203.0.113.50") == 401
    assert await buckets() == {"127.0.0.1", "203.0.113.50"}


def _registration(owner: str) -> dict[str, str]:
    return {
        "uscc": new_uscc(),
        "legal_name": "杭州限流测试有限公司",
        "industry": "fitness",
        "district": "上城区",
        "address": "杭州市上城区解放路1号",
        "owner_username": owner,
        "owner_password": PASSWORD,
    }


async def test_registration_never_tells_which_staff_names_exist(api: Api) -> None:
    staff = await api.staff_user(Role.REGULATOR, "上城区")
    taken = await api.call("POST", "/merchants", json=_registration(staff), expect=422)
    unknown = await api.call(
        "POST", "/merchants", json=_registration(f"nobody-{uuid.uuid4().hex[:8]}@test"), expect=422
    )
    assert taken["type"] == unknown["type"] == "/problems/registration-invalid"
    assert taken["errors"] == unknown["errors"]
    assert [e["code"] for e in taken["errors"]] == ["owner-username-format"]
    # a merchant owner's name can be taken, and is said to be: it is not a staff name
    owner = f"shop-{uuid.uuid4().hex[:10]}"
    await api.call("POST", "/merchants", json=_registration(owner), expect=201)
    again = await api.call("POST", "/merchants", json=_registration(owner), expect=409)
    assert again["type"] == "/problems/user-name-taken"


async def test_registration_is_rate_limited_per_address(
    database_url: str, env: Callable[..., None]
) -> None:
    env(PGUARD_TRUSTED_PROXIES="127.0.0.1", PGUARD_REGISTRATION_LIMIT="3")
    await fresh_window(3600, needed=30)
    address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    with Server(database_url) as live:
        async with httpx.AsyncClient(base_url=live.base, timeout=30) as client:

            async def register() -> httpx.Response:
                body = _registration(f"shop-{uuid.uuid4().hex[:10]}")
                return await client.post("/merchants", json=body, headers=_from(address))

            for _ in range(3):
                assert (await register()).status_code == 201
            refused = await register()
            assert refused.status_code == 429, refused.text
            assert int(refused.headers["retry-after"]) > 0
            # another address is not affected
            address = "10.255.255." + str(secrets.randbelow(250))
            assert (await register()).status_code == 201


async def test_staff_names_are_name_at_organisation(api: Api) -> None:
    async with api.sessions() as session, session.begin():
        with pytest.raises(Invalid) as refused:
            await create_staff(session, username="plainname", password=PASSWORD, role=Role.OPERATOR)
    assert refused.value.code == "staff-username-format"
