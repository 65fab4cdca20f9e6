"""Multi-department cases (多跨协同 "一件事"), end to end over HTTP on PostgreSQL.

The seed's story: a consumer calls 12345 about a hair salon; the work order is imported, the
district routes it to the commerce bureau, which brings in market supervision and health for
a joint inspection; market supervision fines the salon (which re-rates it), health finds
nothing, commerce arranges the refund; the caller sees the outcome and confirms. Around it:
a duplicate and a malformed row in the file, a ticket naming only the salon's name, a task
handed from one department to another, departments kept out of cases not routed to them, and
each department's figures.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from app.auth.admin import create_staff
from app.auth.middleware import SESSION_COOKIE
from app.auth.models import Role
from app.cases.directory import add, assign_street
from app.clock import today, utcnow
from app.risk.complaints import complaints_filed
from app.risk.models import IndicatorRecord
from app.supervision.models import WarningRule
from app.supervision.warnings import raise_warning
from tests.e2e.api import PASSWORD, SESSIONS, buy_registered, complain

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.e2e.api import Api

CALLER = "13800001234"
FINE = 500_000  # ¥5,000
DEPARTMENTS = (
    ("commerce", "区商务局", "District Commerce Bureau"),
    ("market", "区市场监管局", "District Market Supervision Bureau"),
    ("health", "区卫健局", "District Health Bureau"),
    ("education", "区教育局", "District Education Bureau"),
)


async def offices(api: Api) -> tuple[str, dict[str, uuid.UUID], dict[str, str]]:
    """A fresh district with four departments and a street office, and one officer each
    (their user names)."""
    district = f"测试区-{uuid.uuid4().hex[:8]}"
    orgs: dict[str, uuid.UUID] = {}
    officers: dict[str, str] = {}
    async with api.sessions() as session, session.begin():
        for code, zh, en in (*DEPARTMENTS, ("street-hubin", "湖滨街道", "Hubin Street Office")):
            kind = "street" if code.startswith("street") else "department"
            org = await add(session, district=district, kind=kind, code=code, zh=zh, en=en)
            orgs[code] = org.id
            username = f"{code}-{uuid.uuid4().hex[:8]}@gov"
            await create_staff(
                session,
                username=username,
                password=PASSWORD,
                role=Role.DEPARTMENT,
                organisation=zh,
                organisation_id=org.id,
            )
            officers[code] = username
    return district, orgs, officers


async def _district(api: Api) -> tuple[str, dict[str, uuid.UUID], dict[str, str]]:
    """:func:`offices`, each officer signed in (their tokens)."""
    district, orgs, officers = await offices(api)
    return district, orgs, {code: await api.sign_in(name) for code, name in officers.items()}


async def salon(api: Api, district: str) -> dict[str, Any]:
    shop = await api.active_merchant(district, industry="beauty", legal_name="杭州湖滨美发有限公司")
    async with api.sessions() as session, session.begin():
        await assign_street(session, uuid.UUID(shop["merchant"]["id"]), "street-hubin")
    shop["product"] = await api.call(
        "POST", "/merchants/me/products", shop["token"], json=SESSIONS, expect=201
    )
    return shop


async def _pguard(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _orders(uscc: str, district: str) -> list[dict[str, str]]:
    received = (utcnow() - timedelta(hours=3)).isoformat()
    ticket = f"HZ12345-{uuid.uuid4().hex[:10]}"
    return [
        {
            "ticket_id": ticket,
            "received_at": received,
            "caller_phone": CALLER,
            "merchant_code": uscc,
            "merchant_name": "湖滨美发",
            "text": "办了美发卡，店里说要装修，不给退款",
            "category": "预付卡消费",
        },
        {  # the same ticket again: a duplicate
            "ticket_id": ticket,
            "received_at": received,
            "caller_phone": CALLER,
            "merchant_code": uscc,
            "text": "重复推送",
            "category": "预付卡消费",
        },
        {  # a caller's number that is not a mobile number: malformed
            "ticket_id": f"HZ12345-{uuid.uuid4().hex[:10]}",
            "received_at": received,
            "caller_phone": "12345",
            "merchant_code": uscc,
            "text": "号码不对",
            "category": "预付卡消费",
        },
        {  # only a name: waits for the regulator to match it
            "ticket_id": f"HZ12345-{uuid.uuid4().hex[:10]}",
            "received_at": received,
            "caller_phone": "13900009999",
            "merchant_name": "湖滨那家美发店",
            "text": "会员卡余额不让用",
            "category": "预付卡消费",
            "district": district,
        },
    ]


async def _import(
    api: Api,
    cli_env: Callable[[], dict[str, str]],
    tmp_path: Path,
    shop: dict[str, Any],
    district: str,
) -> list[dict[str, str]]:
    """Import the hotline's file, then import it again: the second time changes nothing."""
    # The 12345 file: one good ticket, its duplicate, a malformed row, a name-only ticket.
    orders = _orders(shop["merchant"]["uscc"], district)
    path = tmp_path / "12345.json"
    path.write_text(json.dumps({"work_orders": orders}, ensure_ascii=False))
    done = await _pguard(cli_env(), "cases", "import-12345", str(path), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout[: done.stdout.rindex("}") + 1])
    assert {k: report[k] for k in ("rows", "imported", "matched", "unmatched")} == {
        "rows": 4,
        "imported": 2,
        "matched": 1,
        "unmatched": 1,
    }
    assert (report["duplicates"], report["malformed"]) == (1, 1)
    assert [(p["line"], p["kind"]) for p in report["problems"]] == [
        (2, "duplicate"),
        (3, "malformed"),
    ]
    assert "caller_phone is not a mainland mobile number" in done.stderr
    assert "line 2: duplicate" in done.stderr
    again = await _pguard(cli_env(), "cases", "import-12345", str(path))
    assert again.returncode == 0, again.stderr
    assert "imported=0 matched=0 unmatched=0 duplicates=3 malformed=1" in again.stdout

    return orders


