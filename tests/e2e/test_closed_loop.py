"""The closed loop end to end, over HTTP on PostgreSQL: sales, use, complaints, a falling grade,
a warning, a declared default, custody paid, one claim delivered to a failing insurer, paid.

Runs on a database of its own, with the re-rating and delivery workers on their own threads
and a real HTTP receiver for the insurer.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

import escrow
from app.auth.models import Role
from app.clock import today
from app.db import create_engine, session_factory
from app.risk.service import add_model
from escrow.models import Card
from tests.e2e.api import ANONYMOUS, ID, SESSIONS, STORED, Api, buy, counter_of, redeem
from tests.e2e.background import (
    WAIT_SECONDS,
    Endpoint,
    Receiver,
    WorkerThread,
    api_on,
    delivery_thread,
    insurer,
    live_model,
    rating_when,
    record,
    until,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from sqlalchemy.ext.asyncio import AsyncEngine

    from tests.conftest import Databases

CARDS = 200
FAST = {"interval": 0.05, "backoff_base": 0.05, "jitter": 0.0, "timeout": 2.0, "lease_seconds": 3.0}


@pytest.fixture(scope="module")
def loop_url(databases: Databases) -> str:
    return databases.create()


@pytest.fixture(scope="module")
async def loop_engine(loop_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(loop_url, pool_size=10, max_overflow=20)
    async with session_factory(engine)() as session, session.begin():
        await add_model(session, live_model(), activate=True, by=None)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
def rerating(loop_url: str, loop_engine: AsyncEngine) -> Iterator[WorkerThread]:
    assert loop_engine is not None
    with WorkerThread(loop_url) as running:
        yield running


@pytest.fixture
async def lapi(loop_engine: AsyncEngine, rerating: WorkerThread) -> AsyncIterator[Api]:
    assert rerating.thread.is_alive()
    async with api_on(loop_engine) as api:
        yield api


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


async def sell(
    api: Api, shop: dict[str, Any], products: list[dict[str, Any]], consumers: list[str], n: int
) -> list[dict[str, Any]]:
    """``n`` cards of mixed kinds: anonymous, stored value and sessions, to several consumers."""
    counter = await counter_of(api, shop["token"])
    sold = []
    for i in range(n):
        product = products[i % len(products)]
        if product["anonymous"]:
            paid = await buy(api, counter, product)
            sold.append({**paid, "holder": None, "product": product})
        else:
            holder = consumers[i % len(consumers)]
            paid = await buy(api, counter, product, holder, **ID)
            sold.append({**paid, "holder": holder, "product": product})
    return sold


async def use_some(api: Api, shop: dict[str, Any], cards: list[dict[str, Any]]) -> int:
    """Partly use every fourth card with the holder's consent code; return how many."""
    used = 0
    for card in cards[::4]:
        product = card["product"]
        units = 3 if product["kind"] == "sessions" else 12_345
        base = (
            f"/cards/anonymous/{card['card_link']}"
            if card["holder"] is None
            else f"/me/cards/{card['card_id']}"
        )
        code = await api.call(
            "POST",
            f"{base}/redemption-code",
            card["holder"],
            json={"max_units": units},
            expect=201,
        )
        await redeem(api, shop["token"], {"token": code["token"], "units": units})
        used += 1
    return used


