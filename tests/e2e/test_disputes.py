"""Disputes over HTTP: filed → answered → decided → confirmed or reopened, and escalation."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select, text, update

from app.auth.middleware import SESSION_COOKIE
from app.auth.models import Role
from app.clock import SHANGHAI, today, utcnow
from app.idempotency import MAX_LENGTH, MIN_LENGTH
from app.risk.models import IndicatorRecord, RerateRequest
from app.supervision.disputes import escalate_overdue
from app.supervision.models import Dispute, DisputeEvent
from app.supervision.models import Warning as WarningRow
from tests.e2e.api import (
    ANONYMOUS,
    ID,
    STORED,
    Api,
    bearer,
    buy,
    counter_of,
    declare_default,
    shop_with,
)

PROBLEM = "application/problem+json"
COMPLAINT = {"kind": "not_delivered", "text": "门店关门，私教课上不了", "amount_asked": 80_000}


def new_district() -> str:
    """A district of the test's own, so regulator queues hold only the test's disputes."""
    return f"测试区-{uuid.uuid4().hex[:8]}"


async def shop_in(
    api: Api, district: str, *products: dict[str, object]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    shop = await api.active_merchant(district)
    made = [
        await api.call("POST", "/merchants/me/products", shop["token"], json=p, expect=201)
        for p in products
    ]
    return shop, made


async def file(
    api: Api,
    card_id: str,
    token: str | None,
    body: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    expect: int = 201,
) -> Any:
    return await api.call(
        "POST",
        f"/me/cards/{card_id}/disputes",
        token,
        json=COMPLAINT if body is None else body,
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
        expect=expect,
    )


async def answer(
    api: Api, shop: dict[str, Any], dispute_id: str, *, expect: int = 200, **body: Any
) -> Any:
    return await api.call(
        "POST",
        f"/merchants/me/disputes/{dispute_id}/answer",
        shop["token"],
        json={"text": "课程可以转到分店继续上", **body},
        expect=expect,
    )


async def decide(api: Api, token: str, dispute_id: str, *, expect: int = 200, **body: Any) -> Any:
    return await api.call(
        "POST",
        f"/disputes/{dispute_id}/decide",
        token,
        json={"text": "经调解，商家未能提供服务", **body},
        expect=expect,
    )


def steps(dispute: dict[str, Any]) -> list[str]:
    return [e["step"] for e in dispute["timeline"]]


async def entries(api: Api, merchant_id: str) -> int:
    async with api.sessions() as session:
        count = await session.scalar(
            text("SELECT count(*) FROM journal_entries WHERE merchant_id = :m"),
            {"m": uuid.UUID(merchant_id)},
        )
    return int(count or 0)


async def nothing_more_happens(
    api: Api, shop: dict[str, Any], consumer: str, dispute_id: str
) -> None:
    """A closed dispute is confirmed, reopened, decided and answered no more."""
    again = await api.call("POST", f"/me/disputes/{dispute_id}/confirm", consumer, expect=409)
    assert "closed" in again["detail"]
    await api.call(
        "POST", f"/me/disputes/{dispute_id}/reopen", consumer, json={"text": "再议"}, expect=409
    )
    late = await decide(api, shop["regulator"], dispute_id, decision="reject", expect=409)
    assert "closed" in late["detail"]
    await answer(api, shop, dispute_id, expect=409)


async def refile(api: Api, card_id: str, consumer: str, key: str) -> str:
    """File ``COMPLAINT`` again with ``key``: a replay; returns the dispute it answers with."""
    replay = await api.client.post(
        f"/me/cards/{card_id}/disputes",
        json=COMPLAINT,
        headers={"Idempotency-Key": key, **bearer(consumer)},
    )
    assert replay.status_code == 200, replay.text
    assert replay.headers["Idempotent-Replayed"] == "true"
    return str(replay.json()["id"])


async def test_journey_refund_then_confirm(api: Api) -> None:
    district = new_district()
    shop, (stored,) = await shop_in(api, district, STORED)
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    card_id = (await buy(api, counter, stored, consumer, **ID))["card_id"]

    key = uuid.uuid4().hex
    filed = await file(api, card_id, consumer, key=key)
    dispute_id = filed["id"]
    assert (filed["status"], filed["owner"], filed["kind"], filed["amount_asked"]) == (
        "filed",
        "merchant",
        "not_delivered",
        80_000,
    )
    assert steps(filed) == ["filed"]
    # the merchant answers by the end of the 3rd Shanghai day after filing
    deadline = datetime.fromisoformat(filed["deadline_at"]).astimezone(SHANGHAI)
    assert deadline.time() == time(0)
    assert (deadline.date() - today()).days == 4
    # a retried filing replays the dispute
    assert await refile(api, card_id, consumer, key) == dispute_id

    assert [d["id"] for d in await api.call("GET", "/me/disputes", consumer)] == [dispute_id]
    assert (await api.call("GET", f"/me/disputes/{dispute_id}", consumer))["status"] == "filed"
    theirs = await api.call("GET", "/merchants/me/disputes", shop["token"])
    assert [d["id"] for d in theirs] == [dispute_id]

    answered = await answer(api, shop, dispute_id, offer_fen=20_000)
    assert (answered["status"], answered["owner"]) == ("mediation", "regulator")
    assert answered["merchant_answer"] == "课程可以转到分店继续上"
    assert steps(answered) == ["filed", "answered"]
    assert answered["timeline"][1]["facts"] == {"offer_fen": 20_000}
    assert answered["timeline"][1]["note"] == "课程可以转到分店继续上"

    regulator = shop["regulator"]  # of the merchant's district
    waiting = await api.call("GET", "/disputes", regulator)
    assert [d["id"] for d in waiting] == [dispute_id]
    assert waiting[0]["deadline_at"] is not None
    assert waiting[0]["overdue"] is False

    decided = await decide(api, regulator, dispute_id, decision="refund")
    assert (decided["status"], decided["owner"], decided["decision"]) == (
        "decided",
        "consumer",
        "refund",
    )
    assert decided["decided_amount"] == 80_000
    assert isinstance(decided["refund_seq"], int)
    assert steps(decided) == ["filed", "answered", "decided"]
    # the card is refunded: closed, and the refund is in its history
    card = await api.call("GET", f"/me/cards/{card_id}", consumer)
    assert (card["balance"]["status"], card["balance"]["outstanding"]) == ("refunded", 0)
    assert [e["kind"] for e in card["history"]] == ["purchase", "refund"]
    assert card["history"][-1]["seq"] == decided["refund_seq"]
    assert card["history"][-1]["to_consumer"] == 24_000  # custody pays its share at once
    settlement = await api.call("GET", "/merchants/me/settlement", shop["token"])
    assert settlement["receivable"] == 56_000  # the merchant owes the insured part

    confirmed = await api.call("POST", f"/me/disputes/{dispute_id}/confirm", consumer)
    assert (confirmed["status"], confirmed["owner"]) == ("confirmed", "nobody")
    assert confirmed["closed_at"] is not None
    assert confirmed["deadline_at"] is None
    assert steps(confirmed) == ["filed", "answered", "decided", "confirmed"]

    # closed: out of the open queue, and nothing more can happen to it
    assert await api.call("GET", "/disputes", regulator) == []
    done = await api.call("GET", "/disputes", regulator, params={"status": "confirmed"})
    assert [d["id"] for d in done] == [dispute_id]
    await nothing_more_happens(api, shop, consumer, dispute_id)


async def test_a_complaint_feeds_the_rating(api: Api) -> None:
    shop, (stored,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    card_id = (await buy(api, counter, stored, consumer, **ID))["card_id"]
    dispute_id = (await file(api, card_id, consumer))["id"]
    # complaint indicators refreshed, the merchant queued for re-rating
    merchant_id = uuid.UUID(shop["merchant"]["id"])
    async with api.sessions() as session:
        count_7d = await session.scalar(
            select(IndicatorRecord.value).where(
                IndicatorRecord.merchant_id == merchant_id,
                IndicatorRecord.source == "complaints",
                IndicatorRecord.kind == "count_7d",
            )
        )
        queued = await session.scalar(
            select(RerateRequest).where(RerateRequest.merchant_id == merchant_id)
        )
    assert count_7d == 1
    assert queued is not None
    assert (queued.cause, queued.cause_ref) == ("complaint filed", dispute_id)


async def test_partial_decision_then_reopen_and_refund(api: Api) -> None:
    shop, (stored,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    card_id = (await buy(api, counter, stored, consumer, **ID))["card_id"]
    body = {"kind": "quality", "text": "教练经常缺席", "amount_asked": 30_000}
    dispute_id = (await file(api, card_id, consumer, body))["id"]
    await answer(api, shop, dispute_id)

    partial = await decide(
        api, shop["regulator"], dispute_id, decision="partial", amount_fen=20_000
    )
    assert (partial["decision"], partial["decided_amount"]) == ("partial", 20_000)
    assert isinstance(partial["refund_seq"], int)
    settlement = await api.call("GET", "/merchants/me/settlement", shop["token"])
    assert settlement["receivable"] == 20_000  # owed to the consumer
    card = await api.call("GET", f"/me/cards/{card_id}", consumer)
    assert (card["balance"]["status"], card["balance"]["outstanding"]) == ("open", 80_000)

    reopened = await api.call(
        "POST", f"/me/disputes/{dispute_id}/reopen", consumer, json={"text": "补偿太少"}
    )
    assert (reopened["status"], reopened["owner"]) == ("reopened", "regulator")
    assert reopened["timeline"][-1]["note"] == "补偿太少"
    refunded = await decide(api, shop["regulator"], dispute_id, decision="refund")
    assert (refunded["status"], refunded["decided_amount"]) == ("decided", 80_000)
    assert refunded["refund_seq"] > partial["refund_seq"]
    assert steps(refunded) == ["filed", "answered", "decided", "reopened", "decided"]
    settlement = await api.call("GET", "/merchants/me/settlement", shop["token"])
    assert settlement["receivable"] == 20_000 + 56_000
    card = await api.call("GET", f"/me/cards/{card_id}", consumer)
    assert card["balance"]["status"] == "refunded"
    # reopened once already: the second decision is final
    twice = await api.call(
        "POST",
        f"/me/disputes/{dispute_id}/reopen",
        consumer,
        json={"text": "还是不满意"},
        expect=409,
    )
    assert "already reopened once" in twice["detail"]
    closed = await api.call("POST", f"/me/disputes/{dispute_id}/confirm", consumer)
    assert closed["status"] == "confirmed"


async def test_second_money_decision_on_a_refunded_card_is_refused(api: Api) -> None:
    shop, (stored,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    card_id = (await buy(api, counter, stored, consumer, **ID))["card_id"]
    dispute_id = (await file(api, card_id, consumer))["id"]
    await answer(api, shop, dispute_id)
    first = await decide(api, shop["regulator"], dispute_id, decision="refund")
    await api.call("POST", f"/me/disputes/{dispute_id}/reopen", consumer, json={"text": "还要赔偿"})
    before = await api.call("GET", f"/me/disputes/{dispute_id}", consumer)
    books = await entries(api, shop["merchant"]["id"])

    for body in ({"decision": "refund"}, {"decision": "partial", "amount_fen": 5_000}):
        refused = await decide(api, shop["regulator"], dispute_id, expect=409, **body)
        assert refused["type"] == "/problems/dispute-card-refunded"
        assert "already refunded" in refused["detail"]
        assert "reject" in refused["detail"]
    # nothing half-written: same state, same timeline, no ledger entry
    after = await api.call("GET", f"/me/disputes/{dispute_id}", consumer)
    assert after == before
    assert after["status"] == "reopened"
    assert await entries(api, shop["merchant"]["id"]) == books

    rejected = await decide(api, shop["regulator"], dispute_id, decision="reject")
    assert (rejected["status"], rejected["decision"]) == ("decided", "reject")
    assert (rejected["decided_amount"], rejected["refund_seq"]) == (None, None)
    assert rejected["timeline"][-1]["facts"] == {"decision": "reject"}
    assert first["refund_seq"] is not None


async def test_anonymous_card_dispute_through_its_link(api: Api) -> None:
    shop, (anon,) = await shop_with(api, ANONYMOUS)
    counter = await counter_of(api, shop["token"])
    link = (await buy(api, counter, anon))["card_link"]
    base = f"/cards/anonymous/{link}/disputes"
    body = {"kind": "closed_or_moved", "text": "洗车店搬走了", "amount_asked": 50_000}
    key = uuid.uuid4().hex
    filed = await api.call("POST", base, json=body, headers={"Idempotency-Key": key}, expect=201)
    dispute_id = filed["id"]
    await api.call("POST", base, json=body, headers={"Idempotency-Key": key}, expect=200)
    assert [d["id"] for d in await api.call("GET", base)] == [dispute_id]
    await api.call("GET", f"/cards/anonymous/not-the-link/disputes/{dispute_id}", expect=404)
    await api.call("GET", "/cards/anonymous/not-the-link/disputes", expect=404)
    async with api.sessions() as session:
        row = await session.get(Dispute, uuid.UUID(dispute_id))
    assert row is not None
    assert row.consumer_id is None

    await answer(api, shop, dispute_id)
    await decide(api, shop["regulator"], dispute_id, decision="reject")
    reopened = await api.call("POST", f"{base}/{dispute_id}/reopen", json={"text": "店确实没了"})
    assert reopened["status"] == "reopened"
    decided = await decide(
        api, shop["regulator"], dispute_id, decision="partial", amount_fen=10_000
    )
    assert decided["decided_amount"] == 10_000
    confirmed = await api.call("POST", f"{base}/{dispute_id}/confirm")
    assert confirmed["status"] == "confirmed"
    one = await api.call("GET", f"{base}/{dispute_id}")
    assert steps(one) == ["filed", "answered", "decided", "reopened", "decided", "confirmed"]
    assert [e["actor_role"] for e in one["timeline"]] == [
        "consumer",
        "merchant",
        "regulator",
        "consumer",
        "regulator",
        "consumer",
    ]


async def test_who_may_see_and_do_what(api: Api) -> None:
    shop, (stored, anon) = await shop_with(api, STORED, ANONYMOUS)
    other, _ = await shop_with(api)
    counter = await counter_of(api, shop["token"])
    alice, bob = await api.consumer(), await api.consumer()
    card_id = (await buy(api, counter, stored, alice, **ID))["card_id"]

    # another consumer's card: as if it did not exist
    refused = await file(api, card_id, bob, expect=404)
    assert refused["detail"] == "no such card"
    dispute_id = (await file(api, card_id, alice))["id"]
    for method, path in [
        ("GET", f"/me/disputes/{dispute_id}"),
        ("POST", f"/me/disputes/{dispute_id}/confirm"),
        ("POST", f"/me/disputes/{dispute_id}/reopen"),
    ]:
        body = await api.call(method, path, bob, json={"text": "x"}, expect=404)
        assert body["detail"] == "no such dispute"
    assert await api.call("GET", "/me/disputes", bob) == []
    # an anonymous link reaches only its own card's disputes
    link = (await buy(api, counter, anon))["card_link"]
    await api.call("GET", f"/cards/anonymous/{link}/disputes/{dispute_id}", expect=404)
    assert await api.call("GET", f"/cards/anonymous/{link}/disputes") == []

    # a merchant sees and answers only its own
    assert dispute_id not in [
        d["id"] for d in await api.call("GET", "/merchants/me/disputes", other["token"])
    ]
    await api.call("GET", f"/merchants/me/disputes/{dispute_id}", other["token"], expect=404)
    await answer(api, other, dispute_id, expect=404)
    await api.call("GET", "/merchants/me/disputes", alice, expect=403)
    await answer(api, shop, dispute_id)

    # regulators: their district only; city level and operators everywhere
    elsewhere = await api.staff(Role.REGULATOR, new_district())
    await api.call("GET", f"/disputes/{dispute_id}", elsewhere, expect=404)
    await decide(api, elsewhere, dispute_id, decision="reject", expect=404)
    assert dispute_id not in [d["id"] for d in await api.call("GET", "/disputes", elsewhere)]
    city = await api.staff(Role.REGULATOR)
    operator = await api.staff(Role.OPERATOR)
    for token in (shop["regulator"], city, operator):
        seen = await api.call("GET", f"/disputes/{dispute_id}", token)
        assert seen["status"] == "mediation"
    assert dispute_id in [d["id"] for d in await api.call("GET", "/disputes", city)]

    # consumers and merchants do not decide; nobody unsigned does anything
    for token in (alice, shop["token"]):
        await decide(api, token, dispute_id, decision="refund", expect=403)
        await api.call("GET", "/disputes", token, expect=403)
    await api.call("GET", "/me/disputes", expect=401)
    await api.call("POST", f"/disputes/{dispute_id}/decide", json={}, expect=401)
    assert (await api.call("GET", f"/me/disputes/{dispute_id}", alice))["status"] == "mediation"


async def test_bad_transitions_are_refused(api: Api) -> None:
    shop, (stored,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    card_id = (await buy(api, counter, stored, consumer, **ID))["card_id"]
    dispute_id = (await file(api, card_id, consumer))["id"]
    path = f"/me/disputes/{dispute_id}"

    second = await file(api, card_id, consumer, {**COMPLAINT, "text": "另一件事"}, expect=409)
    assert "already open" in second["detail"]
    assert second["dispute_id"] == dispute_id
    early = await api.call("POST", f"{path}/confirm", consumer, expect=409)
    assert "no decision to confirm yet" in early["detail"]
    assert "merchant's answer" in early["detail"]
    await api.call("POST", f"{path}/reopen", consumer, json={"text": "x"}, expect=409)
    unheard = await decide(api, shop["regulator"], dispute_id, decision="refund", expect=409)
    assert "has not answered yet" in unheard["detail"]

    await answer(api, shop, dispute_id)
    twice = await answer(api, shop, dispute_id, expect=409)
    assert twice["detail"] == "this complaint was already answered"
    early = await api.call("POST", f"{path}/confirm", consumer, expect=409)
    assert "regulator's decision" in early["detail"]

    await decide(api, shop["regulator"], dispute_id, decision="reject")
    again = await decide(api, shop["regulator"], dispute_id, decision="refund", expect=409)
    assert "already decided" in again["detail"]
    await answer(api, shop, dispute_id, expect=409)
    await api.call("POST", f"{path}/confirm", consumer)
    closed = await decide(api, shop["regulator"], dispute_id, decision="reject", expect=409)
    assert "closed" in closed["detail"]
    # the refused steps left no trace, and a closed dispute lets a new one be filed
    one = await api.call("GET", path, consumer)
    assert steps(one) == ["filed", "answered", "decided", "confirmed"]
    assert (await file(api, card_id, consumer, {**COMPLAINT, "text": "又出问题"}))[
        "status"
    ] == "filed"


async def test_bad_payloads_get_problem_details(api: Api) -> None:
    shop, (stored,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    card_id = (await buy(api, counter, stored, consumer, **ID))["card_id"]

    async def refused(
        expect: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> Any:
        response = await api.client.post(
            f"/me/cards/{card_id}/disputes",
            json=body,
            headers={
                **bearer(consumer),
                **({"Idempotency-Key": uuid.uuid4().hex} if headers is None else headers),
            },
        )
        assert response.status_code == expect, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
        problem = response.json()
        assert problem["status"] == expect
        return problem

    for body in (
        {**COMPLAINT, "kind": "rude_staff"},
        {**COMPLAINT, "text": ""},
        {**COMPLAINT, "text": "长" * 2001},
        {**COMPLAINT, "amount_asked": -1},
        {**COMPLAINT, "amount_asked": 1.5},
        {**COMPLAINT, "extra": 1},
        {"kind": "quality", "text": "x"},
    ):
        await refused(400, body)
    await refused(400, COMPLAINT, headers={})  # no Idempotency-Key
    await refused(400, COMPLAINT, headers={"Idempotency-Key": "k" * (MIN_LENGTH - 1)})
    await refused(400, COMPLAINT, headers={"Idempotency-Key": "k" * (MAX_LENGTH + 1)})
    too_much = await refused(422, {**COMPLAINT, "amount_asked": 80_001})
    assert too_much["type"] == "/problems/dispute-amount-above-paid"
    assert too_much["paid_fen"] == 80_000
    assert too_much["errors"] == [
        {
            "field": "amount_asked",
            "message": "you can ask for at most the CN¥800.00 paid for the card",
            "code": "dispute-amount-above-paid",
        }
    ]
    blank = await refused(422, {**COMPLAINT, "text": "   "})
    assert blank["errors"][0]["field"] == "text"
    assert blank["errors"][0]["code"] == "dispute-complaint-blank"
    assert await api.call("GET", "/me/disputes", consumer) == []  # nothing was filed

    dispute_id = (await file(api, card_id, consumer))["id"]
    await answer(api, shop, dispute_id, expect=400, offer_fen=-1)
    offer = await answer(api, shop, dispute_id, expect=422, offer_fen=80_001)
    assert offer["errors"][0]["field"] == "offer_fen"
    await api.call(
        "POST", f"/merchants/me/disputes/{dispute_id}/answer", shop["token"], json={}, expect=400
    )
    await answer(api, shop, dispute_id)
    regulator = shop["regulator"]
    await decide(api, regulator, dispute_id, expect=400, decision="maybe")
    await decide(api, regulator, dispute_id, expect=400, decision="partial", amount_fen=0)
    missing = await decide(api, regulator, dispute_id, expect=422, decision="partial")
    assert missing["errors"][0]["field"] == "amount_fen"
    extra = await decide(api, regulator, dispute_id, expect=422, decision="refund", amount_fen=5)
    assert "takes no amount" in extra["detail"]
    over = await decide(
        api, regulator, dispute_id, expect=422, decision="partial", amount_fen=80_001
    )
    assert over["errors"][0] == {
        "field": "amount_fen",
        "message": "the amount is at most the CN¥800.00 paid for the card",
        "code": "dispute-decided-above-paid",
    }
    await api.call(
        "POST", f"/disputes/{dispute_id}/decide", regulator, json={"decision": "reject"}, expect=400
    )
    await api.call("GET", "/disputes", regulator, params={"status": "lost"}, expect=400)
    await api.call("GET", "/disputes", regulator, params={"limit": 0}, expect=400)
    await api.call("GET", "/disputes", regulator, params={"offset": -1}, expect=400)
    still = await api.call("GET", f"/disputes/{dispute_id}", regulator)
    assert (still["status"], steps(still)) == ("mediation", ["filed", "answered"])
    await decide(api, regulator, dispute_id, decision="reject")
    await api.call(
        "POST", f"/me/disputes/{dispute_id}/reopen", consumer, json={"text": ""}, expect=400
    )
    await api.call(
        "POST", f"/me/disputes/{dispute_id}/reopen", consumer, json={"text": " "}, expect=422
    )


async def test_overdue_steps_escalate_once(api: Api) -> None:
    district = new_district()
    shop, (stored,) = await shop_in(api, district, STORED)
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    cards = [(await buy(api, counter, stored, consumer, **ID))["card_id"] for _ in range(5)]
    ids = [(await file(api, card, consumer))["id"] for card in cards]
    unanswered, in_mediation, unconfirmed, closed, late = ids
    regulator = shop["regulator"]
    for dispute_id in (in_mediation, unconfirmed, closed):
        await answer(api, shop, dispute_id)
    for dispute_id in (unconfirmed, closed):
        await decide(api, regulator, dispute_id, decision="reject")
    await api.call("POST", f"/me/disputes/{closed}/confirm", consumer)
    before_closed = await api.call("GET", f"/me/disputes/{closed}", consumer)

    future = utcnow() + timedelta(days=30)
    async with api.sessions() as session, session.begin():
        first = await escalate_overdue(session, future)
    async with api.sessions() as session, session.begin():
        second = await escalate_overdue(session, future)
    assert first >= 4  # these four, and any other test's open disputes
    assert second == 0

    async def seen(dispute_id: str) -> Any:
        return await api.call("GET", f"/disputes/{dispute_id}", regulator)

    for dispute_id, status in [
        (unanswered, "filed"),
        (late, "filed"),
        (in_mediation, "mediation"),
    ]:
        escalated = await seen(dispute_id)
        assert (escalated["status"], escalated["owner"]) == (status, "regulator")
        assert escalated["escalated_at"] is not None
        assert steps(escalated)[-1] == "escalated"
        assert steps(escalated).count("escalated") == 1
        assert escalated["timeline"][-1]["actor_role"] == "system"
    assert (await seen(unanswered))["timeline"][-1]["facts"]["overdue"] == "answer"
    # the consumer who never answered the decision: taken to accept it
    silent = await seen(unconfirmed)
    assert (silent["status"], silent["owner"]) == ("confirmed", "nobody")
    assert silent["closed_at"] is not None
    assert steps(silent)[-1] == "deemed-confirmed"
    assert await api.call("GET", f"/me/disputes/{closed}", consumer) == before_closed

    # one warning per overdue step, however often the escalation runs
    async with api.sessions() as session:
        raised = (
            await session.scalars(
                select(WarningRow).where(
                    WarningRow.merchant_id == uuid.UUID(shop["merchant"]["id"]),
                    WarningRow.rule == "dispute-overdue",
                )
            )
        ).all()
    assert sorted(w.cause_key for w in raised) == sorted(
        [
            f"dispute:{unanswered}:answer",
            f"dispute:{late}:answer",
            f"dispute:{in_mediation}:decide-1",
        ]
    )
    assert {w.district for w in raised} == {district}
    assert all(w.evidence["dispute_id"] in ids for w in raised)

    # the queue shows what is overdue (deadlines are kept when a step escalates)
    async with api.sessions() as session, session.begin():
        await session.execute(
            update(Dispute)
            .where(Dispute.id == uuid.UUID(unanswered))
            .values(deadline_at=utcnow() - timedelta(hours=1))
        )
    overdue = await api.call("GET", "/disputes", regulator, params={"overdue": "true"})
    assert [d["id"] for d in overdue] == [unanswered]
    assert overdue[0]["overdue"] is True
    # escalated while the merchant kept silent: the regulator may decide without its answer
    decided = await decide(api, regulator, unanswered, decision="refund")
    assert (decided["status"], decided["escalated_at"]) == ("decided", None)
    await answer(api, shop, unanswered, expect=409)
    # a late answer is still taken: the dispute moves on to mediation
    answered = await answer(api, shop, late)
    assert (answered["status"], answered["escalated_at"]) == ("mediation", None)
    async with api.sessions() as session:
        events = await session.scalar(
            select(func.count()).where(DisputeEvent.dispute_id == uuid.UUID(late))
        )
    assert events == 3


async def test_concurrent_retries_of_one_filing_make_one_dispute(api: Api) -> None:
    shop, (stored,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    card_id = (await buy(api, counter, stored, consumer, **ID))["card_id"]
    key = uuid.uuid4().hex
    responses = await asyncio.gather(
        *(
            api.client.post(
                f"/me/cards/{card_id}/disputes",
                json=COMPLAINT,
                headers={"Idempotency-Key": key, **bearer(consumer)},
            )
            for _ in range(4)
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in responses}) == 1
    async with api.sessions() as session:
        filed = await session.scalar(
            select(func.count()).where(Dispute.card_id == uuid.UUID(card_id))
        )
    assert filed == 1


async def test_a_defaulted_merchants_disputes_pass_to_the_regulator_and_move_no_money(
    api: Api,
) -> None:
    here = new_district()
    shop, (stored,) = await shop_in(api, here, STORED)
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    card_id = (await buy(api, counter, stored, consumer, **ID))["card_id"]
    waiting = await file(api, card_id, consumer)
    assert waiting["owner"] == "merchant"
    await declare_default(api, shop, "法定代表人失联")

    # the merchant answers nothing more: the regulator decides, within the mediation days
    moved = await api.call("GET", f"/me/disputes/{waiting['id']}", consumer)
    assert (moved["status"], moved["owner"]) == ("filed", "regulator")
    assert moved["timeline"][-1]["step"] == "merchant-defaulted"
    assert moved["timeline"][-1]["actor_role"] == "system"

    # the card was paid out at the default: the form offers only what the ledger takes
    api.client.cookies.set(SESSION_COOKIE, shop["regulator"])
    page = (await api.client.get("/dashboard/disputes", params={"owner": "regulator"})).text
    api.client.cookies.delete(SESSION_COOKIE)
    assert f'id="d-{waiting["id"]}"' in page
    assert 'name="decision" value="reject"' in page
    assert 'name="decision" value="refund"' not in page
    assert 'name="decision" value="partial"' not in page
    assert 'class="muted only-reject"' in page
    assert "商户已被认定违约，转由监管处理" in page
    books = await entries(api, shop["merchant"]["id"])
    refused = await decide(api, shop["regulator"], waiting["id"], decision="refund", expect=409)
    assert refused["type"] == "/problems/dispute-card-defaulted"
    assert await entries(api, shop["merchant"]["id"]) == books
    rejected = await decide(api, shop["regulator"], waiting["id"], decision="reject")
    assert (rejected["status"], rejected["owner"]) == ("decided", "consumer")