async def _handle_jointly(
    api: Api,
    case: dict[str, Any],
    orgs: dict[str, uuid.UUID],
    officers: dict[str, str],
    shop: dict[str, Any],
) -> None:
    """Routed by the street office; fined, cleared and settled by three departments."""
    mid, caller = shop["merchant"]["id"], shop["caller"]
    # The street office routes it: commerce leads, market supervision and health join.
    routed = await api.call(
        "POST",
        f"/cases/{case['id']}/routes",
        officers["street-hubin"],
        json={
            "routes": [
                {"organisation_id": str(orgs["commerce"]), "task": "牵头核查退款", "days": 10},
                {
                    "organisation_id": str(orgs["market"]),
                    "task": "联合检查：预付卡经营",
                    "days": 10,
                },
                {"organisation_id": str(orgs["health"]), "task": "联合检查：卫生许可", "days": 5},
            ]
        },
        expect=201,
    )
    tasks = {t["organisation"]: t for t in routed["tasks"]}
    assert [t["lead"] for t in routed["tasks"]] == [True, False, False]
    assert [e["kind"] for e in routed["events"]] == [
        "opened",
        "routed",
        "co-assigned",
        "co-assigned",
    ]

    # A department not brought in sees nothing of it and can act on nothing.
    await api.call("GET", f"/cases/{case['id']}", officers["education"], expect=404)
    await api.call(
        "POST", f"/cases/tasks/{tasks['market']['id']}/take", officers["education"], expect=404
    )
    assert await api.call("GET", "/cases/tasks", officers["education"]) == []
    # A department cannot route; the merchant and the consumer see no case list.
    await api.call(
        "POST",
        f"/cases/{case['id']}/routes",
        officers["commerce"],
        json={"routes": [{"organisation_id": str(orgs["education"]), "task": "x", "days": 3}]},
        expect=404,
    )
    await api.call("GET", "/cases", shop["token"], expect=403)

    # Each department acts on its own task.
    queue = await api.call("GET", "/cases/tasks", officers["market"])
    assert [t["id"] for t in queue] == [tasks["market"]["id"]]
    taken = await api.call("POST", f"/cases/tasks/{tasks['market']['id']}/take", officers["market"])
    assert taken["owner_id"] is not None
    bad = await api.call(
        "POST",
        f"/cases/tasks/{tasks['market']['id']}/finding",
        officers["market"],
        json={"finding": "penalty", "text": "未按规定履行预付卡退款义务", "penalty_fen": FINE},
        expect=422,
    )
    assert bad["type"] == "/problems/case-penalty-document"
    fined = await api.call(
        "POST",
        f"/cases/tasks/{tasks['market']['id']}/finding",
        officers["market"],
        json={
            "finding": "penalty",
            "text": "未按规定履行预付卡退款义务，责令改正并罚款",
            "penalty_fen": FINE,
            "document_no": "杭上市监罚〔2026〕12号",
        },
    )
    assert (fined["status"], fined["penalty_fen"]) == ("done", FINE)
    async with api.sessions() as session:
        record = await session.scalar(
            select(IndicatorRecord).where(
                IndicatorRecord.merchant_id == uuid.UUID(mid),
                IndicatorRecord.source == "credit",
                IndicatorRecord.kind == "penalties",
            )
        )
    assert record is not None
    assert (float(record.value), record.provenance) == (1.0, "区市场监管局 杭上市监罚〔2026〕12号")
    await api.call(
        "POST",
        f"/cases/tasks/{tasks['health']['id']}/finding",
        officers["health"],
        json={"finding": "no-violation", "text": "卫生许可有效，现场无问题"},
    )
    # Not resolved while commerce is still working: the caller cannot confirm yet.
    assert (await api.call("GET", f"/cases/{case['id']}", caller))["status"] == "open"
    early = await api.call(
        "POST", f"/me/cases/{case['id']}/confirm", caller, json={"satisfied": True}, expect=409
    )
    assert early["type"] == "/problems/case-not-resolved"
    await api.call(
        "POST",
        f"/cases/tasks/{tasks['commerce']['id']}/finding",
        officers["commerce"],
        json={"finding": "refund-arranged", "text": "商户已退还剩余 8 次课程费用"},
    )