async def test_a_merchant_that_vanishes_leaves_every_consumer_whole(  # noqa: PLR0915
    lapi: Api, loop_url: str, receiver: Receiver
) -> None:
    api = lapi
    # An insurer whose endpoint fails twice, then is slow once.
    endpoint = Endpoint("", fail_first=2)
    account = await insurer(api, receiver.add(endpoint))
    endpoint.secret = account.secret

    shop = await api.active_merchant("上城区", insurer_token=account.token)
    merchant_id, uscc = shop["merchant"]["id"], shop["merchant"]["uscc"]
    regulator = shop["regulator"]
    operator = await api.staff(Role.OPERATOR)
    # A clean record first: the merchant starts well rated.
    day = today() - timedelta(days=30)
    clean = [
        record(uscc, "registration", "age_years", 8, day),
        record(uscc, "tax", "arrears_fen", 0, day),
        record(uscc, "tax", "filing_gap_months", 0, day),
        record(uscc, "social_security", "headcount", 25, day),
        record(uscc, "social_security", "contribution_gap_months", 0, day),
        record(uscc, "court", "enforcement_cases", 0, day),
        record(uscc, "court", "dishonest_debtor", False, day),
        record(uscc, "bank", "frozen", False, day),
        record(uscc, "bank", "inflow_trend_pct", 5, day),
    ]
    await api.call("POST", "/indicators", operator, json={"records": clean}, expect=201)

    bargain = {**STORED, "name": "开业特惠卡", "price": 45_000}  # 55% off: deeper than 40%
    products = [
        await api.call("POST", "/merchants/me/products", shop["token"], json=p, expect=201)
        for p in (STORED, SESSIONS, ANONYMOUS, bargain)
    ]
    consumers = [await api.consumer() for _ in range(12)]
    # Half the cards at the ratio the merchant's grade calls for (30% before it is rated, 20%
    # at A...), then the regulator raises it to 50%: a floor no better grade goes below.
    cards = await sell(api, shop, products, consumers, CARDS // 2)
    raised = await api.call(
        "POST",
        f"/merchants/{merchant_id}/measures",
        regulator,
        json={"kind": "raise-custody-ratio", "custody_ratio_bp": 5000, "reason": "rapid growth"},
        expect=201,
    )
    assert raised["params"]["to"] == 5000
    assert raised["params"]["from"] in (2000, 3000, 4000)
    cards += await sell(api, shop, products, consumers, CARDS - CARDS // 2)
    assert len({c["card_id"] for c in cards}) == CARDS
    assert await use_some(api, shop, cards) == CARDS // 4
    first = await rating_when(api, regulator, merchant_id, lambda r: r["cause"] == "card sold")
    assert first["grade"] in "ABC", first

    # Complaints surge, and the bad news arrives from the bureaus.
    complainants = [c for c in cards if c["holder"] is not None][:8]
    for card in complainants:
        await api.call(
            "POST",
            f"/me/cards/{card['card_id']}/disputes",
            card["holder"],
            json={"kind": "closed_or_moved", "text": "店门关了，电话不通", "amount_asked": 1000},
            headers={"Idempotency-Key": uuid.uuid4().hex},
            expect=201,
        )
    late = today() - timedelta(days=1)
    bad = [
        record(uscc, "tax", "arrears_fen", 45_000_000, late),
        record(uscc, "tax", "filing_gap_months", 5, late),
        record(uscc, "social_security", "contribution_gap_months", 6, late),
        record(uscc, "bank", "frozen", True, late),
        record(uscc, "court", "enforcement_cases", 4, late),
        record(uscc, "court", "dishonest_debtor", True, late),
    ]
    await api.call("POST", "/indicators", operator, json={"records": bad}, expect=201)
    # The rating the import caused (the complaints may already have lowered the grade).
    fallen = await rating_when(
        api, regulator, merchant_id, lambda r: r["cause"].startswith("indicator")
    )
    assert fallen["grade"] in ("D", "E"), fallen
    assert "dishonest-debtor" in fallen["overrides"]
    queue = await until(
        lambda: _warnings(api, regulator, merchant_id, {"grade-drop", "complaint-surge"}),
        "the warnings",
    )
    rules = {w["rule"] for w in queue}
    assert {"grade-drop", "complaint-surge", "hard-override", "deep-discount"} <= rules
    assert len([w for w in queue if w["rule"] == "deep-discount"]) == 1  # one cause, one warning
    # The complaints alone may take the grade down a step before the bureaus' news takes it
    # further: each fall is a warning; the one from a good grade is there.
    drops = [w for w in queue if w["rule"] == "grade-drop"]
    drop = next(w for w in drops if w["evidence"]["from"] in "ABC")
    assert drop["evidence"]["to"] in ("D", "E")
    await api.call("POST", f"/warnings/{drop['id']}/acknowledge", regulator)

    # What each consumer is owed, from the ledger, just before the default.
    async with api.sessions() as session:
        owed = {
            c.id: c.outstanding
            for c in await session.scalars(
                select(Card).where(Card.merchant_id == uuid.UUID(merchant_id))
            )
        }
    assert len(owed) == CARDS
    assert sum(1 for c in cards if owed[uuid.UUID(c["card_id"])] < c["amount"]) == CARDS // 4

    # The regulator declares default: refused unconfirmed, done once, refused twice.
    measures = f"/merchants/{merchant_id}/measures"
    default = {"kind": "declare-default", "reason": "owner unreachable, shop closed"}
    await api.call("POST", measures, regulator, json=default, expect=422)
    declared = await api.call(
        "POST", measures, regulator, json={**default, "confirm": True}, expect=201
    )
    assert declared["cards"] == CARDS
    assert declared["outstanding_fen"] == sum(owed.values())
    assert declared["custody_paid_fen"] + declared["claim_fen"] == sum(owed.values())
    again = await api.call(
        "POST", measures, regulator, json={**default, "confirm": True}, expect=409
    )
    assert "already declared" in again["detail"]
    counter = await counter_of(api, shop["token"])
    refused = await api.call("GET", counter.path, expect=403)
    assert "default" in refused["detail"]

    # The insurer's endpoint fails twice; the third delivery is cut off by a dying worker; the
    # next worker delivers after the lease. The insurer processes the claim once.
    release = threading.Event()
    endpoint.hold = release
    endpoint.hold_at = 3
    with delivery_thread(loop_url, **FAST) as dying:
        assert await asyncio.to_thread(endpoint.arrived.wait, WAIT_SECONDS)
        dying.stop(grace=0)
    with delivery_thread(loop_url, **FAST):
        await until(lambda: len(endpoint.requests) >= 4, "the redelivery")
        release.set()
        await until(lambda: "claim.triggered" in endpoint.types, "the insurer's acceptance")
    assert set(endpoint.types) == {"claim.triggered"}
    assert len(set(endpoint.accepted)) == 1  # one event, however often it arrived
    log = await api.call("GET", "/insurer/deliveries", account.token)
    codes = [d["status_code"] for d in log]
    assert codes.count(500) == 2
    assert 200 in codes

    # The insurer acknowledges and pays; paying twice is refused.
    claims = await api.call("GET", "/insurer/claims", account.token)
    assert [c["merchant_id"] for c in claims] == [merchant_id]
    claim_id = claims[0]["id"]
    detail = await api.call("GET", f"/insurer/claims/{claim_id}", account.token)
    assert len(detail["lines"]) == sum(1 for c in owed.values() if c > 0)
    assert detail["total_fen"] == declared["claim_fen"]
    await api.call(
        "POST",
        f"/insurer/claims/{claim_id}/pay",
        account.token,
        json={"payment_ref": "PAY-1"},
        expect=409,
    )
    await api.call("POST", f"/insurer/claims/{claim_id}/acknowledge", account.token)
    paid = await api.call(
        "POST", f"/insurer/claims/{claim_id}/pay", account.token, json={"payment_ref": "PAY-1"}
    )
    assert paid["status"] == "closed"
    twice = await api.call(
        "POST",
        f"/insurer/claims/{claim_id}/pay",
        account.token,
        json={"payment_ref": "PAY-2"},
        expect=409,
    )
    assert "already paid" in twice["detail"]

    # Every consumer now holds exactly what the card was worth: custody share + insured share.
    async with api.sessions() as session:
        for card_id, outstanding in owed.items():
            history = await escrow.card_history(session, uuid.UUID(merchant_id), card_id)
            returned = sum(
                e.to_consumer for e in history if e.kind in ("default_payout", "claim_payment")
            )
            assert returned == outstanding, (card_id, returned, outstanding)
        report = await escrow.verify(session)
    assert report.ok, report.problems[:3]


async def _warnings(
    api: Api, token: str, merchant_id: str, needed: set[str]
) -> list[dict[str, Any]] | None:
    found = await api.call("GET", "/warnings", token, params={"merchant_id": merchant_id})
    return found if needed <= {w["rule"] for w in found} else None
