"""Every refund reaches its consumer whole: custody at once, the merchant's part by whichever
comes first of its own payment, its next sales, or its insurer at the deadline.

On a database of its own: the deadline pass claims every overdue payable in the database, and
the clock is moved forward here.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

import escrow
from app.auth.middleware import SESSION_COOKIE
from app.auth.models import Role
from app.clock import ManualClock, use_clock, utcnow
from app.db import create_engine
from app.payables.service import claim_overdue
from tests.e2e.api import (
    ID,
    STORED,
    Api,
    buy,
    counter_of,
    declare_default,
    notify,
    shop_with,
    sign_in_form,
)
from tests.e2e.background import api_on

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sqlalchemy.ext.asyncio import AsyncEngine

    from tests.conftest import Databases

PRICE = STORED["price"]  # ¥800 for ¥1,000 of face value
CUSTODY = PRICE * 3 // 10  # the standard 30% of a merchant not yet rated
OWED = PRICE - CUSTODY


@pytest.fixture(scope="module")
async def own_engine(databases: Databases) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(databases.create(), pool_size=5, max_overflow=10)
    yield engine
    await engine.dispose()


@pytest.fixture
async def papi(own_engine: AsyncEngine) -> AsyncIterator[Api]:
    async with api_on(own_engine) as api:
        yield api


async def _cooling_off_refund(api: Api, consumer: str, card_id: str) -> Any:
    refunded = await api.call(
        "POST",
        f"/me/cards/{card_id}/refund",
        consumer,
        json={"reason": "不想要了"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert refunded["status"] == "refunded"
    assert (refunded["paid_from_custody"], refunded["owed_by_merchant"]) == (CUSTODY, OWED)
    return refunded


async def _refunded_card(
    api: Api, shop: dict[str, Any], product: dict[str, Any], phone: str | None = None
) -> tuple[str, str]:
    """A new consumer buys a card and gets it refunded in cooling-off: (consumer, card)."""
    consumer = await api.consumer(phone)
    counter = await counter_of(api, shop["token"])
    card = (await buy(api, counter, product, consumer, **ID))["card_id"]
    await _cooling_off_refund(api, consumer, card)
    return consumer, card


async def _owes_nothing_to_pay(api: Api, shop: dict[str, Any]) -> None:
    """The merchant has nothing it may pay itself: paid, or claimed from its insurer."""
    nothing = await api.call(
        "POST",
        "/merchants/me/payables/payments",
        shop["token"],
        headers={"Idempotency-Key": uuid.uuid4().hex},
        expect=409,
    )
    assert "nothing to pay" in nothing["detail"]


async def _parts(api: Api, consumer: str, card_id: str) -> list[dict[str, Any]]:
    card = await api.call("GET", f"/me/cards/{card_id}", consumer)
    parts: list[dict[str, Any]] = card["refunds"]
    return parts


async def _received(api: Api, consumer: str, card_id: str) -> int:
    """What the consumer got back for the card, read from the card's history."""
    card = await api.call("GET", f"/me/cards/{card_id}", consumer)
    return sum(e["to_consumer"] for e in card["history"] if e["kind"] != "purchase")


async def _verified(api: Api, merchant_id: str) -> escrow.VerifyReport:
    async with api.sessions() as session:
        report = await escrow.verify(session, [uuid.UUID(merchant_id)])
    assert report.ok, report.problems
    return report


async def test_the_merchant_pays_what_it_owes_through_the_provider(papi: Api) -> None:
    api = papi
    shop, (product,) = await shop_with(api, STORED)
    consumer, card = await _refunded_card(api, shop, product)

    (part,) = await _parts(api, consumer, card)
    assert (part["status"], part["custody_paid"], part["owed"], part["pending"]) == (
        "owed",
        CUSTODY,
        OWED,
        OWED,
    )
    assert part["refunded"] == PRICE
    mine = await api.call("GET", "/merchants/me/payables", shop["token"])
    assert (mine["owed"], mine["claimed"]) == (OWED, 0)

    # Not without a key, not for a consumer, not for another merchant.
    await api.call("POST", "/merchants/me/payables/payments", shop["token"], expect=400)
    await api.call(
        "POST",
        "/merchants/me/payables/payments",
        consumer,
        headers={"Idempotency-Key": uuid.uuid4().hex},
        expect=403,
    )
    other, _ = await shop_with(api)
    assert (await api.call("GET", "/merchants/me/payables", other["token"]))["payables"] == []

    key = {"Idempotency-Key": uuid.uuid4().hex}
    started = await api.call(
        "POST", "/merchants/me/payables/payments", shop["token"], headers=key, expect=201
    )
    assert (started["amount"], started["status"], started["replayed"]) == (OWED, "pending", False)
    again = await api.call(
        "POST", "/merchants/me/payables/payments", shop["token"], headers=key, expect=201
    )
    assert (again["payment_id"], again["replayed"]) == (started["payment_id"], True)
    paid = await api.call("POST", f"/sandbox/pay/{started['provider_order_id']}")
    assert paid["notifications"] == ["settled", "duplicate"]

    (part,) = await _parts(api, consumer, card)
    assert (part["status"], part["by_merchant"], part["pending"]) == ("paid", OWED, 0)
    assert await _received(api, consumer, card) == PRICE
    await _owes_nothing_to_pay(api, shop)
    report = await _verified(api, shop["merchant"]["id"])
    assert report.settled["merchant"] == OWED


