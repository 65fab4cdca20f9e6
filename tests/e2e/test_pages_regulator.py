"""The regulator's and the insurer's pages over HTTP: signed in with the page's form, each sees
its own district's (or insurer's) book, every form shows its errors beside the field, and a
merchant of another district is a 404 page."""

from __future__ import annotations

import re
import uuid
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from app.asgi import create_app
from app.auth.models import Role, User
from app.clock import today, utcnow
from app.i18n import message_ids
from app.insurance.models import ClaimStatus, PolicyStatus
from app.merchants.models import MerchantStatus
from app.outbox.models import EventStatus
from app.pages.regulator import disputes as dispute_pages
from app.risk.models import RatingChange
from app.supervision.disputes import Decision, DisputeKind, Step
from app.supervision.models import (
    Dispute,
    DisputeOwner,
    DisputeStatus,
    MeasureKind,
    WarningRule,
    WarningStatus,
)
from app.supervision.warnings import raise_warning
from scoring import CATALOGUE, Override, Source
from tests.e2e.api import (
    STORED,
    Api,
    add_rating,
    buy_registered,
    complain,
    declare_default,
    sign_in_form,
)
from tests.e2e.background import insurer, record

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from httpx import Response
    from litestar import Litestar
    from sqlalchemy.ext.asyncio import AsyncEngine

KEY = re.compile(r">[^<]*\b[ri]_[a-z]+[a-z0-9_-]*[^<]*<")
"""A message key shown instead of its words (a key without a translation shows itself)."""


def district() -> str:
    return f"测试区-{uuid.uuid4().hex[:8]}"


@asynccontextmanager
async def signed_in(engine: AsyncEngine, username: str) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A browser of its own, signed in through the page's form."""
    async with AsyncTestClient(app=create_app(engine)) as client:
        await sign_in_form(client, username)
        yield client


def html(response: Response, status: int = 200) -> str:
    assert response.status_code == status, (response.status_code, response.text[:2000])
    assert response.headers["content-type"].startswith("text/html")
    assert not KEY.search(response.text), KEY.search(response.text)
    return response.text