async def _reported(api: Api, regulator: str) -> None:
    """The month's report counts the call as a complaint resolved, and each department's part."""
    month = today().strftime("%Y-%m")
    report = await api.call("GET", "/reports/district", regulator, params={"period": month})
    assert report["figures"]["complaints_received"]["value"] == 1
    assert report["figures"]["complaints_resolved"]["value"] == 1
    departments = {r["organisation"]: r for r in report["tables"]["departments"]["rows"]}
    assert (
        departments["区市场监管局"]["cases_received"],
        departments["区市场监管局"]["cases_closed"],
    ) == (1, 1)
    assert departments["区教育局"]["cases_received"] == 0
    assert departments["湖滨街道"]["cases_closed"] == 1


async def test_a_hotline_complaint_is_handled_jointly_and_confirmed(
    api: Api, cli_env: Callable[[], dict[str, str]], tmp_path: Path
) -> None:
    district, orgs, officers = await _district(api)
    shop = await salon(api, district)
    mid = shop["merchant"]["id"]
    caller = shop["caller"] = await api.consumer(CALLER)
    await buy_registered(api, shop, shop["product"], caller)
    regulator = shop["regulator"]

    orders = await _import(api, cli_env, tmp_path, shop, district)

    # The matched ticket is a complaint against the salon, and a case in its district.
    async with api.sessions() as session:
        counted = await complaints_filed(
            session, [uuid.UUID(mid)], since=utcnow() - timedelta(days=1)
        )
    assert counted == {uuid.UUID(mid): 1}
    async with api.sessions() as session:  # and refreshed the salon's complaint indicator
        last_7 = await session.scalar(
            select(IndicatorRecord.value)
            .where(
                IndicatorRecord.merchant_id == uuid.UUID(mid),
                IndicatorRecord.source == "complaints",
                IndicatorRecord.kind == "count_7d",
            )
            .order_by(IndicatorRecord.id.desc())
            .limit(1)
        )
    assert last_7 is not None
    assert float(last_7) == 1.0
    cases = await api.call("GET", "/cases", regulator)
    mine = [c for c in cases if c["merchant_id"] == mid]
    assert len(mine) == 1
    case = mine[0]
    assert (case["subject"], case["status"], case["ticket_id"]) == (
        "hotline",
        "open",
        orders[0]["ticket_id"],
    )

    await _handle_jointly(api, case, orgs, officers, shop)

    # The caller sees the outcome and confirms it, once; someone else cannot.
    theirs = await api.call("GET", "/me/cases", caller)
    assert [(c["id"], c["status"]) for c in theirs] == [(case["id"], "resolved")]
    await api.call(
        "POST",
        f"/me/cases/{case['id']}/confirm",
        await api.consumer(),
        json={"satisfied": True},
        expect=404,
    )
    # On the complaints page: each department's finding, and the answer.
    api.client.cookies.set(SESSION_COOKIE, caller)
    mine = await api.client.get("/my/complaints")
    assert mine.status_code == 200
    assert f'data-case="{case["id"]}" data-status="resolved"' in mine.text
    assert "行政处罚" in mine.text
    assert "¥5,000.00" in mine.text
    answered = await api.client.post(
        f"/my/cases/{case['id']}/confirm",
        data={"satisfied": "yes", "comment": "已收到退款，谢谢"},
        follow_redirects=False,
    )
    assert answered.status_code == 303
    assert "消费者已确认处理结果" in (await api.client.get("/my/complaints")).text
    api.client.cookies.clear()
    confirmed = await api.call("GET", f"/cases/{case['id']}", caller)
    assert (confirmed["status"], confirmed["satisfied"]) == ("confirmed", True)
    assert "events" not in confirmed  # the steps between departments are theirs
    assert {t["owner_id"] for t in confirmed["tasks"]} == {None}
    steps = await api.call("GET", f"/cases/{case['id']}", regulator)
    assert [e["kind"] for e in steps["events"]][-2:] == ["resolved", "confirmed"]
    await api.call(
        "POST", f"/me/cases/{case['id']}/confirm", caller, json={"satisfied": False}, expect=409
    )

    await _reported(api, regulator)

    # The name-only ticket waits for the regulator, who matches it: its case opens.
    waiting = await api.call("GET", "/hotline/tickets/unmatched", regulator)
    assert [t["ticket_id"] for t in waiting] == [orders[3]["ticket_id"]]
    matched = await api.call(
        "POST",
        f"/hotline/tickets/{orders[3]['ticket_id']}/match",
        regulator,
        json={"merchant_id": mid},
        expect=201,
    )
    assert (matched["subject"], matched["merchant_id"]) == ("hotline", mid)
    await api.call(
        "POST",
        f"/hotline/tickets/{orders[3]['ticket_id']}/match",
        regulator,
        json={"merchant_id": mid},
        expect=409,
    )
    elsewhere = await api.staff(Role.REGULATOR, "西湖区")
    assert await api.call("GET", "/hotline/tickets/unmatched", elsewhere) == []