async def test_what_is_owed_is_withheld_from_the_next_sales(papi: Api) -> None:
    api = papi
    shop, (product,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    first, second, buyer = [await api.consumer() for _ in range(3)]
    cards = [(await buy(api, counter, product, c, **ID))["card_id"] for c in (first, second)]
    for consumer, card in zip((first, second), cards, strict=True):
        await _cooling_off_refund(api, consumer, card)
    assert (await api.call("GET", "/merchants/me/payables", shop["token"]))["owed"] == 2 * OWED

    # One new sale: its insured part (the merchant's proceeds) pays the oldest payable.
    await buy(api, counter, product, buyer, **ID)
    (earliest,) = await _parts(api, first, cards[0])
    (later,) = await _parts(api, second, cards[1])
    assert (earliest["status"], earliest["netted"], earliest["pending"]) == ("paid", OWED, 0)
    assert (later["status"], later["netted"], later["owed"]) == ("owed", 0, OWED)
    assert await _received(api, first, cards[0]) == PRICE
    settlement = await api.call("GET", "/merchants/me/settlement", shop["token"])
    assert settlement["receivable"] == OWED
    report = await _verified(api, shop["merchant"]["id"])
    assert report.settled["netting"] == OWED


async def test_unpaid_at_the_deadline_the_insurer_pays(papi: Api) -> None:
    api = papi
    insurer = await api.new_insurer()
    shop = await api.active_merchant(insurer_token=insurer.token)
    product = await api.call(
        "POST", "/merchants/me/products", shop["token"], json=STORED, expect=201
    )
    phone = "13912345678"
    consumer, card = await _refunded_card(api, shop, product, phone)
    (part,) = await _parts(api, consumer, card)

    # Before the deadline nothing is claimed; a week later it is.
    assert await claim_overdue(api.sessions, utcnow()) == 0
    with use_clock(ManualClock(utcnow() + timedelta(days=7))):
        assert await claim_overdue(api.sessions, utcnow()) >= 1  # (earlier tests' too)
        assert await claim_overdue(api.sessions, utcnow()) == 0  # once
        # a week on, everyone signs in again
        consumer = await api.consumer(phone)
        shop["token"] = await api.sign_in(shop["username"])
        insurer.token = await api.sign_in(insurer.username)
        (part,) = await _parts(api, consumer, card)
        assert (part["status"], part["owed"], part["claimed"]) == ("claimed", 0, OWED)
        # The merchant can no longer pay it itself: the insurer has it.
        await _owes_nothing_to_pay(api, shop)
        (claim,) = await api.call("GET", "/insurer/claims", insurer.token)
        assert (claim["kind"], claim["total_fen"], claim["status"]) == (
            "refund-payable",
            OWED,
            "triggered",
        )
        detail = await api.call("GET", f"/insurer/claims/{claim['id']}", insurer.token)
        assert [(line["card_id"], line["refund_payable"]) for line in detail["lines"]] == [
            (card, part["seq"])
        ]
        await api.call("POST", f"/insurer/claims/{claim['id']}/acknowledge", insurer.token)
        await api.call(
            "POST",
            f"/insurer/claims/{claim['id']}/pay",
            insurer.token,
            json={"payment_ref": "PAY-7731"},
        )
        (part,) = await _parts(api, consumer, card)
        assert (part["status"], part["by_insurer"], part["pending"]) == ("paid", OWED, 0)
        assert await _received(api, consumer, card) == PRICE
        report = await _verified(api, shop["merchant"]["id"])
        assert report.settled["insurer"] == OWED

        # The card page says so, in both languages.
        api.client.cookies.set(SESSION_COOKIE, consumer)  # the pages' session: the same token
        zh = await api.client.get(f"/my/cards/{card}")
        assert "保险公司赔付" in zh.text
        assert "已全额到账" in zh.text
        await api.client.get("/lang/en")
        en = await api.client.get(f"/my/cards/{card}")
        assert "Paid by the insurer" in en.text
        assert "Received in full" in en.text


async def test_a_default_claims_what_the_merchant_still_owes(papi: Api) -> None:
    api = papi
    insurer = await api.new_insurer()
    shop = await api.active_merchant(insurer_token=insurer.token)
    product = await api.call(
        "POST", "/merchants/me/products", shop["token"], json=STORED, expect=201
    )
    counter = await counter_of(api, shop["token"])
    refunded, holder = await api.consumer(), await api.consumer()
    gone = (await buy(api, counter, product, refunded, **ID))["card_id"]
    kept = (await buy(api, counter, product, holder, **ID))["card_id"]
    await _cooling_off_refund(api, refunded, gone)
    # a dispute decided for the holder: compensation the merchant owes on top of the card
    dispute = await api.call(
        "POST",
        f"/me/cards/{kept}/disputes",
        holder,
        json={"kind": "quality", "text": "教练不来", "amount_asked": 9_000},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        expect=201,
    )
    await api.call(
        "POST",
        f"/merchants/me/disputes/{dispute['id']}/answer",
        shop["token"],
        json={"text": "我们会补偿"},
    )
    await api.call(
        "POST",
        f"/disputes/{dispute['id']}/decide",
        shop["regulator"],
        json={"decision": "partial", "amount_fen": 9_000, "text": "补偿 90 元"},
    )
    assert (await api.call("GET", "/merchants/me/payables", shop["token"]))["owed"] == OWED + 9_000

    declared = await declare_default(api, shop, "店主失联")
    claim = await api.call("GET", f"/insurer/claims/{declared['claim_id']}", insurer.token)
    assert claim["total_fen"] == OWED + (PRICE - CUSTODY) + 9_000
    await api.call("POST", f"/insurer/claims/{claim['id']}/acknowledge", insurer.token)
    await api.call(
        "POST", f"/insurer/claims/{claim['id']}/pay", insurer.token, json={"payment_ref": "D-1"}
    )
    assert await _received(api, refunded, gone) == PRICE
    assert await _received(api, holder, kept) == PRICE + 9_000  # the card, and the compensation
    for consumer, card in ((refunded, gone), (holder, kept)):
        assert all(p["pending"] == 0 for p in await _parts(api, consumer, card))
    await _verified(api, shop["merchant"]["id"])


async def test_the_regulator_sees_payables_by_age_in_its_district(papi: Api) -> None:
    api = papi
    shop, (product,) = await shop_with(api, STORED)
    _, card = await _refunded_card(api, shop, product)
    seen = await api.call("GET", "/payables", shop["regulator"])
    fresh = next(row for row in seen["by_age"] if row["days"] == "0-3")
    assert fresh["owed"] >= OWED
    assert card in [p["card_id"] for p in seen["pending"]]
    elsewhere = await api.staff(Role.REGULATOR, "西湖区")
    assert card not in [
        p["card_id"] for p in (await api.call("GET", "/payables", elsewhere))["pending"]
    ]
    await api.call("GET", "/payables", shop["token"], expect=403)
    await sign_in_form(api.client, shop["regulator_username"])
    page = await api.client.get("/dashboard/protection")
    assert page.status_code == 200
    assert 'id="payables-by-age"' in page.text
    assert "商户退款欠款" in page.text


async def test_a_notification_for_another_amount_changes_nothing(papi: Api) -> None:
    api = papi
    shop, (product,) = await shop_with(api, STORED)
    consumer, card = await _refunded_card(api, shop, product)
    started = await api.call(
        "POST",
        "/merchants/me/payables/payments",
        shop["token"],
        headers={"Idempotency-Key": uuid.uuid4().hex},
        expect=201,
    )
    wrong = await notify(api, started["provider_order_id"], OWED - 1, expect=422)
    assert "the payment is" in wrong["detail"]
    (part,) = await _parts(api, consumer, card)
    assert (part["owed"], part["by_merchant"]) == (OWED, 0)
    await _verified(api, shop["merchant"]["id"])
