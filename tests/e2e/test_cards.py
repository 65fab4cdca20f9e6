"""A card's life over HTTP: scan, buy, pay, hold, redeem with consent, refund, settle."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

import escrow
from app.cards.models import CardHolder, Order, RedemptionCode
from app.settings import get_settings
from tests.e2e.api import (
    ANONYMOUS,
    ID,
    SESSIONS,
    STORED,
    Api,
    buy,
    counter_of,
    notify,
    order,
    redeem,
    shop_with,
)
from tests.live import Server


async def test_consumer_journey_scan_buy_hold_redeem(api: Api) -> None:
    shop, (stored,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    assert counter.url.startswith(f"{get_settings().cards.public_base_url}/q/")
    profile = await api.call("GET", counter.path)
    assert profile["legal_name"] == shop["merchant"]["legal_name"]
    assert profile["protection"]["custody_ratio_bp"] == 3000
    assert profile["protection"]["insured_ratio_bp"] == 7000
    assert profile["risk_grade"] == "NR"
    assert [p["id"] for p in profile["products"]] == [stored["id"]]

    consumer = await api.consumer()
    paid = await buy(api, counter, stored, consumer, **ID)
    card_id = paid["card_id"]
    cards = await api.call("GET", "/me/cards", consumer)
    assert [c["card_id"] for c in cards] == [card_id]
    detail = await api.call("GET", f"/me/cards/{card_id}", consumer)
    assert detail["balance"]["outstanding"] == 80_000
    assert detail["protection"] == {
        "custody_ratio_bp": 3000,
        "custody_share": 24_000,
        "insured_share": 56_000,
    }
    contract = detail["contract"]
    assert contract["price_fen"] == 80_000
    assert contract["face_value_fen"] == 100_000
    assert contract["refund_formula"].startswith("refundable = ceil(paid")
    assert contract["protection"]["custody_fen"] == 24_000
    assert contract["merchant"]["unified_social_credit_code"] == shop["merchant"]["uscc"]
    assert [e["kind"] for e in detail["history"]] == ["purchase"]

    code = await api.call(
        "POST",
        f"/me/cards/{card_id}/redemption-code?image=svg",
        consumer,
        json={"max_units": 100_000},
        expect=201,
    )
    assert len(code["digits"]) == 6
    assert "<svg" in code["qr_svg"]
    follow = f"/me/cards/{card_id}/redemption-codes/{code['id']}"
    assert (await api.call("GET", follow, consumer))["state"] == "waiting"
    key = uuid.uuid4().hex
    used = await redeem(api, shop["token"], {"token": code["token"], "units": 12_345}, key=key)
    assert used["card"]["outstanding"] == 70_124
    seen = await api.call("GET", follow, consumer)
    left = used["card"]["units_remaining"]
    assert (seen["state"], seen["used_units"], seen["units_left"]) == ("used", 12_345, left)
    await api.call("GET", follow, await api.consumer(), expect=404)  # not another's to follow
    assert used["released_from_custody"] == 2_962
    # a retry with the same key replays; the code itself is spent
    again = await redeem(api, shop["token"], {"token": code["token"], "units": 12_345}, key=key)
    assert again["replayed"] is True
    assert again["seq"] == used["seq"]
    spent = await redeem(api, shop["token"], {"token": code["token"], "units": 1}, expect=409)
    assert "already been used" in spent["detail"]
    detail = await api.call("GET", f"/me/cards/{card_id}", consumer)
    assert [e["kind"] for e in detail["history"]] == ["purchase", "redemption"]
    settlement = await api.call("GET", "/merchants/me/settlement", shop["token"])
    assert settlement["sold"] == 80_000
    assert settlement["paid_out_at_sale"] == 56_000
    assert settlement["released_from_custody"] == 2_962
    assert settlement["custody_held"] == 21_038
    assert settlement["outstanding"] == 70_124


async def test_typed_digits_work_once_only_at_their_merchant(api: Api) -> None:
    shop, (sessions,) = await shop_with(api, SESSIONS)
    other, _ = await shop_with(api)
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    card_id = (await buy(api, counter, sessions, consumer, **ID))["card_id"]
    code = await api.call(
        "POST", f"/me/cards/{card_id}/redemption-code", consumer, json={"max_units": 10}, expect=201
    )
    elsewhere = await redeem(
        api, other["token"], {"digits": code["digits"], "units": 1}, expect=404
    )
    assert "no such live code" in elsewhere["detail"]
    foreign_token = await redeem(
        api, other["token"], {"token": code["token"], "units": 1}, expect=403
    )
    assert "another merchant" in foreign_token["detail"]
    too_many = await redeem(api, shop["token"], {"digits": code["digits"], "units": 11}, expect=409)
    assert "agreed to 10 units with this code, not 11" in too_many["detail"]
    ok = await redeem(api, shop["token"], {"digits": code["digits"], "units": 2})
    assert ok["card"]["units_remaining"] == 8
    assert ok["card"]["outstanding"] == 240_000


async def test_expired_code_is_refused(api: Api) -> None:
    shop, (stored,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    card_id = (await buy(api, counter, stored, consumer, **ID))["card_id"]
    code = await api.call(
        "POST",
        f"/me/cards/{card_id}/redemption-code?image=svg",
        consumer,
        json={"max_units": 100_000},
        expect=201,
    )
    async with api.sessions() as session, session.begin():
        await session.execute(
            update(RedemptionCode)
            .where(RedemptionCode.digits == code["digits"])
            .values(expires_at=RedemptionCode.expires_at - timedelta(minutes=3))
        )
    by_digits = await redeem(api, shop["token"], {"digits": code["digits"], "units": 1}, expect=404)
    assert "new one" in by_digits["detail"]
    card = await api.call("GET", f"/me/cards/{card_id}", consumer)
    assert card["balance"]["outstanding"] == 80_000


async def test_duplicate_late_and_out_of_order_notifications_issue_one_card(api: Api) -> None:
    shop, (stored,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    placed = await order(api, counter, stored["id"], consumer, **ID)
    pid, amount = placed["provider_order_id"], placed["amount"]
    # a forged notification is refused and changes nothing
    forged = await api.call(
        "POST",
        "/payments/sandbox/notify",
        content=b'{"event_id":"x","provider_order_id":"%s","status":"SUCCESS","amount":1}'
        % pid.encode(),
        headers={"x-sandbox-signature": "t=1,v1=00", "content-type": "application/json"},
        expect=400,
    )
    assert forged["type"] == "/problems/notification-signature-too-old"  # signed at t=1
    first = await notify(api, pid, amount, event_id="evt-1")
    dup = await notify(api, pid, amount, event_id="evt-1")
    late_close = await notify(api, pid, amount, "CLOSED", event_id="evt-0")
    again = await notify(api, pid, amount, event_id="evt-2")
    assert [first["outcome"], dup["outcome"], late_close["outcome"], again["outcome"]] == [
        "issued",
        "duplicate",
        "already paid",
        "already paid",
    ]
    async with api.sessions() as session:
        holders = await session.scalar(
            select(func.count()).select_from(CardHolder).where(CardHolder.order_id == placed["id"])
        )
    assert holders == 1
    assert len(await api.call("GET", "/me/cards", consumer)) == 1


async def test_wrong_amount_in_a_signed_notification_issues_nothing(api: Api) -> None:
    shop, (stored,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    placed = await order(api, counter, stored["id"], consumer, **ID)
    body = await notify(api, placed["provider_order_id"], 1, expect=422)
    assert body["type"] == "/problems/notification-amount-mismatch"
    assert (body["notified_fen"], body["order_fen"]) == (1, 80_000)
    assert "the order is CN¥800.00" in body["detail"]
    status = await api.call("GET", f"/orders/{placed['id']}", consumer)
    assert status["status"] == "pending"


async def test_order_idempotency(api: Api) -> None:
    shop, (stored, other) = await shop_with(api, STORED, SESSIONS)
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    first = await order(api, counter, stored["id"], consumer, key="order-key-1", **ID)
    replay = await order(api, counter, stored["id"], consumer, key="order-key-1", expect=200, **ID)
    assert replay["id"] == first["id"]
    clash = await order(api, counter, other["id"], consumer, key="order-key-1", expect=409, **ID)
    assert "different order" in clash["detail"]


async def test_anonymous_card_by_secret_link(api: Api) -> None:
    shop, (anon, stored) = await shop_with(api, ANONYMOUS, STORED)
    counter = await counter_of(api, shop["token"])
    paid = await buy(api, counter, anon)
    link = paid["card_link"]
    assert link
    card = await api.call("GET", f"/cards/anonymous/{link}")
    assert card["balance"]["outstanding"] == 50_000
    assert card["registered"] is False
    assert card["expires_at"] is not None
    await api.call("GET", "/cards/anonymous/not-the-link", expect=404)
    # a registered card needs a signed-in buyer
    refused = await order(api, counter, stored["id"], None, expect=401)
    assert "sign in" in refused["detail"]
    # cooling-off refund of the unused anonymous card, in full
    refund = await api.call(
        "POST",
        f"/cards/anonymous/{link}/refund",
        json={"reason": "changed my mind"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert (refund["status"], refund["refunded"]) == ("refunded", 50_000)
    assert (refund["paid_from_custody"], refund["owed_by_merchant"]) == (15_000, 35_000)


async def test_registered_card_needs_real_name(api: Api) -> None:
    shop, (stored,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    missing = await order(api, counter, stored["id"], consumer, expect=422)
    assert {e["field"] for e in missing["errors"]} == {"real_name", "id_number"}
    wrong = await order(
        api,
        counter,
        stored["id"],
        consumer,
        expect=422,
        real_name="张三",
        id_number="110105194912310021",
    )
    assert "check digit" in wrong["errors"][0]["message"]
    await order(api, counter, stored["id"], consumer, **ID)
    # the real name is now on file: the next registered card needs no repeat
    await order(api, counter, stored["id"], consumer)


async def test_refund_outside_cooling_off_goes_to_the_merchant(api: Api) -> None:
    shop, (stored,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    card_id = (await buy(api, counter, stored, consumer, **ID))["card_id"]
    code = await api.call(
        "POST",
        f"/me/cards/{card_id}/redemption-code?image=svg",
        consumer,
        json={"max_units": 100_000},
        expect=201,
    )
    await redeem(api, shop["token"], {"digits": code["digits"], "units": 10_000})
    # used, so not a cooling-off refund: a request for the merchant
    asked = await api.call(
        "POST",
        f"/me/cards/{card_id}/refund",
        consumer,
        json={"reason": "moving away"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert asked["status"] == "requested"
    pending = await api.call("GET", "/merchants/me/refund-requests", shop["token"])
    assert [r["id"] for r in pending] == [asked["request_id"]]
    other, _ = await shop_with(api)
    await api.call(
        "POST",
        f"/merchants/me/refund-requests/{asked['request_id']}/accept",
        other["token"],
        json={},
        expect=404,
    )
    await api.call(
        "POST",
        f"/merchants/me/refund-requests/{asked['request_id']}/refuse",
        shop["token"],
        json={"answer": " "},
        expect=422,
    )
    accepted = await api.call(
        "POST",
        f"/merchants/me/refund-requests/{asked['request_id']}/accept",
        shop["token"],
        json={"answer": "ok"},
    )
    assert accepted["refunded"] == 72_000  # ceil(80000 * 90000 / 100000)
    await api.call(
        "POST",
        f"/merchants/me/refund-requests/{asked['request_id']}/refuse",
        shop["token"],
        json={"answer": "no"},
        expect=409,
    )
    settlement = await api.call("GET", "/merchants/me/settlement", shop["token"])
    assert settlement["receivable"] == 72_000 - 21_600
    assert settlement["refunded"] == 21_600
    assert settlement["outstanding"] == 0


async def test_cooling_off_is_counted_in_shanghai_days(api: Api) -> None:
    shop, (stored,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    card_id = (await buy(api, counter, stored, consumer, **ID))["card_id"]
    async with api.sessions() as session, session.begin():
        await session.execute(
            update(CardHolder)
            .where(CardHolder.card_id == card_id)
            .values(created_at=CardHolder.created_at - timedelta(days=8))
        )
    late = await api.call(
        "POST",
        f"/me/cards/{card_id}/refund",
        consumer,
        json={},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert late["status"] == "requested"


async def test_consumers_never_see_each_others_cards(api: Api) -> None:
    shop, (stored,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    alice, bob = await api.consumer(), await api.consumer()
    card_id = (await buy(api, counter, stored, alice, **ID))["card_id"]
    for method, path in [
        ("GET", f"/me/cards/{card_id}"),
        ("POST", f"/me/cards/{card_id}/redemption-code"),
    ]:
        body = await api.call(method, path, bob, json={"max_units": 1}, expect=404)
        assert body["detail"] == "no such card"  # the same answer as for a card that is not there
    await api.call(
        "POST",
        f"/me/cards/{card_id}/refund",
        bob,
        json={},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        expect=404,
    )
    assert await api.call("GET", "/me/cards", bob) == []
    # merchants and regulators have no consumer card routes
    await api.call("GET", f"/me/cards/{card_id}", shop["token"], expect=403)
    orders = await api.call("GET", "/me/cards", alice)
    assert len(orders) == 1


async def test_thirty_concurrent_purchases_leave_the_ledger_verified(
    api: Api, live: Server
) -> None:
    shop, (stored,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    consumers = [await api.consumer() for _ in range(30)]
    # on a served app: the in-process test client answers one request at a time
    async with httpx.AsyncClient(base_url=live.base, timeout=60) as client:
        served = Api(client, api.sessions)  # type: ignore[arg-type]
        placed = await asyncio.gather(
            *(order(served, counter, stored["id"], c, **ID) for c in consumers)
        )
        results = await asyncio.gather(
            *(notify(served, p["provider_order_id"], p["amount"]) for p in placed)
        )
    assert [r["outcome"] for r in results] == ["issued"] * 30
    async with api.sessions() as session:
        report = await escrow.verify(session, [uuid.UUID(shop["merchant"]["id"])])
        paid = await session.scalar(
            select(func.count())
            .select_from(Order)
            .where(Order.merchant_id == shop["merchant"]["id"], Order.status == "paid")
        )
    assert report.ok, report.problems
    assert (report.entries, paid) == (30, 30)
    settlement = await api.call("GET", "/merchants/me/settlement", shop["token"])
    assert settlement["sold"] == 30 * 80_000
    assert settlement["custody_held"] == 30 * 24_000


@pytest.mark.parametrize("status", ["suspended"])
async def test_suspended_merchant_code_never_reaches_payment(api: Api, status: str) -> None:
    shop, (stored,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    await api.call("POST", f"/merchants/{shop['merchant']['id']}/suspend", shop["regulator"])
    scan = await api.call("GET", counter.path, expect=403)
    assert scan["type"] == "/problems/merchant-sales-suspended"
    assert "suspended" in scan["detail"]
    assert scan["licence_status"] == status
    refused = await order(api, counter, stored["id"], consumer, expect=403, **ID)
    assert "suspended" in refused["detail"]
    await api.call("POST", f"/merchants/{shop['merchant']['id']}/reinstate", shop["regulator"])
    assert (await api.call("GET", counter.path))["licence_status"] == "active"
