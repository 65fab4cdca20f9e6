"""Re-rating never stalls: old sales, and one merchant that cannot be rated, stop nobody else.

On a database of its own (an active model re-rates every merchant there). The worker's pass
is called directly, so each test sees exactly one pass and its outcome.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select, text

import escrow
from app.auth.models import Role
from app.clock import today
from app.risk.models import IndicatorRecord, Rating, RatingFailure, RerateRequest
from app.risk.worker import drain_once
from app.supervision.models import Warning as WarningRow
from app.supervision.models import WarningRule
from scoring.platform import outstanding_to_revenue
from tests.e2e.api import ID, STORED, Api, buy, counter_of
from tests.e2e.background import api_on, rated_database, record

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sqlalchemy.ext.asyncio import AsyncEngine

    from tests.conftest import Databases


@pytest.fixture(scope="module")
async def own_engine(databases: Databases) -> AsyncIterator[AsyncEngine]:
    async with rated_database(databases) as engine:
        yield engine


@pytest.fixture
async def rapi(own_engine: AsyncEngine) -> AsyncIterator[Api]:
    async with api_on(own_engine) as api:
        yield api


async def _drain(api: Api) -> None:
    """Worker passes until the queue is empty (failed merchants wait for their backoff)."""
    while await drain_once(api.sessions):
        pass


async def _rating(api: Api, merchant_id: str) -> Rating | None:
    async with api.sessions() as session:
        return await session.get(Rating, uuid.UUID(merchant_id))


async def test_sales_older_than_30_days_do_not_stop_re_rating(rapi: Api) -> None:
    shop = await rapi.active_merchant("拱墅区")
    mid = shop["merchant"]["id"]
    product = await rapi.call(
        "POST", "/merchants/me/products", shop["token"], json=STORED, expect=201
    )
    counter = await counter_of(rapi, shop["token"])
    for _ in range(3):
        await buy(rapi, counter, product, await rapi.consumer(), **ID)
    await _drain(rapi)
    async with rapi.sessions() as session, session.begin():
        # two of the sales were made two months ago: the surge now compares two periods
        await session.execute(
            text(
                "UPDATE orders SET paid_at = paid_at - interval '60 days' WHERE id IN"
                " (SELECT id FROM orders WHERE merchant_id = :m AND status = 'paid' LIMIT 2)"
            ),
            {"m": uuid.UUID(mid)},
        )
    operator = await rapi.staff(Role.OPERATOR)
    day = today() - timedelta(days=1)
    new = record(shop["merchant"]["uscc"], "tax", "filing_gap_months", 1, day)
    await rapi.call("POST", "/indicators", operator, json={"records": [new]}, expect=201)
    await _drain(rapi)

    rated = await _rating(rapi, mid)
    assert rated is not None
    assert rated.cause == "indicator tax/filing_gap_months"
    async with rapi.sessions() as session:
        surge = await session.scalar(
            select(IndicatorRecord.value).where(
                IndicatorRecord.merchant_id == uuid.UUID(mid),
                IndicatorRecord.kind == "surge_pct",
            )
        )
        failures = await session.scalar(
            select(RatingFailure).where(RatingFailure.merchant_id == uuid.UUID(mid))
        )
        ratio = await session.scalar(
            select(IndicatorRecord.value).where(
                IndicatorRecord.merchant_id == uuid.UUID(mid),
                IndicatorRecord.kind == "outstanding_to_revenue",
            )
        )
        held = (await escrow.outstanding(session, [uuid.UUID(mid)]))[uuid.UUID(mid)]
        revenue = await session.scalar(
            text(
                "SELECT sum(amount) FROM orders WHERE merchant_id = :m AND status = 'paid'"
                " AND paid_at >= now() - interval '90 days'"
            ),
            {"m": uuid.UUID(mid)},
        )
    # one sale in the last 30 days against two in the 90 before: 1 / (2/3) - 1 = +50%
    assert surge == 50
    assert failures is None
    # and what consumers could ask back, against the last 90 days' card sales
    assert held > 0
    assert ratio == outstanding_to_revenue(held, int(revenue))


async def _poison(api: Api, merchant_id: str) -> None:
    """A stored record its kind cannot hold: what a bad migration or a bug might leave."""
    async with api.sessions() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO indicator_records"
                " (merchant_id, source, kind, value, as_of, provenance, fingerprint, received_at)"
                " VALUES (:m, 'tax', 'arrears_fen', '\"lots\"', :day, 'broken feed',"
                " :fp, now())"
            ),
            {"m": uuid.UUID(merchant_id), "day": today() - timedelta(days=2), "fp": b"poison"},
        )


async def test_one_merchant_that_cannot_be_rated_is_set_aside_and_the_rest_are_rated(
    rapi: Api,
) -> None:
    bad = await rapi.active_merchant("拱墅区")
    good = [await rapi.active_merchant("拱墅区") for _ in range(2)]
    await _drain(rapi)
    await _poison(rapi, bad["merchant"]["id"])
    operator = await rapi.staff(Role.OPERATOR)
    day = today() - timedelta(days=1)
    records = [
        record(shop["merchant"]["uscc"], "court", "enforcement_cases", 2, day)
        for shop in (bad, *good)
    ]
    await rapi.call("POST", "/indicators", operator, json={"records": records}, expect=201)
    await _drain(rapi)

    for shop in good:
        rated = await _rating(rapi, shop["merchant"]["id"])
        assert rated is not None
        assert rated.cause == "indicator court/enforcement_cases"
    bad_id = uuid.UUID(bad["merchant"]["id"])
    async with rapi.sessions() as session:
        failure = await session.get(RatingFailure, bad_id)
        queued = await session.get(RerateRequest, bad_id)
        warning = await session.scalar(
            select(WarningRow).where(
                WarningRow.merchant_id == bad_id, WarningRow.rule == WarningRule.RATING_FAILED
            )
        )
    assert failure is not None
    assert failure.attempts == 1
    assert "tax_arrears_fen" in failure.error
    assert failure.next_attempt_at > failure.failed_at
    assert queued is None  # set aside, not put back at the head of the queue
    assert warning is not None
    assert warning.evidence["error"] == failure.error

    # The operator sees it; nobody else does.
    listed = await rapi.call("GET", "/ratings/failures", operator)
    assert [row["merchant_id"] for row in listed] == [str(bad_id)]
    await rapi.call("GET", "/ratings/failures", bad["regulator"], expect=403)

    # Once the data is mended, the next retry rates it and the failure is cleared.
    async with rapi.sessions() as session, session.begin():
        await session.execute(
            text("DELETE FROM indicator_records WHERE merchant_id = :m AND fingerprint = :fp"),
            {"m": bad_id, "fp": b"poison"},
        )
        await session.execute(
            text("UPDATE rating_failures SET next_attempt_at = now() - interval '1 second'")
        )
    await _drain(rapi)
    rated = await _rating(rapi, bad["merchant"]["id"])
    assert rated is not None
    async with rapi.sessions() as session:
        assert await session.get(RatingFailure, bad_id) is None
