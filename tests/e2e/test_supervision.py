"""Warnings, measures and insurance over HTTP: each role reaches only what is its own, and
every wrong step is refused with a reason, changing nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from app.auth.models import Role
from app.clock import today
from app.supervision.models import WarningRule
from app.supervision.warnings import raise_warning
from tests.e2e.api import ID, STORED, Api, buy, counter_of, notify, order, shop_with
from tests.e2e.background import insurer


def district() -> str:
    """A district of the test's own, so queues hold only the test's warnings."""
    return f"测试区-{uuid.uuid4().hex[:8]}"


async def warned(api: Api, merchant_id: str, cause: str = "test signal") -> str:
    async with api.sessions() as session, session.begin():
        made = await raise_warning(
            session, uuid.UUID(merchant_id), WarningRule.SALES_SURGE, cause, {"surge_pct": 310}
        )
        again = await raise_warning(
            session, uuid.UUID(merchant_id), WarningRule.SALES_SURGE, cause, {"surge_pct": 320}
        )
    assert made is not None
    assert again is None  # the same cause never raises a second warning
    return str(made)


async def test_warning_workflow_in_the_regulators_district(api: Api) -> None:
    here = district()
    shop = await api.active_merchant(here)
    regulator = shop["regulator"]
    colleague = await api.staff(Role.REGULATOR, here)
    colleague_id = (await api.call("GET", "/auth/me", colleague))["user_id"]
    outsider = await api.staff(Role.REGULATOR, district())
    outsider_id = (await api.call("GET", "/auth/me", outsider))["user_id"]
    warning_id = await warned(api, shop["merchant"]["id"])

    queue = await api.call("GET", "/warnings", regulator)
    assert [w["id"] for w in queue] == [warning_id]
    assert all(w["district"] != here for w in await api.call("GET", "/warnings", outsider))
    await api.call("GET", f"/warnings/{warning_id}", outsider, expect=404)
    await api.call("POST", f"/warnings/{warning_id}/acknowledge", outsider, expect=404)
    for token in (shop["token"], await api.consumer(), await api.staff(Role.INSURER)):
        await api.call("GET", "/warnings", token, expect=403)
        await api.call("POST", f"/warnings/{warning_id}/acknowledge", token, expect=403)

    acked = await api.call("POST", f"/warnings/{warning_id}/acknowledge", regulator)
    assert acked["status"] == "acknowledged"
    twice = await api.call("POST", f"/warnings/{warning_id}/acknowledge", regulator, expect=409)
    assert "only an open one" in twice["detail"]
    bad = await api.call(
        "POST",
        f"/warnings/{warning_id}/assign",
        regulator,
        json={"user_id": outsider_id},
        expect=422,
    )
    assert "regulator of this district" in bad["detail"]
    assigned = await api.call(
        "POST", f"/warnings/{warning_id}/assign", regulator, json={"user_id": colleague_id}
    )
    assert assigned["assigned_to"] == colleague_id
    await api.call(
        "POST",
        f"/warnings/{warning_id}/notes",
        colleague,
        json={"text": "visited the shop"},
        expect=201,
    )
    await api.call(
        "POST", f"/warnings/{warning_id}/notes", colleague, json={"text": ""}, expect=400
    )
    empty = await api.call(
        "POST", f"/warnings/{warning_id}/close", colleague, json={"feedback": "   "}, expect=422
    )
    assert "found and done" in empty["detail"]
    closed = await api.call(
        "POST",
        f"/warnings/{warning_id}/close",
        colleague,
        json={"feedback": "promotion for the anniversary; no risk"},
    )
    assert closed["status"] == "closed"
    detail = await api.call("GET", f"/warnings/{warning_id}", regulator)
    assert [n["text"] for n in detail["notes"]] == ["visited the shop"]
    await api.call(
        "POST", f"/warnings/{warning_id}/close", regulator, json={"feedback": "x"}, expect=409
    )
    operator = await api.staff(Role.OPERATOR)
    assert warning_id in {w["id"] for w in await api.call("GET", "/warnings", operator)}


async def test_measures_change_what_consumers_can_buy_and_are_recorded(api: Api) -> None:
    shop, (product,) = await shop_with(api, STORED)
    merchant_id = shop["merchant"]["id"]
    regulator = shop["regulator"]
    measures = f"/merchants/{merchant_id}/measures"
    outsider = await api.staff(Role.REGULATOR, district())
    await api.call(
        "POST", measures, outsider, json={"kind": "suspend-sales", "reason": "x"}, expect=404
    )
    await api.call(
        "POST", measures, shop["token"], json={"kind": "suspend-sales", "reason": "x"}, expect=403
    )
    await api.call(
        "POST", measures, regulator, json={"kind": "suspend-sales", "reason": ""}, expect=400
    )
    await api.call(
        "POST", measures, regulator, json={"kind": "close-shop", "reason": "x"}, expect=400
    )
    low = await api.call(
        "POST",
        measures,
        regulator,
        json={"kind": "raise-custody-ratio", "reason": "x", "custody_ratio_bp": 2000},
        expect=422,
    )
    assert "above the current 3000" in low["detail"]
    await api.call(
        "POST", measures, regulator, json={"kind": "raise-custody-ratio", "reason": "x"}, expect=422
    )
    await api.call(
        "POST", measures, regulator, json={"kind": "lift-suspension", "reason": "x"}, expect=409
    )

    counter = await counter_of(api, shop["token"])
    suspended = await api.call(
        "POST",
        measures,
        regulator,
        json={"kind": "suspend-sales", "reason": "complaints"},
        expect=201,
    )
    assert suspended["kind"] == "suspend-sales"
    profile = await api.call("GET", counter.path, expect=403)
    assert "suspended" in profile["detail"]
    consumer = await api.consumer()
    await order(api, counter, product["id"], consumer, expect=403, **ID)
    await api.call(
        "POST", measures, regulator, json={"kind": "suspend-sales", "reason": "x"}, expect=409
    )
    await api.call(
        "POST",
        measures,
        regulator,
        json={"kind": "lift-suspension", "reason": "explained"},
        expect=201,
    )
    await buy(api, counter, product, consumer, **ID)

    raised = await api.call(
        "POST",
        measures,
        regulator,
        json={"kind": "raise-custody-ratio", "reason": "growth", "custody_ratio_bp": 6000},
        expect=201,
    )
    assert raised["params"] == {"from": 3000, "to": 6000}
    card = await buy(api, counter, product, consumer, **ID)
    detail = await api.call("GET", f"/me/cards/{card['card_id']}", consumer)
    assert detail["protection"]["custody_ratio_bp"] == 6000
    await api.call(
        "POST",
        measures,
        regulator,
        json={"kind": "lift-custody-ratio", "reason": "calmer"},
        expect=201,
    )
    history = await api.call("GET", measures, regulator)
    assert [m["kind"] for m in history] == [
        "suspend-sales",
        "lift-suspension",
        "raise-custody-ratio",
        "lift-custody-ratio",
    ]
    assert all(m["reason"] and m["taken_by"] for m in history)
    await api.call("GET", measures, outsider, expect=404)


async def _insured_shop(api: Api, insurer_token: str) -> tuple[dict[str, Any], Any, Any]:
    """A merchant the insurer registered the declared policy for, activated, with a product."""
    shop = await api.register_merchant("上城区")
    regulator = await api.staff(Role.REGULATOR, "上城区")
    await api.call("POST", f"/merchants/{shop['merchant']['id']}/approve", regulator)
    policy = await api.insure(shop, insurer_token)
    await api.call("POST", "/merchants/me/activate", shop["token"])
    shop["regulator"] = regulator
    product = await api.call(
        "POST", "/merchants/me/products", shop["token"], json=STORED, expect=201
    )
    return shop, policy, product


async def test_a_policy_needs_the_merchant_and_the_insurer_and_ending_it_stops_sales(
    api: Api,
) -> None:
    first = await insurer(api)
    shop = await api.register_merchant("上城区")
    uscc = shop["merchant"]["uscc"]
    regulator = await api.staff(Role.REGULATOR, "上城区")
    await api.call("POST", f"/merchants/{shop['merchant']['id']}/approve", regulator)
    uninsured = await api.call("POST", "/merchants/me/activate", shop["token"], expect=422)
    assert "has not yet registered policy" in uninsured["detail"]
    undeclared = await api.call(
        "POST",
        "/insurer/policies",
        first.token,
        json={
            "uscc": uscc,
            "number": "PB-NOT-DECLARED",
            "coverage_fen": 1,
            "starts_on": "2026-01-01",
        },
        expect=409,
    )
    assert "has not declared this policy number" in undeclared["detail"]
    policy = await api.insure(shop, first.token)
    await api.call("POST", "/merchants/me/activate", shop["token"])
    product = await api.call(
        "POST", "/merchants/me/products", shop["token"], json=STORED, expect=201
    )
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    await buy(api, counter, product, consumer, **ID)
    await api.call("POST", f"/insurer/policies/{policy['id']}/end", first.token)
    stopped = await order(api, counter, product["id"], consumer, expect=403, **ID)
    assert "policy" in stopped["detail"]
    assert "ended" in stopped["detail"]


async def test_insurers_see_only_their_own_policies_exposure_and_claims(api: Api) -> None:
    first = await insurer(api)
    second = await insurer(api)
    shop, policy, product = await _insured_shop(api, first.token)
    uscc = shop["merchant"]["uscc"]
    assert policy["exposure_fen"] == 0
    taken = await api.call(
        "POST",
        "/insurer/policies",
        second.token,
        json={
            "uscc": uscc,
            "number": policy["number"],
            "coverage_fen": 1,
            "starts_on": "2026-01-01",
        },
        expect=409,
    )
    assert "already has an active policy" in taken["detail"]
    unknown = await api.call(
        "POST",
        "/insurer/policies",
        first.token,
        json={
            "uscc": "91330102MA2B3C4D5E",
            "number": "PB-X2",
            "coverage_fen": 1,
            "starts_on": "2026-01-01",
        },
        expect=404,
    )
    assert "no merchant" in unknown["detail"]

    counter = await counter_of(api, shop["token"])
    await buy(api, counter, product, await api.consumer(), **ID)
    book = await api.call("GET", "/insurer/policies", first.token)
    (mine,) = book["policies"]
    assert mine["exposure_fen"] == 56_000
    assert book["total_exposure_fen"] == 56_000
    assert mine["grade"] == "NR"
    assert mine["annual_premium_fen"] == 56_000 * 150 // 10_000
    assert (await api.call("GET", "/insurer/policies", second.token))["policies"] == []

    for token in (shop["token"], shop["regulator"], await api.consumer()):
        await api.call("GET", "/insurer/policies", token, expect=403)
        await api.call("GET", "/insurer/claims", token, expect=403)
    unlinked = await api.staff(Role.INSURER)
    refused = await api.call("GET", "/insurer/policies", unlinked, expect=403)
    assert "not linked to an insurer" in refused["detail"]
    await api.call("POST", f"/insurer/policies/{policy['id']}/end", second.token, expect=404)
    ended = await api.call("POST", f"/insurer/policies/{policy['id']}/end", first.token)
    assert ended["status"] == "ended"
    await api.call("POST", f"/insurer/policies/{policy['id']}/end", first.token, expect=409)

    # A claim is seen by its insurer and by supervisors, never by another insurer.
    default = {"kind": "declare-default", "reason": "vanished", "confirm": True}
    merchant_id = shop["merchant"]["id"]
    declared = await api.call(
        "POST", f"/merchants/{merchant_id}/measures", shop["regulator"], json=default, expect=201
    )
    claim_id = declared["claim_id"]
    assert claim_id is not None
    await api.call("GET", f"/insurer/claims/{claim_id}", second.token, expect=404)
    await api.call("POST", f"/insurer/claims/{claim_id}/acknowledge", second.token, expect=404)
    assert await api.call("GET", "/insurer/claims", second.token) == []
    seen = await api.call("GET", f"/claims/{claim_id}", shop["regulator"])
    assert seen["total_fen"] == 56_000
    await api.call(
        "GET", f"/claims/{claim_id}", await api.staff(Role.REGULATOR, district()), expect=404
    )
    await api.call("GET", f"/claims/{claim_id}", first.token, expect=403)
    mine_claim = await api.call("GET", f"/insurer/claims/{claim_id}", first.token)
    assert mine_claim["lines"][0]["claim_fen"] == 56_000
    late = today() + timedelta(days=1)
    assert mine_claim["triggered_at"][:10] <= late.isoformat()


async def test_a_claim_of_nothing_is_acknowledged_paid_and_closed(api: Api) -> None:
    """A merchant that sold no card defaults: its claim is 0 fen and still closes."""
    covering = await insurer(api)
    shop = await api.active_merchant(district(), insurer_token=covering.token)
    default = {"kind": "declare-default", "reason": "closed before selling", "confirm": True}
    declared = await api.call(
        "POST",
        f"/merchants/{shop['merchant']['id']}/measures",
        shop["regulator"],
        json=default,
        expect=201,
    )
    claim = f"/insurer/claims/{declared['claim_id']}"
    opened = await api.call("GET", claim, covering.token)
    assert (opened["status"], opened["total_fen"], opened["cards"]) == ("triggered", 0, 0)
    await api.call("POST", f"{claim}/acknowledge", covering.token)
    paid = await api.call("POST", f"{claim}/pay", covering.token, json={"payment_ref": "NIL-0"})
    assert (paid["status"], paid["total_fen"], paid["payment_ref"]) == ("closed", 0, "NIL-0")
    assert paid["paid_at"] is not None
    assert paid["closed_at"] is not None
    assert paid["lines"] == []
    again = await api.call(
        "POST", f"{claim}/pay", covering.token, json={"payment_ref": "NIL-0"}, expect=409
    )
    assert "already paid" in again["detail"]


async def test_a_payment_after_default_issues_no_card_and_is_owed_back(api: Api) -> None:
    shop, (product,) = await shop_with(api, STORED)
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    placed = await order(api, counter, product["id"], consumer, **ID)
    await api.call(
        "POST",
        f"/merchants/{shop['merchant']['id']}/measures",
        shop["regulator"],
        json={"kind": "declare-default", "reason": "vanished", "confirm": True},
        expect=201,
    )
    late = await notify(api, placed["provider_order_id"], placed["amount"])
    assert late["outcome"] == "refund due"
    again = await notify(api, placed["provider_order_id"], placed["amount"])
    assert again["outcome"] in ("duplicate", "refund due")
    status = await api.call("GET", f"/orders/{placed['id']}", consumer)
    assert status["status"] == "refund_due"
    assert status["card_id"] is None
    assert await api.call("GET", "/me/cards", consumer) == []
