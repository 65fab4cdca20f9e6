"""Risk drives protection: grade actions set per district, hard stops, the exit path.

On a database of its own with an active model; the re-rating worker's pass is called
directly, so each step sees the rating it caused.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from app.auth.models import Role
from app.clock import today
from app.risk.models import IndicatorRecord
from app.risk.worker import drain_once
from tests.e2e.api import ID, STORED, Api, buy, counter_of, order, sign_in_form
from tests.e2e.background import api_on, rated_database, record

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sqlalchemy.ext.asyncio import AsyncEngine

    from tests.conftest import Databases

DEFAULT = {"A": 2000, "B": 3000, "C": 4000, "D": 6000, "E": 10_000}
DISTRICT = "滨江区"


@pytest.fixture(scope="module")
async def own_engine(databases: Databases) -> AsyncIterator[AsyncEngine]:
    async with rated_database(databases) as engine:
        yield engine


@pytest.fixture
async def gapi(own_engine: AsyncEngine) -> AsyncIterator[Api]:
    async with api_on(own_engine) as api:
        yield api


async def _drain(api: Api) -> None:
    while await drain_once(api.sessions):
        pass


async def _send(api: Api, *records: dict[str, Any]) -> None:
    operator = await api.staff(Role.OPERATOR)
    await api.call("POST", "/indicators", operator, json={"records": list(records)}, expect=201)
    await _drain(api)


async def _selling_shop(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    shop = await api.active_merchant(DISTRICT)
    product = await api.call(
        "POST", "/merchants/me/products", shop["token"], json=STORED, expect=201
    )
    day = today() - timedelta(days=30)
    uscc = shop["merchant"]["uscc"]
    await _send(
        api,
        record(uscc, "registration", "age_years", 8, day),
        record(uscc, "tax", "arrears_fen", 0, day),
        record(uscc, "court", "enforcement_cases", 0, day),
        record(uscc, "court", "dishonest_debtor", False, day),
        record(uscc, "social_security", "headcount", 15, day),
    )
    return shop, product


async def _rating(api: Api, shop: dict[str, Any]) -> Any:
    return await api.call("GET", f"/ratings/{shop['merchant']['id']}", shop["regulator"])


async def _profile(api: Api, shop: dict[str, Any]) -> Any:
    return await api.call("GET", (await counter_of(api, shop["token"])).path)


async def _measures(api: Api, shop: dict[str, Any]) -> list[Any]:
    found: list[Any] = await api.call(
        "GET", f"/merchants/{shop['merchant']['id']}/measures", shop["regulator"]
    )
    return found


async def test_the_ratio_for_new_sales_follows_the_grade_and_e_waits_for_review(gapi: Api) -> None:
    api = gapi
    shop, product = await _selling_shop(api)
    first = (await _rating(api, shop))["grade"]
    assert (await _profile(api, shop))["protection"]["custody_ratio_bp"] == DEFAULT[first]
    consumer = await api.consumer()
    counter = await counter_of(api, shop["token"])
    before = await buy(api, counter, product, consumer, **ID)

    # 失信: grade E, 100% custody for new sales, and no sales until a regulator reviews.
    uscc = shop["merchant"]["uscc"]
    await _send(api, record(uscc, "court", "dishonest_debtor", True, today() - timedelta(days=1)))
    rated = await _rating(api, shop)
    assert rated["grade"] == "E"
    assert "dishonest-debtor" in rated["overrides"]
    profile_refused = await api.call(
        "GET", counter.path, expect=403
    )  # the counter code refuses: held for review
    assert "review" in profile_refused["detail"]
    refused = await order(api, counter, product["id"], consumer, expect=403, **ID)
    assert "review" in refused["detail"]
    taken = await _measures(api, shop)
    followed = [m for m in taken if m["kind"] == "grade-action"][-1]
    assert followed["taken_by"] is None
    assert followed["params"]["to"] == 10_000
    assert followed["params"]["grade"] == "E"
    assert followed["reason"].startswith("rated E: indicator court/dishonest_debtor")
    await sign_in_form(api.client, shop["username"])
    page = await api.client.get("/console/")
    assert 'data-block="grade-review"' in page.text
    assert "新购卡存管比例" in page.text

    # The regulator reviews and lets it sell: every new card is now wholly in custody.
    await api.call(
        "POST",
        f"/merchants/{shop['merchant']['id']}/measures",
        shop["regulator"],
        json={"kind": "lift-suspension", "reason": "复核：判决已履行中，允许全额存管销售"},
        expect=201,
    )
    after = await buy(api, counter, product, consumer, **ID)
    card = (await api.call("GET", f"/me/cards/{after['card_id']}", consumer))["protection"]
    assert card["custody_share"] == product["price"]
    assert card["insured_share"] == 0
    old = (await api.call("GET", f"/me/cards/{before['card_id']}", consumer))["protection"]
    assert old["custody_ratio_bp"] == DEFAULT[first]  # cards already sold keep their ratio
    html = await api.client.get(counter.path, headers={"Accept": "text/html"})
    assert '新购卡 100% 存管（风险等级 <span translate="no">E</span>）' in html.text


async def test_a_regulator_sets_its_district_s_actions_with_a_reason(gapi: Api) -> None:
    api = gapi
    shop, _ = await _selling_shop(api)
    regulator = shop["regulator"]
    shown = await api.call("GET", "/grade-actions", regulator)
    assert shown["in_force"]["district"] == "*"
    assert {g: a["custody_ratio_bp"] for g, a in shown["in_force"]["actions"].items()} == DEFAULT

    table = {g: {"custody_ratio_bp": bp, "sales": "allowed"} for g, bp in DEFAULT.items()}
    table["D"]["custody_ratio_bp"] = 7000
    table["E"] = {"custody_ratio_bp": 9000, "sales": "allowed"}
    # Incomplete, inverted, or without a reason: refused, and nothing changes.
    missing = {g: a for g, a in table.items() if g != "C"}
    bad = await api.call(
        "POST", "/grade-actions", regulator, json={"actions": missing, "reason": "x"}, expect=422
    )
    assert "C" in bad["errors"] or "C" in str(bad)
    inverted = {**table, "B": {"custody_ratio_bp": 1000, "sales": "allowed"}}
    bad = await api.call(
        "POST", "/grade-actions", regulator, json={"actions": inverted, "reason": "x"}, expect=422
    )
    assert "less in custody" in str(bad)
    await api.call(
        "POST", "/grade-actions", regulator, json={"actions": table, "reason": ""}, expect=400
    )
    await api.call(
        "POST", "/grade-actions", shop["token"], json={"actions": table, "reason": "x"}, expect=403
    )
    operator = await api.staff(Role.OPERATOR)
    await api.call(
        "POST", "/grade-actions", operator, json={"actions": table, "reason": "x"}, expect=403
    )
    assert (await api.call("GET", "/grade-actions", regulator))["in_force"]["version"] == 1

    made = await api.call(
        "POST",
        "/grade-actions",
        regulator,
        json={"actions": table, "reason": "滨江区 2027 年起 D 级提高存管"},
        expect=201,
    )
    assert (made["district"], made["version"]) == (DISTRICT, 1)
    history = (await api.call("GET", "/grade-actions", regulator))["history"]
    assert [(v["district"], v["version"]) for v in history][:2] == [(DISTRICT, 1), ("*", 1)]

    # The next grade change follows the district's own table.
    uscc = shop["merchant"]["uscc"]
    await _send(
        api,
        record(uscc, "registration", "abnormal_operations", True, today() - timedelta(days=1)),
    )
    rated = await _rating(api, shop)
    assert "abnormal-operations" in rated["overrides"]
    assert rated["grade"] in ("D", "E")
    expected = {"D": 7000, "E": 9000}[rated["grade"]]
    assert (await _profile(api, shop))["protection"]["custody_ratio_bp"] == expected
    warnings = await api.call(
        "GET", "/warnings", regulator, params={"merchant_id": shop["merchant"]["id"]}
    )
    assert "hard-override" in [w["rule"] for w in warnings]

    # A raised ratio is a floor the grade does not go below; lifting it returns to the grade's.
    measures = f"/merchants/{shop['merchant']['id']}/measures"
    body = {"kind": "raise-custody-ratio", "reason": "专项检查", "custody_ratio_bp": 9500}
    await api.call("POST", measures, regulator, json=body, expect=201)
    lifted = await api.call(
        "POST",
        measures,
        regulator,
        json={"kind": "lift-custody-ratio", "reason": "检查结束"},
        expect=201,
    )
    assert lifted["params"] == {"from": 9500, "to": expected}
    await api.call(
        "POST",
        measures,
        regulator,
        json={"kind": "lift-custody-ratio", "reason": "again"},
        expect=409,
    )


async def test_the_exit_path_and_deregistration(gapi: Api) -> None:
    api = gapi
    shop, product = await _selling_shop(api)
    uscc = shop["merchant"]["uscc"]
    day = today()
    await _send(
        api,
        record(uscc, "registration", "capital_change", -80, day - timedelta(days=150)),
        record(uscc, "registration", "equity_transfer", True, day - timedelta(days=70)),
        record(uscc, "registration", "legal_representative_change", True, day - timedelta(days=5)),
    )
    rated = await _rating(api, shop)
    assert "exit-pattern" in rated["overrides"]
    assert rated["grade"] in ("D", "E")
    warnings = await api.call(
        "GET",
        "/warnings",
        shop["regulator"],
        params={"merchant_id": shop["merchant"]["id"], "rule": "exit-pattern"},
    )
    assert len(warnings) == 1
    steps = warnings[0]["evidence"]["steps"]
    assert [s["kind"] for s in steps] == [
        "capital_change",
        "equity_transfer",
        "legal_representative_change",
    ]
    async with api.sessions() as session:
        ids = set(
            (
                await session.scalars(
                    select(IndicatorRecord.id).where(
                        IndicatorRecord.merchant_id == uuid.UUID(shop["merchant"]["id"]),
                        IndicatorRecord.source == "registration",
                    )
                )
            ).all()
        )
    assert {int(s["record"]) for s in steps} <= ids

    # Deregistration filed: E, and sales stop whatever the grade actions say.
    await _send(
        api, record(uscc, "registration", "deregistration_filed", True, day - timedelta(days=1))
    )
    assert (await _rating(api, shop))["grade"] == "E"
    counter = await counter_of(api, shop["token"])
    refused = await order(api, counter, product["id"], await api.consumer(), expect=403, **ID)
    assert "deregistration" in refused["detail"] or "review" in refused["detail"]
    await sign_in_form(api.client, shop["regulator_username"])
    page = await api.client.get(f"/dashboard/merchants/{shop['merchant']['id']}")
    assert 'data-block="hard-stop"' in page.text