async def redirected(
    browser: AsyncTestClient[Litestar], path: str, data: dict[str, str] | None = None
) -> str:
    """Post a form the service accepts: it redirects (303) to a page, returned."""
    response = await browser.post(path, data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    return html(await browser.get(response.headers["location"]))


async def rated(api: Api, merchant_id: str, *grades: tuple[str, float]) -> None:
    """Give the merchant a grade history and a current rating (no model is needed)."""
    merchant = uuid.UUID(merchant_id)
    now = utcnow()
    async with api.sessions() as session, session.begin():
        before: str | None = None
        for i, (grade, probability) in enumerate(grades):
            session.add(
                RatingChange(
                    merchant_id=merchant,
                    from_grade=before,
                    to_grade=grade,
                    probability=probability,
                    model_version="test-1",
                    cause=f"test cause {i}",
                    changed_at=now - timedelta(days=10 * (len(grades) - i)),
                )
            )
            before = grade
    grade, probability = grades[-1]
    dishonest = {
        "feature": "court_dishonest_debtor",
        "source": "court",
        "kind": "dishonest_debtor",
        "value": 1.0,
        "reference": 0.0,
        "contribution": 0.21,
        "record": {
            "ref": "1",
            "source": "court",
            "kind": "dishonest_debtor",
            "value": True,
            "as_of": today().isoformat(),
            "provenance": "法院失信名单",
        },
    }
    await add_rating(
        api,
        merchant_id,
        [dishonest],
        probability=probability,
        reference_probability=0.06,
        grade=grade,
        model_grade=grade,
        overrides=["dishonest-debtor"],
        cut_points_version="2025.1",
        scored_for=today() + timedelta(days=1),
        rated_at=now,
        cause="test rating",
    )


async def shop_in(api: Api, where: str, insurer_token: str | None = None) -> dict[str, Any]:
    """An active merchant of ``where`` selling a stored-value card, one card sold."""
    shop = await api.active_merchant(where, insurer_token=insurer_token)
    product = await api.call(
        "POST", "/merchants/me/products", shop["token"], json=STORED, expect=201
    )
    shop["consumer"], shop["card"] = await buy_registered(api, shop, product)
    return shop


async def test_dashboard_lists_the_district_by_grade_with_totals(
    api: Api, engine: AsyncEngine
) -> None:
    here = district()
    risky = await shop_in(api, here)
    calm = await api.active_merchant(here)
    elsewhere = await api.active_merchant(district())
    await rated(api, risky["merchant"]["id"], ("B", 0.07), ("D", 0.25), ("E", 0.42))
    await rated(api, calm["merchant"]["id"], ("A", 0.02))
    regulator = await api.staff_user(Role.REGULATOR, here)
    async with signed_in(engine, regulator) as browser:
        text = html(await browser.get("/dashboard"))
        assert "商户风险看板" in text
        assert risky["merchant"]["legal_name"] in text
        assert f"/dashboard/merchants/{risky['merchant']['id']}" in text
        assert f"/dashboard/merchants/{calm['merchant']['id']}" in text
        assert f"/dashboard/merchants/{elsewhere['merchant']['id']}" not in text
        assert '<span class="stat" id="total-merchants">2</span>' in text
        assert 'id="total-outstanding">¥800.00<' in text  # one card sold at ¥800
        assert 'id="total-custody">¥240.00<' in text
        assert 'id="total-insured">¥560.00<' in text
        assert text.index(risky["merchant"]["id"]) < text.index(calm["merchant"]["id"])
        # a district regulator's filter is fixed
        assert f'<option translate="no">{here}</option>' in text

        only_e = html(await browser.get("/dashboard", params={"grade": ["E", "D"]}))
        assert risky["merchant"]["id"] in only_e
        assert calm["merchant"]["id"] not in only_e
        assert 'value="E" checked' in only_e
        assert '<span class="stat" id="total-merchants">1</span>' in only_e

        bad = html(await browser.get("/dashboard", params={"grade": "Z"}))
        assert 'id="grade-error"' in bad
        assert "没有等级 Z" in bad
        other = html(await browser.get("/dashboard", params={"district": "别的区"}))
        assert 'id="district-error"' in other
        assert risky["merchant"]["id"] not in other

        browser.cookies.set("lang", "en")
        english = html(await browser.get("/dashboard"))
        assert "Merchants by risk" in english
        assert "Outstanding balances" in english


async def test_merchant_file_shows_chart_reasons_indicators_and_queues(
    api: Api, engine: AsyncEngine
) -> None:
    here = district()
    shop = await shop_in(api, here)
    merchant_id = shop["merchant"]["id"]
    uscc = shop["merchant"]["uscc"]
    await rated(api, merchant_id, ("B", 0.07), ("D", 0.25), ("E", 0.42))
    regulator = await api.staff_user(Role.REGULATOR, here)
    feeds = await api.staff(Role.OPERATOR)
    day = today() - timedelta(days=3)
    await api.call(
        "POST",
        "/indicators",
        feeds,
        json={
            "records": [
                record(uscc, "court", "dishonest_debtor", True, day, "法院失信名单"),
                record(uscc, "tax", "arrears_fen", 1_234_500, day, "税务局欠税公告"),
            ]
        },
        expect=201,
    )
    async with signed_in(engine, regulator) as browser:
        text = html(await browser.get(f"/dashboard/merchants/{merchant_id}"))
    chart = re.search(r"<svg .*?</svg>", text, re.DOTALL)
    assert chart is not None
    assert len(re.findall(r'<circle class="point', chart.group())) == 4  # 3 changes + current
    assert chart.group().count('class="band ') == 5
    assert 'id="merchant-grade">E<' in text
    assert "42.0%" in text
    assert "失信被执行人" in text  # the reason and the override, in Chinese
    assert "+21.0 个百分点" in text
    assert "税务局欠税公告" in text  # the latest indicators with their provenance
    assert "¥12,345.00" in text
    assert "硬性风险记录" in text  # the hard-override warning the record raised
    assert "¥800.00" in text
    for kind in ("raise-custody-ratio", "suspend-sales", "declare-default"):
        assert f'id="m-{kind}"' in text
    assert text.count("data-confirm=") >= 3
    assert 'name="confirm" value="yes"' in text
    assert '<div class="progress" role="status"' in text  # shown while default is declared


async def test_measures_are_taken_with_errors_beside_the_fields(
    api: Api, engine: AsyncEngine
) -> None:
    here = district()
    shop = await shop_in(api, here)
    merchant_id = shop["merchant"]["id"]
    form = f"/dashboard/merchants/{merchant_id}/measures"
    regulator = await api.staff_user(Role.REGULATOR, here)
    async with signed_in(engine, regulator) as browser:
        blank = html(await browser.post(form, data={"kind": "suspend-sales", "reason": " "}))
        assert 'aria-describedby="suspend-sales-reason-error"' in blank
        assert "请说明理由" in blank
        assert "say why" not in blank  # no English on a Chinese page
        browser.cookies.set("lang", "en")
        english = html(await browser.post(form, data={"kind": "suspend-sales", "reason": " "}))
        assert "say why: a measure is recorded with its reason" in english
        browser.cookies.set("lang", "zh")
        low = html(
            await browser.post(
                form,
                data={
                    "kind": "raise-custody-ratio",
                    "reason": "风险上升",
                    "custody_ratio_pct": "20",
                },
            )
        )
        assert 'id="raise-custody-ratio-custody_ratio_pct-error"' in low
        assert "新的存管比例须高于当前的 3000 个基点" in low
        assert 'value="20"' in low  # what was typed is kept
        junk = html(
            await browser.post(
                form, data={"kind": "raise-custody-ratio", "reason": "x", "custody_ratio_pct": "x"}
            )
        )
        assert "0 到 100" in junk

        page = await redirected(
            browser,
            form,
            {"kind": "raise-custody-ratio", "reason": "风险上升", "custody_ratio_pct": "60"},
        )
        assert "已提高存管比例" in page
        assert 'id="custody-ratio">60%<' in page
        assert "30% → 60%" in page

        await redirected(browser, form, {"kind": "suspend-sales", "reason": "投诉集中"})
        twice = html(await browser.post(form, data={"kind": "suspend-sales", "reason": "再次"}))
        assert 'role="alert"' in twice
        assert "只有正常经营的商户才能被暂停售卡" in twice

        unconfirmed = html(
            await browser.post(form, data={"kind": "declare-default", "reason": "跑路"})
        )
        assert 'id="declare-default-confirm-error"' in unconfirmed
        assert "请勾选确认" in unconfirmed
        after = await redirected(
            browser, form, {"kind": "declare-default", "reason": "跑路", "confirm": "yes"}
        )
        assert "已宣告违约" in after
        assert "1 张卡，存管已付 ¥240.00" in after
        assert 'id="m-declare-default"' not in after  # nothing more to take
    history = await api.call("GET", f"/merchants/{merchant_id}/measures", shop["regulator"])
    assert [m["kind"] for m in history] == [
        "raise-custody-ratio",
        "suspend-sales",
        "declare-default",
    ]


async def test_warning_queue_acknowledge_assign_note_close(api: Api, engine: AsyncEngine) -> None:
    here = district()
    shop = await api.active_merchant(here)
    async with api.sessions() as session, session.begin():
        made = await raise_warning(
            session,
            uuid.UUID(shop["merchant"]["id"]),
            WarningRule.SALES_SURGE,
            "day:test",
            {"surge_pct": 400},
        )
    regulator = await api.staff_user(Role.REGULATOR, here)
    colleague = await api.staff_user(Role.REGULATOR, here)
    outsider = await api.staff_user(Role.REGULATOR, district())
    async with api.sessions() as session:
        colleague_id = await session.scalar(select(User.id).where(User.username == colleague))
    base = f"/dashboard/warnings/{made}"
    async with signed_in(engine, regulator) as browser:
        text = html(await browser.get("/dashboard/warnings"))
        assert f'id="w-{made}"' in text
        assert "售卡激增" in text
        assert colleague in text  # offered as an assignee
        assert outsider not in text
        assert (await redirected(browser, f"{base}/acknowledge")).count("已受理预警") == 1
        again = html(await browser.post(f"{base}/acknowledge"))
        assert "只有未处理的预警才能确认" in again
        unchosen = html(await browser.post(f"{base}/assign", data={"user_id": ""}))
        assert "请选择本辖区的监管人员" in unchosen
        await redirected(browser, f"{base}/assign", {"user_id": str(colleague_id)})
        empty = html(await browser.post(f"{base}/note", data={"text": ""}))
        assert 'aria-invalid="true"' in empty
        assert "备注为空" in empty
        await browser.post(f"{base}/note", data={"text": "已电话联系商户"})
        no_feedback = html(await browser.post(f"{base}/close", data={"feedback": ""}))
        assert "请说明发现了什么" in no_feedback
        await redirected(browser, f"{base}/close", {"feedback": "周年促销，无风险"})
        final = html(await browser.get("/dashboard/warnings", params={"status": "closed"}))
        assert "周年促销，无风险" in final
        assert "已电话联系商户" in final
    async with signed_in(engine, outsider) as browser:
        assert f'id="w-{made}"' not in html(await browser.get("/dashboard/warnings"))
        html(await browser.post(f"{base}/note", data={"text": "x"}), 404)


async def test_dispute_queue_shows_deadlines(api: Api, engine: AsyncEngine) -> None:
    here = district()
    shop = await shop_in(api, here)
    filed = await complain(
        api, shop["consumer"], shop["card"]["card_id"], "not_delivered", "店门关了", 80_000
    )
    regulator = await api.staff_user(Role.REGULATOR, here)
    async with signed_in(engine, regulator) as browser:
        text = html(await browser.get("/dashboard/disputes"))
        assert f'id="d-{filed["id"]}"' in text
        assert "店门关了" in text
        assert "未提供服务" in text
        assert "等待商户处理" in text  # the merchant answers first: no decide form yet
        assert f"/dashboard/disputes/{filed['id']}/decide" not in text
        overdue = html(await browser.get("/dashboard/disputes", params={"overdue": "true"}))
        assert f'id="d-{filed["id"]}"' not in overdue  # three days to answer: not late yet
        assert 'name="overdue" value="true" checked' in overdue
        early = html(
            await browser.post(
                f"/dashboard/disputes/{filed['id']}/decide",
                data={"decision": "reject", "text": "x"},
            )
        )
        assert "商户尚未答复" in early
    await api.call(
        "POST",
        f"/merchants/me/disputes/{filed['id']}/answer",
        shop["token"],
        json={"text": "正常营业"},
    )
    async with api.sessions() as session, session.begin():  # the regulator let it run late
        await session.execute(
            update(Dispute)
            .where(Dispute.id == uuid.UUID(filed["id"]))
            .values(deadline_at=utcnow() - timedelta(hours=1))
        )
    async with signed_in(engine, regulator) as browser:
        text = html(await browser.get("/dashboard/disputes", params={"overdue": "true"}))
        assert f"/dashboard/disputes/{filed['id']}/decide" in text
        assert '<tr class="late">' in text
        assert "已逾期" in text
        form = f"/dashboard/disputes/{filed['id']}/decide"
        no_amount = html(await browser.post(form, data={"decision": "partial", "text": "部分"}))
        assert "部分补偿须写明商户应付的金额" in no_amount
        bad_amount = html(
            await browser.post(form, data={"decision": "partial", "amount": "1.234", "text": "x"})
        )
        assert "120.50" in bad_amount
        await redirected(
            browser, form, {"decision": "partial", "amount": "100.50", "text": "部分补偿"}
        )
        after = html(await browser.get("/dashboard/disputes", params={"status": "decided"}))
        assert "¥100.50" in after


async def test_other_districts_and_roles_are_kept_out(api: Api, engine: AsyncEngine) -> None:
    shop = await api.active_merchant(district())
    merchant_id = shop["merchant"]["id"]
    outsider = await api.staff_user(Role.REGULATOR, district())
    async with signed_in(engine, outsider) as browser:
        text = html(await browser.get(f"/dashboard/merchants/{merchant_id}"), 404)
        assert shop["merchant"]["legal_name"] not in text
        html(
            await browser.post(
                f"/dashboard/merchants/{merchant_id}/measures",
                data={"kind": "suspend-sales", "reason": "x"},
            ),
            404,
        )
        html(await browser.get("/insurer-view"), 403)
        forged = await browser.post(
            f"/dashboard/merchants/{merchant_id}/measures",
            data={"kind": "suspend-sales", "reason": "x"},
            headers={"origin": "https://evil.example"},
        )
        assert forged.status_code == 403
    operator = await api.staff_user(Role.OPERATOR)
    async with signed_in(engine, operator) as browser:
        assert shop["merchant"]["legal_name"] in html(
            await browser.get(f"/dashboard/merchants/{merchant_id}")
        )
    account = await insurer(api)
    async with signed_in(engine, account.username) as browser:
        html(await browser.get("/dashboard"), 403)
    async with AsyncTestClient(app=create_app(engine)) as anonymous:
        away = await anonymous.get("/dashboard/warnings", follow_redirects=False)
        assert away.status_code in (302, 303, 307)
        assert away.headers["location"].startswith("/login?next=")


async def test_insurer_sees_exposure_and_settles_a_claim(api: Api, engine: AsyncEngine) -> None:
    account = await insurer(api)
    shop = await shop_in(api, district(), insurer_token=account.token)
    number = shop["merchant"]["policy_ref"]
    async with signed_in(engine, account.username) as browser:
        text = html(await browser.get("/insurer-view"))
        assert number in text
        assert 'id="total-exposure">¥560.00<' in text  # 70% of the ¥800 card
        assert "各评级承保风险敞口" in text  # the exposure by the merchant's grade, drawn
        assert 'data-value="56000"><title>NR · ¥560.00' in text
        # and over the last twelve months: this month's end holds the card's insured share
        month = today(utcnow()).month
        assert f'data-value="56000"><title>{month}月 · ¥560.00' in text
        assert text.count("月 · ¥0.00<") == 11  # nothing insured in the months before
        assert "暂无理赔" in text
        claim = (await declare_default(api, shop, "跑路"))["claim_id"]
        text = html(await browser.get("/insurer-view"))
        assert f'id="c-{claim}"' in text
        # still exposed: the card's insured share is now a claim the insurer has not paid
        assert 'id="total-exposure">¥560.00<' in text
        assert "逐卡明细 (1) · ¥560.00" in text  # collapsed, with its total
        assert text.count("¥560.00") >= 2  # the claim total and the card's insured share
        row = text.split(f'data-policy="{number}"')[1].split("</tr>")[0]
        assert "商户已违约：卡已转入理赔" in row  # not "active, ¥0"
        assert "已转入理赔" in row.split('class="num exposure"')[1]
        assert ">有效<" not in row
        early = html(
            await browser.post(f"/insurer-view/claims/{claim}/pay", data={"payment_ref": "x"})
        )
        assert "请先确认受理理赔，再支付" in early
        await redirected(browser, f"/insurer-view/claims/{claim}/acknowledge")
        blank = html(
            await browser.post(f"/insurer-view/claims/{claim}/pay", data={"payment_ref": " "})
        )
        assert 'aria-invalid="true"' in blank
        assert "请填写付款凭证号" in blank
        text = await redirected(
            browser, f"/insurer-view/claims/{claim}/pay", {"payment_ref": "TX-2026-0001"}
        )
        assert "已登记付款，理赔结案" in text
        assert 'data-status="closed"' in text
        assert "TX-2026-0001" in text
        assert 'id="total-exposure">¥0.00<' in html(await browser.get("/insurer-view"))
        log = html(await browser.get("/insurer-view/deliveries"))
        assert "claim.triggered" in log
        assert "claim.closed" in log
        html(await browser.get(f"/dashboard/merchants/{shop['merchant']['id']}"), 403)
    other = await insurer(api)
    async with signed_in(engine, other.username) as browser:
        text = html(await browser.get("/insurer-view"))
        assert number not in text
        html(await browser.post(f"/insurer-view/claims/{claim}/acknowledge"), 404)


def test_every_word_on_these_pages_has_both_languages() -> None:
    """Literal keys in the templates, and every value a key is built from, are defined."""
    templates = Path(__file__).parents[2] / "app" / "pages" / "templates"
    used: set[str] = set()
    for folder in ("regulator", "insurer"):
        for template in (templates / folder).glob("*.html"):
            used |= set(
                re.findall(r"""\b_\(\s*["']([a-zA-Z0-9_-]+)["']\s*[,)]""", template.read_text())
            )
    assert len(used) > 100  # the pattern found the templates' words
    families = {
        "r_mstatus_": MerchantStatus,
        "r_measure_": MeasureKind,
        "r_measure_help_": MeasureKind,
        "r_ask_": MeasureKind,
        "r_done_": MeasureKind,
        "r_wstatus_": WarningStatus,
        "r_rule_": WarningRule,
        "r_dstatus_": DisputeStatus,
        "r_owner_": DisputeOwner,
        "r_dkind_": DisputeKind,
        "r_step_": Step,
        "r_decision_": Decision,
        "r_override_": Override,
        "r_src_": Source,
        "i_cstatus_": ClaimStatus,
        "i_pstatus_": PolicyStatus,
        "i_estatus_": EventStatus,
    }
    for prefix, values in families.items():
        used |= {prefix + v.value for v in values}
    used |= {f"feature.{k.feature}" for k in CATALOGUE}
    missing = sorted(used - message_ids())
    assert not missing  # each has words in Chinese and in English


async def test_the_dispute_queue_filters_by_whose_move_and_pages(
    api: Api, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispute_pages, "QUEUE_ROWS", 2)  # three disputes make two pages
    here = district()
    shop = await shop_in(api, here)
    product = await api.call(
        "POST", "/merchants/me/products", shop["token"], json=STORED, expect=201
    )
    more = [await buy_registered(api, shop, product, shop["consumer"]) for _ in range(2)]
    cards = [shop["card"]["card_id"], *(order["card_id"] for _, order in more)]
    filed = [
        await complain(api, shop["consumer"], card, "not_delivered", f"第{n}单", 10_000)
        for n, card in enumerate(cards)
    ]
    answered = filed[0]["id"]  # the merchant answers one: its next move is the regulator's
    await api.call(
        "POST", f"/merchants/me/disputes/{answered}/answer", shop["token"], json={"text": "正常"}
    )
    regulator = await api.staff_user(Role.REGULATOR, here)
    async with signed_in(engine, regulator) as browser:
        mine = html(await browser.get("/dashboard/disputes", params={"owner": "regulator"}))
        assert "待我裁决" in mine
        assert '<option value="regulator" selected>' in mine
        assert f'id="d-{answered}"' in mine
        assert all(f'id="d-{d["id"]}"' not in mine for d in filed[1:])
        theirs = html(await browser.get("/dashboard/disputes", params={"owner": "merchant"}))
        assert f'id="d-{answered}"' not in theirs
        assert all(f'id="d-{d["id"]}"' in theirs for d in filed[1:])

        first = html(await browser.get("/dashboard/disputes"))
        second_link = re.search(r'rel="next" href="([^"]+)"', first)
        assert second_link, "two disputes a page, three in the queue: a next page"
        assert 'rel="prev"' not in first
        second = html(await browser.get(second_link.group(1).replace("&amp;", "&")))
        assert "第 2 页" in second
        assert 'rel="prev"' in second
        assert 'rel="next"' not in second
        shown = [d["id"] for d in filed if f'id="d-{d["id"]}"' in first + second]
        assert sorted(shown) == sorted(d["id"] for d in filed)  # each once, none lost
        assert not any(
            f'id="d-{d["id"]}"' in first and f'id="d-{d["id"]}"' in second for d in filed
        )
        html(await browser.get("/dashboard/disputes", params={"page": "0"}), 400)


async def test_the_cockpit_puts_what_needs_the_regulator_today_first(
    api: Api, engine: AsyncEngine
) -> None:
    here = district()
    shop = await shop_in(api, here)
    elsewhere = await shop_in(api, district())
    for who in (shop, elsewhere):
        filed = await complain(api, who["consumer"], who["card"]["card_id"], "quality", "差", 100)
        await api.call(
            "POST",
            f"/merchants/me/disputes/{filed['id']}/answer",
            who["token"],
            json={"text": "已处理"},
        )  # answered: the regulator's to decide
    async with api.sessions() as session, session.begin():
        for made, grades in ((1, ("B", "D")), (2, ("D", "C"))):
            session.add(
                RatingChange(
                    merchant_id=uuid.UUID(shop["merchant"]["id"]),
                    from_grade=grades[0],
                    to_grade=grades[1],
                    probability=0.2,
                    model_version="test-1",
                    cause="complaint filed",
                    changed_at=utcnow() - timedelta(days=made),
                )
            )
        await raise_warning(
            session,
            uuid.UUID(shop["merchant"]["id"]),
            WarningRule.SALES_SURGE,
            "day:cockpit",
            {"surge_pct": 400.0, "threshold_pct": 300.0},
        )
    regulator = await api.staff_user(Role.REGULATOR, here)
    async with signed_in(engine, regulator) as browser:
        text = html(await browser.get("/dashboard"))
    # first what needs her, counted in her district only; then the charts; then the table
    assert text.index('id="agenda"') < text.index('class="chart bars"')
    assert text.index('class="chart bars"') < text.index('id="total-merchants"')
    assert 'id="agenda-disputes-mine">1<' in text
    assert 'href="/dashboard/disputes?owner=regulator"' in text
    assert 'id="agenda-warnings">1<' in text
    assert "今日新增 1 · 1–3 天 0 · 超过 3 天 0" in text
    assert 'id="agenda-grades-down">1<' in text
    assert 'id="agenda-grades-up">1<' in text
    assert 'id="agenda-shortfalls">0<' in text
    assert text.count('class="chart bars"') == 4
    # the complaints of this month, and the money owed to consumers at the merchant's grade
    months = re.findall(r'<rect class="bar"[^>]*data-value="(\d+)"><title>(\d+)月 · \d+<', text)
    assert months[-1] == ("1", str(today(utcnow()).month))
    assert len(months) == 12
    assert 'data-value="80000"><title>NR · ¥800.00' in text
    # what consumers could ask back at each month's end: the card sold this month
    owed = re.findall(r'<rect class="bar"[^>]*data-value="(\d+)"><title>(\d+)月 · ¥', text)
    assert len(owed) == 12
    assert owed[-1] == ("80000", str(today(utcnow()).month))