async def test_a_task_is_handed_over_and_each_department_is_counted(api: Api) -> None:
    district, orgs, officers = await _district(api)
    shop = await salon(api, district)
    consumer, paid = await buy_registered(api, shop, shop["product"])
    dispute = await complain(api, consumer, paid["card_id"], "not_delivered", "不给退", 100_000)
    case = await api.call(
        "POST", "/cases", shop["regulator"], json={"dispute_id": dispute["id"]}, expect=201
    )
    again = await api.call(
        "POST", "/cases", shop["regulator"], json={"dispute_id": dispute["id"]}, expect=409
    )
    assert again["type"] == "/problems/case-already-open"
    routed = await api.call(
        "POST",
        f"/cases/{case['id']}/routes",
        shop["regulator"],
        json={"routes": [{"organisation_id": str(orgs["commerce"]), "task": "核查", "days": 7}]},
        expect=201,
    )
    task = routed["tasks"][0]
    for body, code in (
        ({"to": str(orgs["commerce"]), "note": "x"}, "case-hand-over-to-self"),
        ({"to": str(orgs["street-hubin"]), "note": "x"}, "case-route-not-a-department"),
        ({"to": str(orgs["market"]), "note": " "}, "case-note-text"),
    ):
        refused = await api.call(
            "POST",
            f"/cases/tasks/{task['id']}/hand-over",
            officers["commerce"],
            json=body,
            expect=422,
        )
        assert refused["type"] == f"/problems/{code}"
    moved = await api.call(
        "POST",
        f"/cases/tasks/{task['id']}/hand-over",
        officers["commerce"],
        json={"to": str(orgs["market"]), "note": "属市场监管职责"},
        expect=201,
    )
    # Two market officers: the second cannot take a task the first has taken.
    async with api.sessions() as session, session.begin():
        second = f"market2-{uuid.uuid4().hex[:8]}@gov"
        await create_staff(
            session,
            username=second,
            password=PASSWORD,
            role=Role.DEPARTMENT,
            organisation_id=orgs["market"],
        )
    await api.call("POST", f"/cases/tasks/{moved['id']}/take", officers["market"])
    taken = await api.call(
        "POST", f"/cases/tasks/{moved['id']}/take", await api.sign_in(second), expect=409
    )
    assert taken["type"] == "/problems/case-task-taken"
    assert (moved["organisation"], moved["status"], moved["deadline_at"]) == (
        "market",
        "open",
        task["deadline_at"],
    )
    detail = await api.call("GET", f"/cases/{case['id']}", officers["market"])
    assert [(t["organisation"], t["status"]) for t in detail["tasks"]] == [
        ("commerce", "handed_over"),
        ("market", "open"),
    ]
    handed = next(e for e in detail["events"] if e["kind"] == "handed-over")
    assert handed["facts"] == {"organisation": "commerce", "to": "market", "note": "属市场监管职责"}
    # The commerce bureau can no longer act on the task it passed on.
    await api.call(
        "POST",
        f"/cases/tasks/{task['id']}/finding",
        officers["commerce"],
        json={"finding": "no-violation", "text": "x"},
        expect=409,
    )
    await api.call(
        "POST",
        f"/cases/tasks/{moved['id']}/finding",
        officers["market"],
        json={"finding": "order-to-correct", "text": "责令限期整改"},
    )
    since = (utcnow() - timedelta(days=1)).isoformat()
    figures = {
        k["code"]: k
        for k in await api.call("GET", "/cases/kpis", shop["regulator"], params={"since": since})
        if k["district"] == district
    }
    assert (figures["commerce"]["received"], figures["commerce"]["closed"]) == (1, 0)
    assert (figures["market"]["received"], figures["market"]["closed"]) == (1, 1)
    assert (figures["market"]["on_time"], figures["market"]["on_time_share"]) == (1, 1.0)
    assert figures["market"]["median_days"] == 0.0
    assert (figures["street-hubin"]["received"], figures["street-hubin"]["closed"]) == (1, 1)
    assert figures["education"]["received"] == 0
    await api.call("GET", "/cases/kpis", officers["market"], params={"since": since}, expect=403)


