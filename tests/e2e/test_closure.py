"""Orderly closure and card transfer, end to end over HTTP on PostgreSQL.

A school with session and stored-value cards files its closure; its holders keep, refund,
move and do nothing; the regulator names a successor, which accepts; the bulk move runs;
on the date the rest is refunded and the school is closed. Every fen is accounted for.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

import escrow
from app.auth.service import normalise_phone
from app.auth.sms import SandboxTexts
from app.clock import ManualClock, today, use_clock, utcnow
from app.closures.models import Notification
from app.closures.service import close_due, settle_cards
from app.closures.texts import deliver_texts
from app.security.pii import PiiCipher
from tests.e2e.api import (
    ID,
    SESSIONS,
    STORED,
    buy_registered,
    counter_of,
    notify,
    order,
    redeem,
    redemption_code,
)

if TYPE_CHECKING:
    from tests.e2e.api import Api


async def _shop(
    api: Api, insurer: str | None = None
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    shop = await api.active_merchant(insurer_token=insurer)
    products = [
        await api.call("POST", "/merchants/me/products", shop["token"], json=p, expect=201)
        for p in (SESSIONS, STORED)
    ]
    return shop, products[0], products[1]


async def _events(api: Api, insurer: str, kind: str) -> list[Any]:
    page = await api.call("GET", "/insurer/events", insurer)
    return [e for e in page["events"] if e["type"] == kind]


async def _card(api: Api, consumer: str, card_id: str) -> Any:
    return await api.call("GET", f"/me/cards/{card_id}", consumer)


async def test_a_closing_school_settles_every_card_whole(api: Api) -> None:  # noqa: PLR0915 - one journey
    school_insurer, successor_insurer = await api.test_insurer(), await api.test_insurer()
    school, lessons, stored = await _shop(api, school_insurer)
    successor, new_lessons, new_stored = await _shop(api, successor_insurer)
    phone = f"137{secrets.randbelow(10**8):08d}"
    keeper, kept = await buy_registered(api, school, lessons, await api.consumer(phone))
    refunder, refunded = await buy_registered(api, school, stored)
    mover, moved = await buy_registered(api, school, lessons)
    idler, idle = await buy_registered(api, school, stored)
    code = await redemption_code(api, mover, moved["card_id"], 2)
    await redeem(api, school["token"], {"token": code["token"], "units": 2})
    worth = {
        c["card_id"]: (await _card(api, t, c["card_id"]))["balance"]["outstanding"]
        for t, c in ((keeper, kept), (refunder, refunded), (mover, moved), (idler, idle))
    }

    # a notice shorter than 30 days is refused, and changes nothing
    soon = (today() + timedelta(days=29)).isoformat()
    refused = await api.call(
        "POST",
        "/closures",
        school["token"],
        json={"kind": "closure", "closes_on": soon, "reason": "租约到期"},
        expect=422,
    )
    assert refused["type"] == "/problems/closure-invalid"
    assert "closes_on" in str(refused)
    counter = await counter_of(api, school["token"])
    late = await api.consumer()
    placed = await order(api, counter, lessons["id"], late, expect=201, **ID)

    closes_on = (today() + timedelta(days=30)).isoformat()
    closure = await api.call(
        "POST",
        "/closures",
        school["token"],
        json={"kind": "closure", "closes_on": closes_on, "reason": "租约到期，停止营业"},
        expect=201,
    )
    again = await api.call(
        "POST",
        "/closures",
        school["token"],
        json={"kind": "closure", "closes_on": closes_on, "reason": "again"},
        expect=409,
    )
    assert again["type"] == "/problems/closure-already-announced"
    # no new sales from the moment it is filed
    stopped = await order(api, counter, lessons["id"], await api.consumer(), expect=403, **ID)
    assert stopped["type"] == "/problems/merchant-closing"
    # an order placed before the notice and paid after it: its card joins the closure
    paid = await notify(api, placed["provider_order_id"], placed["amount"])
    assert paid["outcome"] == "issued"
    late_card = (await api.call("GET", f"/orders/{placed['id']}", late))["card_id"]
    worth[late_card] = placed["amount"]
    # every holder is told: on each card's page, and one text per holder
    async with api.sessions() as session:
        told = dict(
            (
                await session.execute(
                    select(Notification.channel, func.count())
                    .where(Notification.closure_id == uuid.UUID(closure["id"]))
                    .group_by(Notification.channel)
                )
            ).all()
        )
    assert told == {"in_app": 5, "sms": 5}
    sms = SandboxTexts()
    cipher = PiiCipher.from_master_key()
    assert await deliver_texts(api.sessions, cipher, sms) >= 5
    async with api.sessions() as session:
        statuses = set(
            await session.scalars(
                select(Notification.status).where(
                    Notification.closure_id == uuid.UUID(closure["id"])
                )
            )
        )
        text = await sms.last_text(
            session, cipher.lookup_hash(normalise_phone(phone), field="phone")
        )
    assert statuses == {"sent"}
    assert text is not None
    assert "停业" in text
    assert school["merchant"]["legal_name"] in text

    # the regulator names the successor; its terms count until it accepts them
    terms = [
        {"from": lessons["id"], "to": new_lessons["id"], "per_unit": 1},
        {"from": stored["id"], "to": new_stored["id"], "per_unit": 1},
    ]
    offer = await api.call(
        "POST",
        f"/closures/{closure['id']}/successors",
        school["regulator"],
        json={"successor_id": successor["merchant"]["id"], "terms": terms},
        expect=201,
    )
    notice = await api.call("GET", f"/me/cards/{moved['card_id']}/closure", mover)
    assert notice["successors"] == []  # not accepted yet
    await api.call("POST", f"/closures/offers/{offer['id']}/accept", school["token"], expect=404)
    await api.call("POST", f"/closures/offers/{offer['id']}/accept", successor["token"])
    notice = await api.call("GET", f"/me/cards/{moved['card_id']}/closure", mover)
    assert [s["offer_id"] for s in notice["successors"]] == [offer["id"]]

    # each holder chooses; nobody chooses for another's card
    await api.call(
        "POST",
        f"/me/cards/{moved['card_id']}/closure",
        keeper,
        json={"choice": "refund"},
        expect=404,
    )
    await api.call("POST", f"/me/cards/{kept['card_id']}/closure", keeper, json={"choice": "keep"})
    chose = await api.call(
        "POST", f"/me/cards/{refunded['card_id']}/closure", refunder, json={"choice": "refund"}
    )
    assert chose["outcome"] == "refunded"
    assert chose["refunded"] == worth[refunded["card_id"]]
    bad = await api.call(
        "POST",
        f"/me/cards/{moved['card_id']}/closure",
        mover,
        json={"choice": "transfer", "offer_id": str(uuid.uuid4())},
        expect=422,
    )
    assert bad["type"] == "/problems/closure-choice-invalid"
    await api.call(
        "POST",
        f"/me/cards/{moved['card_id']}/closure",
        mover,
        json={"choice": "transfer", "offer_id": offer["id"]},
    )

    # the regulator's bulk move; running it again moves nothing twice
    done = await api.call("POST", f"/closures/{closure['id']}/transfers", school["regulator"])
    assert done == {"moved": 1, "moved_fen": worth[moved["card_id"]], "used_up": 0}
    assert (await api.call("POST", f"/closures/{closure['id']}/transfers", school["regulator"]))[
        "moved"
    ] == 0
    notice = await api.call("GET", f"/me/cards/{moved['card_id']}/closure", mover)
    new_card = notice["new_card_id"]
    assert notice["outcome"] == "transferred"
    card = await _card(api, mover, new_card)
    assert card["balance"]["outstanding"] == worth[moved["card_id"]]
    assert card["balance"]["units_remaining"] == SESSIONS["units"] - 2
    assert card["contract"]["merchant"]["id"] == successor["merchant"]["id"]
    assert card["contract"]["transferred_from"]["card_id"] == moved["card_id"]
    # each side's insurer hears how its cover moved
    released = await _events(api, school_insurer, "cover.released")
    taken = await _events(api, successor_insurer, "cover.taken")
    assert [e["data"]["cards"][0]["card_id"] for e in released] == [moved["card_id"]]
    assert [e["data"]["cards"][0]["new_card_id"] for e in taken] == [new_card]
    assert taken[0]["data"]["cover_fen"] == card["balance"]["insured_share"]
    assert released[0]["data"]["counterparty"]["id"] == successor["merchant"]["id"]
    # the moved card is used at the successor
    code = await redemption_code(api, mover, new_card, 1)
    used = await redeem(api, successor["token"], {"token": code["token"], "units": 1})
    assert used["card"]["units_remaining"] == SESSIONS["units"] - 3

    # the date comes: the keeper's and the idler's cards are refunded, the school closes
    closes_at = utcnow() + timedelta(days=31)
    with use_clock(ManualClock(closes_at)):
        assert await close_due(api.sessions, closes_at) >= 1
    for token, bought in ((keeper, kept), (idler, idle), (late, {"card_id": late_card})):
        notice = await api.call("GET", f"/me/cards/{bought['card_id']}/closure", token)
        assert notice["outcome"] == "refunded"
        assert notice["refunded"] == worth[bought["card_id"]]
        assert notice["closure"]["status"] == "closed"
    shop = await api.call("GET", f"/merchants/{school['merchant']['id']}", school["regulator"])
    assert shop["status"] == "closed"
    async with api.sessions() as session, session.begin():
        ids = [uuid.UUID(school["merchant"]["id"]), uuid.UUID(successor["merchant"]["id"])]
        report = await escrow.verify(session, ids)
    assert report.ok, report.problems


async def test_an_emergency_transfer_moves_some_cards_and_the_default_pays_the_rest(
    api: Api,
) -> None:
    school_insurer = await api.test_insurer()
    school, lessons, _ = await _shop(api, school_insurer)
    successor, new_lessons, _ = await _shop(api)
    holders = [await buy_registered(api, school, lessons) for _ in range(3)]
    worth = {c["card_id"]: c["amount"] for _, c in holders}
    soon = (today() + timedelta(days=3)).isoformat()
    body = {"kind": "emergency", "closes_on": soon, "reason": "老板失联，门店停业"}

    # only a regulator opens one; a merchant's own request is refused and changes nothing
    refused = await api.call(
        "POST", "/closures", school["token"], json={**body, "confirm_default": True}, expect=403
    )
    assert refused["type"] == "/problems/closure-emergency-regulator-only"
    unconfirmed = await api.call(
        "POST",
        "/closures",
        school["regulator"],
        json={**body, "merchant_id": school["merchant"]["id"]},
        expect=422,
    )
    assert [e["field"] for e in unconfirmed["errors"]] == ["confirm"]
    closure = await api.call(
        "POST",
        "/closures",
        school["regulator"],
        json={**body, "merchant_id": school["merchant"]["id"], "confirm_default": True},
        expect=201,
    )
    assert closure["kind"] == "emergency"
    offer = await api.call(
        "POST",
        f"/closures/{closure['id']}/successors",
        school["regulator"],
        json={
            "successor_id": successor["merchant"]["id"],
            "terms": [{"from": lessons["id"], "to": new_lessons["id"], "per_unit": 1}],
        },
        expect=201,
    )
    await api.call("POST", f"/closures/offers/{offer['id']}/accept", successor["token"])

    (mover, moved), (payee, paid), (_, idle) = holders
    # a failing merchant's card is not refunded on request: it moves or is paid out
    no_refund = await api.call(
        "POST", f"/me/cards/{paid['card_id']}/closure", payee, json={"choice": "refund"}, expect=422
    )
    assert no_refund["errors"][0]["code"] == "closure-choice-not-in-emergency"
    await api.call("POST", f"/me/cards/{paid['card_id']}/closure", payee, json={"choice": "payout"})
    await api.call(
        "POST",
        f"/me/cards/{moved['card_id']}/closure",
        mover,
        json={"choice": "transfer", "offer_id": offer["id"]},
    )
    done = await api.call("POST", f"/closures/{closure['id']}/transfers", school["regulator"])
    assert done["moved"] == 1

    # the window closes: the default is declared and pays out the two cards that did not move
    closes_at = utcnow() + timedelta(days=4)
    with use_clock(ManualClock(closes_at)):
        assert await close_due(api.sessions, closes_at) >= 1
    shop = await api.call("GET", f"/merchants/{school['merchant']['id']}", school["regulator"])
    assert shop["status"] == "defaulted"
    for token, card in ((payee, paid), (holders[2][0], idle)):
        notice = await api.call("GET", f"/me/cards/{card['card_id']}/closure", token)
        assert notice["outcome"] == "paid_out"
        balance = (await _card(api, token, card["card_id"]))["balance"]
        assert balance["status"] == "defaulted"
    claims = await _events(api, school_insurer, "claim.triggered")
    assert len(claims) == 1
    claimed = {c["card_id"]: c for c in claims[0]["data"]["cards"]}
    assert set(claimed) == {paid["card_id"], idle["card_id"]}
    for card_id, line in claimed.items():  # each consumer is owed exactly the card's worth
        assert line["custody_paid_fen"] + line["claim_fen"] == worth[card_id]
    notice = await api.call("GET", f"/me/cards/{moved['card_id']}/closure", mover)
    assert notice["outcome"] == "transferred"
    assert (await _card(api, mover, notice["new_card_id"]))["balance"]["status"] == "open"
    async with api.sessions() as session, session.begin():
        ids = [uuid.UUID(school["merchant"]["id"]), uuid.UUID(successor["merchant"]["id"])]
        report = await escrow.verify(session, ids)
    assert report.ok, report.problems


async def test_a_successor_that_stops_trading_takes_no_card(api: Api) -> None:
    school, lessons, _ = await _shop(api)
    successor, new_lessons, _ = await _shop(api)
    holder, bought = await buy_registered(api, school, lessons)
    closes_on = (today() + timedelta(days=30)).isoformat()
    closure = await api.call(
        "POST",
        "/closures",
        school["token"],
        json={"kind": "closure", "closes_on": closes_on, "reason": "停业"},
        expect=201,
    )
    offer = await api.call(
        "POST",
        f"/closures/{closure['id']}/successors",
        school["token"],
        json={
            "successor_id": successor["merchant"]["id"],
            "terms": [{"from": lessons["id"], "to": new_lessons["id"], "per_unit": 1}],
        },
        expect=201,
    )
    await api.call("POST", f"/closures/offers/{offer['id']}/accept", successor["token"])
    await api.call(
        "POST",
        f"/me/cards/{bought['card_id']}/closure",
        holder,
        json={"choice": "transfer", "offer_id": offer["id"]},
    )
    # the successor announces its own closure: it takes no more cards
    await api.call(
        "POST",
        "/closures",
        successor["token"],
        json={"kind": "relocation", "closes_on": closes_on, "reason": "搬迁"},
        expect=201,
    )
    notice = await api.call("GET", f"/me/cards/{bought['card_id']}/closure", holder)
    assert notice["successors"] == []
    moved = await api.call("POST", f"/closures/{closure['id']}/transfers", school["regulator"])
    assert moved["moved"] == 0
    notice = await api.call("GET", f"/me/cards/{bought['card_id']}/closure", holder)
    assert (notice["choice"], notice["outcome"]) == (None, None)  # to choose again
    closes_at = utcnow() + timedelta(days=31)
    with use_clock(ManualClock(closes_at)):
        assert await close_due(api.sessions, closes_at) >= 1
    notice = await api.call("GET", f"/me/cards/{bought['card_id']}/closure", holder)
    assert notice["outcome"] == "refunded"
    assert notice["refunded"] == bought["amount"]


async def test_two_bulk_runs_at_once_move_each_card_once_without_deadlock(api: Api) -> None:
    school, lessons, _ = await _shop(api)
    successors = [await _shop(api) for _ in range(2)]
    holders = [await buy_registered(api, school, lessons) for _ in range(12)]
    closes_on = (today() + timedelta(days=30)).isoformat()
    closure = await api.call(
        "POST",
        "/closures",
        school["token"],
        json={"kind": "closure", "closes_on": closes_on, "reason": "停业"},
        expect=201,
    )
    offers = []
    for shop, theirs, _ in successors:
        offer = await api.call(
            "POST",
            f"/closures/{closure['id']}/successors",
            school["regulator"],
            json={
                "successor_id": shop["merchant"]["id"],
                "terms": [{"from": lessons["id"], "to": theirs["id"], "per_unit": 1}],
            },
            expect=201,
        )
        await api.call("POST", f"/closures/offers/{offer['id']}/accept", shop["token"])
        offers.append(offer["id"])
    for n, (token, bought) in enumerate(holders):  # alternating successors, batch by batch
        await api.call(
            "POST",
            f"/me/cards/{bought['card_id']}/closure",
            token,
            json={"choice": "transfer", "offer_id": offers[n % 2]},
        )
    runs = await asyncio.wait_for(
        asyncio.gather(
            *(settle_cards(api.sessions, uuid.UUID(closure["id"]), batch=3) for _ in range(3))
        ),
        timeout=60,
    )
    assert sum(r.moved for r in runs) == len(holders)
    for token, bought in holders:
        notice = await api.call("GET", f"/me/cards/{bought['card_id']}/closure", token)
        assert notice["outcome"] == "transferred"
    async with api.sessions() as session, session.begin():
        ids = [uuid.UUID(school["merchant"]["id"])]
        ids += [uuid.UUID(shop["merchant"]["id"]) for shop, _, _ in successors]
        report = await escrow.verify(session, ids)
    assert report.ok, report.problems
