"""Onboarding, supervision and products over HTTP: each role, each refusal, no leaks."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, text

from app.auth.models import Role, User
from app.merchants.models import Merchant
from tests.e2e.api import PASSWORD, Api, new_uscc

GOOD_PRODUCT = {
    "name": "储值卡 1000 元",
    "kind": "stored_value",
    "price": 80_000,
    "units": 100_000,
    "terms": "余额可随时按实付比例退还。",
}


async def _counts(api: Api) -> tuple[int, int]:
    async with api.sessions() as session:
        merchants = await session.scalar(select(func.count()).select_from(Merchant))
        users = await session.scalar(select(func.count()).select_from(User))
    return int(merchants or 0), int(users or 0)


async def test_merchant_onboards_is_approved_and_activates(api: Api) -> None:
    shop = await api.register_merchant("上城区")
    assert shop["merchant"]["status"] == "pending"
    me = await api.call("GET", "/merchants/me", shop["token"])
    assert me["id"] == shop["merchant"]["id"]
    early = await api.call("POST", "/merchants/me/activate", shop["token"], expect=409)
    assert "pending merchant cannot become active" in early["detail"]
    regulator = await api.staff(Role.REGULATOR, "上城区")
    approved = await api.call("POST", f"/merchants/{me['id']}/approve", regulator)
    assert approved["status"] == "approved"
    again = await api.call("POST", f"/merchants/{me['id']}/approve", regulator, expect=409)
    assert "approved merchant cannot become approved" in again["detail"]
    uninsured = await api.call("POST", "/merchants/me/activate", shop["token"], expect=422)
    assert "has not yet registered policy" in uninsured["detail"]
    await api.insure({**shop, "merchant": me})
    active = await api.call("POST", "/merchants/me/activate", shop["token"])
    assert active["status"] == "active"


async def test_activation_needs_custody_account_and_policy(api: Api) -> None:
    policy = f"PB-{uuid.uuid4().hex[:10]}"
    shop = await api.register_merchant(custody_account=None, policy_ref=None)
    regulator = await api.staff(Role.REGULATOR, "上城区")
    await api.call("POST", f"/merchants/{shop['merchant']['id']}/approve", regulator)
    refused = await api.call("POST", "/merchants/me/activate", shop["token"], expect=422)
    fields = {e["field"] for e in refused["errors"]}
    assert fields == {"custody_account", "policy_ref"}
    await api.call(
        "PATCH",
        "/merchants/me/protection",
        shop["token"],
        json={"custody_account": "6222020200998877665", "policy_ref": policy},
    )
    await api.insure({**shop, "merchant": {**shop["merchant"], "policy_ref": policy}})
    assert (await api.call("POST", "/merchants/me/activate", shop["token"]))["status"] == "active"


async def test_bad_registrations_are_refused_whole_and_write_nothing(api: Api) -> None:
    before = await _counts(api)
    uscc = new_uscc()
    bad_check = uscc[:17] + ("0" if uscc[17] != "0" else "1")
    base = {
        "uscc": bad_check,
        "legal_name": "某某美发店",
        "industry": "beauty",
        "district": "上城区",
        "address": "某路 1 号",
        "owner_username": "owner-bad-1",
        "owner_password": PASSWORD,
    }
    body = await api.call("POST", "/merchants", json=base, expect=422)
    assert body["errors"] == [
        {
            "field": "uscc",
            "message": "the check character does not match; please check the code for a typo",
            "code": "uscc-check-character",
        }
    ]
    body = await api.call(
        "POST",
        "/merchants",
        json={**base, "uscc": "ABC", "industry": "casino", "owner_password": "short"},
        expect=422,
    )
    assert {e["field"] for e in body["errors"]} == {"uscc", "industry", "owner_password"}
    body = await api.call("POST", "/merchants", json={**base, "extra": 1}, expect=400)
    assert body["status"] == 400
    assert await _counts(api) == before


async def test_duplicate_uscc_and_username_are_conflicts(api: Api) -> None:
    shop = await api.register_merchant()
    uscc = shop["merchant"]["uscc"]
    dup = await api.call(
        "POST",
        "/merchants",
        json={
            "uscc": uscc.lower(),
            "legal_name": "冒名店",
            "industry": "fitness",
            "district": "上城区",
            "address": "x",
            "owner_username": "someone-else-1",
            "owner_password": PASSWORD,
        },
        expect=409,
    )
    assert "already registered" in dup["detail"]
    taken = await api.call(
        "POST",
        "/merchants",
        json={
            "uscc": new_uscc(),
            "legal_name": "新店",
            "industry": "fitness",
            "district": "上城区",
            "address": "x",
            "owner_username": shop["username"],
            "owner_password": PASSWORD,
        },
        expect=409,
    )
    assert taken["errors"] == [
        {"field": "owner_username", "message": "taken", "code": "user-name-in-use"}
    ]


async def test_custody_account_is_encrypted_at_rest(api: Api) -> None:
    shop = await api.register_merchant(custody_account="6222020200112233445")
    async with api.sessions() as session:
        dump = await session.scalar(
            text("SELECT row_to_json(m)::text FROM merchants m WHERE id = :id"),
            {"id": shop["merchant"]["id"]},
        )
    assert "6222020200112233445" not in (dump or "")
    assert shop["merchant"]["has_custody_account"] is True
    assert "custody_account" not in shop["merchant"]


async def test_tenants_and_districts_are_kept_apart(api: Api) -> None:
    a = await api.active_merchant("上城区")
    b = await api.active_merchant("西湖区")
    a_id, b_id = a["merchant"]["id"], b["merchant"]["id"]
    # merchant A cannot see B, nor approve anyone
    assert (await api.call("GET", f"/merchants/{b_id}", a["token"], expect=404))["status"] == 404
    await api.call("POST", f"/merchants/{b_id}/approve", a["token"], expect=403)
    # a district regulator sees its district only
    shangcheng = a["regulator"]
    listed = {m["id"] for m in await api.call("GET", "/merchants", shangcheng)}
    assert a_id in listed
    assert b_id not in listed
    await api.call("GET", f"/merchants/{b_id}", shangcheng, expect=404)
    await api.call("POST", f"/merchants/{b_id}/suspend", shangcheng, expect=404)
    # a city-level regulator sees both
    city = await api.staff(Role.REGULATOR, None)
    listed = {m["id"] for m in await api.call("GET", "/merchants", city)}
    assert {a_id, b_id} <= listed
    # consumers and insurers have no business here
    consumer = await api.consumer()
    await api.call("GET", "/merchants", consumer, expect=403)
    insurer = await api.staff(Role.INSURER)
    await api.call("GET", f"/merchants/{a_id}", insurer, expect=403)
    await api.call("GET", "/merchants", expect=401)


async def test_products_follow_the_card_rules(api: Api) -> None:
    shop = await api.active_merchant()
    token = shop["token"]
    made = await api.call("POST", "/merchants/me/products", token, json=GOOD_PRODUCT, expect=201)
    assert (made["price"], made["units"], made["status"]) == (80_000, 100_000, "active")
    refusals = [
        ({"price": 100_001, "units": 100_000}, "price", "above the card's face value"),
        ({"price": 500_001, "units": 600_000}, "price", "registered card"),
        (
            {"anonymous": True, "price": 100_001, "units": 100_001, "validity_days": 1200},
            "price",
            "anonymous card",
        ),
        (
            {"anonymous": True, "price": 50_000, "units": 50_000, "validity_days": 365},
            "validity_days",
            "at least 1096 days",
        ),
        ({"validity_days": 365}, "validity_days", "does not expire"),
        ({"no_refund": True}, "no_refund", "may not exclude refunds"),
        ({"forfeit_on_expiry": True}, "forfeit_on_expiry", "may not be forfeited"),
        ({"terms": "本卡售出概不退款"}, "terms", "概不退"),
        ({"terms": "Balance is non-refundable."}, "terms", "non-refundable"),
        ({"terms": "过期作废"}, "terms", "过期作废"),
    ]
    for change, field, words in refusals:
        body = await api.call(
            "POST", "/merchants/me/products", token, json={**GOOD_PRODUCT, **change}, expect=422
        )
        messages = {e["field"]: e["message"] for e in body["errors"]}
        assert field in messages, (change, messages)
        assert words in messages[field], (change, messages)
    listed = await api.call("GET", "/merchants/me/products", token)
    assert [p["id"] for p in listed] == [made["id"]]
    anonymous_ok = {
        **GOOD_PRODUCT,
        "anonymous": True,
        "price": 50_000,
        "units": 50_000,
        "validity_days": 1096,
    }
    await api.call("POST", "/merchants/me/products", token, json=anonymous_ok, expect=201)
    sessions = {"name": "私教 10 次", "kind": "sessions", "price": 300_000, "units": 10}
    await api.call("POST", "/merchants/me/products", token, json=sessions, expect=201)


async def test_products_belong_to_their_merchant(api: Api) -> None:
    a = await api.active_merchant()
    b = await api.active_merchant()
    product = await api.call(
        "POST", "/merchants/me/products", a["token"], json=GOOD_PRODUCT, expect=201
    )
    await api.call("POST", f"/merchants/me/products/{product['id']}/retire", b["token"], expect=404)
    assert await api.call("GET", "/merchants/me/products", b["token"]) == []
    retired = await api.call("POST", f"/merchants/me/products/{product['id']}/retire", a["token"])
    assert retired["status"] == "retired"


async def test_pending_merchant_cannot_define_products(api: Api) -> None:
    shop = await api.register_merchant()
    body = await api.call(
        "POST", "/merchants/me/products", shop["token"], json=GOOD_PRODUCT, expect=409
    )
    assert "pending merchant cannot define products" in body["detail"]