async def test_a_warning_goes_to_the_merchants_street_office(api: Api) -> None:
    district, orgs, officers = await _district(api)
    shop = await salon(api, district)
    elsewhere = await api.active_merchant(district)  # on no street
    async with api.sessions() as session, session.begin():
        for merchant in (shop, elsewhere):
            await raise_warning(
                session,
                uuid.UUID(merchant["merchant"]["id"]),
                WarningRule.COMPLAINT_SURGE,
                f"week-{uuid.uuid4().hex[:6]}",
                {"complaints_7d": 6, "baseline": 1.0},
            )
    street = await api.call("GET", "/cases", officers["street-hubin"])
    assert [(c["merchant_id"], c["subject"]) for c in street] == [
        (shop["merchant"]["id"], "warning")
    ]
    detail = await api.call("GET", f"/cases/{street[0]['id']}", officers["street-hubin"])
    assert [(e["kind"], e["actor_role"]) for e in detail["events"]] == [("opened", "system")]
    routed = await api.call(
        "POST",
        f"/cases/{street[0]['id']}/routes",
        officers["street-hubin"],
        json={"routes": [{"organisation_id": str(orgs["market"]), "task": "走访核查", "days": 3}]},
        expect=201,
    )
    assert [t["organisation"] for t in routed["tasks"]] == ["market"]
    # The warning of the merchant on no street stays with the regulator, who opens its case.
    regulator = await api.call("GET", "/cases", shop["regulator"])
    assert elsewhere["merchant"]["id"] not in {c["merchant_id"] for c in regulator}
    # A department not routed sees nothing of it.
    await api.call("GET", f"/cases/{street[0]['id']}", officers["education"], expect=404)
