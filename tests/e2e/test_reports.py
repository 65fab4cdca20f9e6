"""District reports over HTTP: a small district lived on a manual clock over two years, its
quarterly report read as JSON, on the page, as XLSX, PDF and the dashboard's CSVs.

Every figure is computed by hand from what the test did; the workbook's figures are compared
with the page's, to the fen; bad periods and districts out of reach are refused."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import openpyxl
import pypdf
import pytest

from app.auth.models import Role
from app.clock import SHANGHAI, ManualClock, use_clock
from app.i18n import gettext
from app.reports.exports import sheet_name
from app.risk.models import RatingChange
from app.supervision.disputes import escalate_overdue
from app.supervision.models import WarningRule
from app.supervision.warnings import raise_warning
from tests.e2e.api import (
    SESSIONS,
    STORED,
    Api,
    add_rating,
    buy_registered,
    complain,
    declare_default,
)
from tests.e2e.test_pages_regulator import html, signed_in

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.ext.asyncio import AsyncEngine

YEAR_BEFORE = datetime(2029, 5, 10, 10, tzinfo=SHANGHAI)
SALES = datetime(2030, 5, 5, 10, tzinfo=SHANGHAI)
LATE = SALES + timedelta(days=5)
PAID = LATE + timedelta(days=3)
READ = datetime(2030, 7, 3, 10, tzinfo=SHANGHAI)
PERIOD = "2030-Q2"


def district() -> str:
    return f"测试区-{uuid.uuid4().hex[:8]}"


def fen_of(said: str) -> int:
    """¥4,840.00 as fen."""
    digits = re.sub(r"[^\d.\-]", "", said)
    whole, _, cents = digits.partition(".")
    return int(whole) * 100 + int((cents + "00")[:2])


async def settle(api: Api, shop: dict[str, Any], consumer: str, dispute_id: str) -> None:
    """The merchant answers, the regulator rejects, the consumer confirms: closed."""
    await api.call(
        "POST",
        f"/merchants/me/disputes/{dispute_id}/answer",
        shop["token"],
        json={"text": "已经沟通"},
    )
    await api.call(
        "POST",
        f"/disputes/{dispute_id}/decide",
        shop["regulator"],
        json={"decision": "reject", "text": "不支持"},
    )
    await api.call("POST", f"/me/disputes/{dispute_id}/confirm", consumer)


async def product(api: Api, shop: dict[str, Any], body: dict[str, Any]) -> Any:
    return await api.call("POST", "/merchants/me/products", shop["token"], json=body, expect=201)


@pytest.fixture
def lived(env: Callable[..., None]) -> None:
    # the tokens signed in a year earlier are used again a year later
    env(PGUARD_TOKEN_TTL_MINUTES=str(3 * 365 * 24 * 60))


async def a_district(api: Api) -> dict[str, Any]:
    """Two merchants of two industries lived from May 2029 to July 2030 (see the module)."""
    here = district()
    clock = ManualClock(YEAR_BEFORE)
    with use_clock(clock):
        insurer = await api.new_insurer()
        gym = await api.active_merchant(here, insurer_token=insurer.token)
        stored = await product(api, gym, STORED)
        lessons = await product(api, gym, SESSIONS)
        early, bought = await buy_registered(api, gym, stored)  # ¥800 in May 2029
        await complain(api, early, bought["card_id"], "quality", "服务差", 100)

        clock.set(SALES)
        school = await api.active_merchant(here, industry="education")
        school_stored = await product(api, school, STORED)
        school_lessons = await product(api, school, SESSIONS)
        c1, card_a = await buy_registered(api, gym, stored)
        c2, card_b = await buy_registered(api, gym, lessons)
        c3, card_c = await buy_registered(api, school, school_stored)
        await buy_registered(api, school, school_lessons)
        refunded = await api.call(
            "POST",
            f"/me/cards/{card_c['card_id']}/refund",
            c3,
            json={"reason": "不想要了"},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert refunded["paid_from_custody"] == 24_000
        on_time = await complain(api, c1, card_a["card_id"], "quality", "教练迟到", 100)
        await settle(api, gym, c1, on_time["id"])
        late = await complain(api, c2, card_b["card_id"], "not_delivered", "课没上", 100)
        await add_rating(api, gym["merchant"]["id"], [], grade="D", model_grade="D")
        async with api.sessions() as session, session.begin():
            session.add(
                RatingChange(
                    merchant_id=uuid.UUID(gym["merchant"]["id"]),
                    from_grade=None,
                    to_grade="D",
                    probability=0.21,
                    model_version="test-1",
                    cause="test",
                    changed_at=SALES,
                )
            )

        clock.set(LATE)  # the gym missed its answer: escalated, then closed late
        async with api.sessions() as session, session.begin():
            assert await escalate_overdue(session, LATE) >= 1
        await settle(api, gym, c2, late["id"])
        async with api.sessions() as session, session.begin():
            surge = await raise_warning(
                session,
                uuid.UUID(school["merchant"]["id"]),
                WarningRule.SALES_SURGE,
                f"report-test-{uuid.uuid4().hex}",
                {"surge_pct": 400.0, "threshold_pct": 300.0},
            )
            assert surge is not None
            surge_id = surge
        await api.call("POST", f"/warnings/{surge_id}/acknowledge", school["regulator"])
        await api.call(
            "POST",
            f"/merchants/{school['merchant']['id']}/measures",
            school["regulator"],
            json={"kind": "suspend-sales", "reason": "销售异常"},
            expect=201,
        )
        await declare_default(api, gym, "老板失联")

        clock.set(PAID)  # the insurer pays the default's claim three days on
        claims = await api.call("GET", "/insurer/claims", insurer.token)
        (claim,) = [c for c in claims if c["merchant_id"] == gym["merchant"]["id"]]
        await api.call("POST", f"/insurer/claims/{claim['id']}/acknowledge", insurer.token)
        await api.call(
            "POST",
            f"/insurer/claims/{claim['id']}/pay",
            insurer.token,
            json={"payment_ref": "PAY-R1"},
        )
        hot = await api.call(
            "GET", f"/reports/dashboard/hot_spots.csv?district={here}", gym["regulator"]
        )
    return {"here": here, "gym": gym, "school": school, "hot": hot.content}


def figures(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v["value"] for k, v in report["figures"].items()}


def hand_counted(report: dict[str, Any]) -> None:
    """The figures of the quarter, and of the same quarter a year before, counted by hand."""
    got = figures(report)
    # by hand: A ¥800 + B ¥3,000 at the gym, C ¥800 (refunded) + D ¥3,000 at the school
    assert got["merchants"] == 2
    assert got["cards_sold"] == 4
    assert got["prepaid_fen"] == 760_000
    # paid back: C's custody share at its refund, then the gym's default: custody of A, B
    # and the 2029 card at once, their insured shares by the claim
    assert got["paid_back_fen"] == 24_000 + 460_000
    # left at the quarter's end: D only (the school owes C's refund beyond custody)
    assert got["outstanding_fen"] == 300_000
    assert got["custody_fen"] == 90_000
    assert got["insured_fen"] == 210_000
    assert got["exposure_fen"] == 210_000 + 56_000
    assert got["coverage_bp"] == 3000
    assert got["complaints_received"] == 2
    assert got["complaints_resolved"] == 2
    assert got["complaints_on_time"] == 1
    assert got["on_time_bp"] == 5000
    assert got["median_days_to_close"] == 2.5
    assert got["defaults"] == 1
    assert got["claims_paid"] == 1
    assert got["claims_paid_fen"] == 56_000 + 210_000 + 56_000
    assert got["median_days_to_pay"] == 3.0
    # the same quarter of 2029: the gym alone, one card, one complaint still open
    before = {k: v["year_before"] for k, v in report["figures"].items()}
    assert before["merchants"] == 1
    assert before["cards_sold"] == 1
    assert before["prepaid_fen"] == 80_000
    assert before["outstanding_fen"] == 80_000
    assert before["complaints_received"] == 1
    assert before["complaints_resolved"] == 0
    change = {k: v["change_bp"] for k, v in report["figures"].items()}
    assert change["cards_sold"] == 30_000
    assert change["prepaid_fen"] == 85_000
    assert change["complaints_received"] == 10_000
    assert change["complaints_resolved"] is None


def tables_hand_counted(report: dict[str, Any]) -> None:
    """The report's tables, as the test made them."""
    got = figures(report)
    tables = report["tables"]
    grades = {r["industry"]: r for r in tables["merchants_by_grade"]["rows"]}
    assert grades["fitness"]["grade_D"] == 1
    assert grades["education"]["grade_NR"] == 1
    warned = {r["rule"]: r for r in tables["warnings"]["rows"]}
    assert warned["sales-surge"]["warnings_acknowledged"] == 1
    # both the late complaint and the one of 2029, still unanswered, were escalated
    assert warned["dispute-overdue"]["warnings_raised"] == 2
    assert warned["dispute-overdue"]["warnings_open"] == 2
    taken = {r["measure"]: r["measures_taken"] for r in tables["measures"]["rows"]}
    assert taken["suspend-sales"] == 1
    assert taken["declare-default"] == 1
    (claim,) = tables["claims_paid"]["rows"]
    assert (claim["triggered_on"], claim["paid_on"], claim["days_to_pay"]) == (
        "2030-05-10",
        "2030-05-13",
        3,
    )
    money = {r["industry"]: r for r in tables["money_by_industry"]["rows"]}
    assert money["education"]["prepaid_fen"] == 380_000
    assert tables["money_by_industry"]["total"]["outstanding_fen"] == 300_000
    trend = tables["trend"]["rows"]
    assert [r["month"] for r in trend][-3:] == ["2030-04", "2030-05", "2030-06"]
    assert trend[-2]["complaints_received"] == 2
    assert trend[-1]["outstanding_fen"] == got["outstanding_fen"]


async def test_the_quarter_in_figures_json_page_workbook_and_pdf(
    api: Api, engine: AsyncEngine, lived: None
) -> None:
    lived_in = await a_district(api)
    here, gym = lived_in["here"], lived_in["gym"]
    with use_clock(ManualClock(READ)):
        report = await api.call("GET", f"/reports/district?period={PERIOD}", gym["regulator"])
        assert report["district"] == here
        assert report["year_before"] == "2029-Q2"
        got = figures(report)
        hand_counted(report)
        tables_hand_counted(report)

        # the page shows the same figures; the workbook the page links to, too, to the fen
        async with signed_in(engine, gym["regulator_username"]) as browser:
            text = html(await browser.get(f"/dashboard/reports?period={PERIOD}"))
            xlsx = await browser.get(f"/reports/district.xlsx?period={PERIOD}&lang=zh")
            pdf = await browser.get(f"/reports/district.pdf?period={PERIOD}&lang=zh")
    shown = dict(
        re.findall(
            r'<tr data-figure="(\w+)"><th scope="row">[^<]*</th><td class="num"'
            r' data-value="[^"]*">([^<]*)</td>',
            text,
        )
    )
    for key in ("prepaid_fen", "paid_back_fen", "outstanding_fen", "custody_fen", "insured_fen"):
        assert fen_of(shown[key]) == got[key], key
    assert shown["on_time_bp"] == "50%"
    assert f"/reports/district.xlsx?period={PERIOD}" in text
    assert f"/reports/district.pdf?period={PERIOD}" in text
    assert "2030年第2季度" in text

    assert xlsx.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    summary = book[sheet_name(gettext("zh", "rp_sheet_summary"))]
    in_sheet = {row[0]: row[1] for row in summary.iter_rows(min_row=6, values_only=True) if row[0]}
    for key in ("prepaid_fen", "paid_back_fen", "outstanding_fen", "custody_fen", "insured_fen"):
        label = gettext("zh", f"rp_fig_{key}")
        assert round(float(in_sheet[label]) * 100) == fen_of(shown[key]), key
    assert in_sheet[gettext("zh", "rp_fig_cards_sold")] == int(shown["cards_sold"])
    money_sheet = book[sheet_name(gettext("zh", "rp_table_money_by_industry"))]
    rows = list(money_sheet.iter_rows(values_only=True))
    assert rows[-1][0] == "合计"
    column = rows[0].index(gettext("zh", "rp_col_outstanding_fen"))
    assert round(float(rows[-1][column]) * 100) == fen_of(shown["outstanding_fen"])

    assert pdf.status_code == 200
    reader = pypdf.PdfReader(io.BytesIO(pdf.content))
    assert len(reader.pages) >= 2
    words = "".join(page.extract_text() for page in reader.pages)
    assert here in words
    assert "2030年第2季度" in words
    for key in ("prepaid_fen", "outstanding_fen", "claims_paid_fen"):
        assert shown[key] in words, key


async def test_the_dashboard_csvs_follow_the_filters(
    api: Api, engine: AsyncEngine, lived: None
) -> None:
    lived_in = await a_district(api)
    here = lived_in["here"]
    hot = list(csv.DictReader(io.StringIO(lived_in["hot"].decode("utf-8-sig"))))
    assert [(r["industry"], r["complaints_30d"], r["complaints_before"]) for r in hot] == [
        ("fitness", "2", "0")
    ]
    with use_clock(ManualClock(READ)):
        city = await api.staff(Role.REGULATOR)

        async def table(name: str, query: str) -> list[dict[str, str]]:
            got = await api.call("GET", f"/reports/dashboard/{name}.csv?{query}", city)
            assert got.headers["content-type"].startswith("text/csv")
            return list(csv.DictReader(io.StringIO(got.content.decode("utf-8-sig"))))

        matrix = await table("matrix", f"district={here}")
        assert [(r["district"], r["industry"], r["merchants"]) for r in matrix[:-1]] == [
            (here, "education", "1"),
            (here, "fitness", "1"),
        ]
        assert matrix[-1]["district"] == "total"
        assert matrix[0]["industry_name"] == "教育培训"
        assert matrix[0]["outstanding_fen"] == "300000"
        only = await table("matrix", f"district={here}&industry=fitness")
        assert [r["industry"] for r in only[:-1]] == ["fitness"]
        graded = await table("merchants", f"district={here}&grade=D")
        assert [r["uscc"] for r in graded[:-1]] == [lived_in["gym"]["merchant"]["uscc"]]
        english = await table("matrix", f"district={here}&lang=en")
        assert english[0]["industry_name"] == "Education and training"
        await api.call("GET", "/reports/dashboard/secrets.csv", city, expect=404)
        await api.call("GET", "/reports/dashboard/matrix.csv?grade=Z", city, expect=422)

        # the dashboard page shows the matrix and the hot spots, and links to the CSVs
        regulator = lived_in["gym"]["regulator_username"]
        async with signed_in(engine, regulator) as browser:
            page = html(await browser.get("/dashboard?industry=fitness"))
    assert 'id="matrix"' in page
    assert f'data-district="{here}"' in page
    assert 'data-industry="fitness" data-merchants="1"' in page
    assert 'data-industry="education"' not in page.split('id="matrix"')[1].split("</table>")[0]
    assert 'id="hot-spots"' in page
    link = f"/reports/dashboard/matrix.csv?{urlencode({'district': here, 'industry': 'fitness'})}"
    assert link.replace("&", "&amp;") in page


async def test_bad_periods_and_districts_out_of_reach_are_refused(
    api: Api, engine: AsyncEngine
) -> None:
    here = district()
    shop = await api.active_merchant(here)
    other = await api.active_merchant(district())
    mine = await api.call("GET", "/reports/district?period=2026-01", shop["regulator"])
    for bad, code in (
        ("2026-13", "report-period-invalid"),
        ("2026-Q5", "report-period-invalid"),
        ("26-1", "report-period-invalid"),
        ("2999-01", "report-period-future"),
    ):
        refused = await api.call(
            "GET", f"/reports/district?period={bad}", shop["regulator"], expect=422
        )
        assert refused["type"] == f"/problems/{code}"
        assert refused["errors"][0]["field"] == "period"
    elsewhere = other["merchant"]["district"]
    hidden = await api.call(
        "GET", f"/reports/district?district={elsewhere}", shop["regulator"], expect=404
    )
    assert hidden["type"] == "/problems/report-district-not-found"
    await api.call(
        "GET", f"/reports/district.xlsx?district={elsewhere}", shop["regulator"], expect=404
    )
    city = await api.staff(Role.REGULATOR)
    await api.call("GET", "/reports/district?district=没有这个区", city, expect=404)
    theirs = await api.call("GET", f"/reports/district?district={elsewhere}", city)
    assert theirs["district"] == elsewhere
    whole = await api.call("GET", "/reports/district", city)
    assert whole["district"] is None
    assert "money_by_district" in whole["tables"]
    # refusals changed nothing
    again = await api.call("GET", "/reports/district?period=2026-01", shop["regulator"])
    assert again["figures"] == mine["figures"]
    # a merchant or a consumer gets no report
    await api.call("GET", "/reports/district", shop["token"], expect=403)
    # on the page, the words are beside the picker, in either language
    async with signed_in(engine, shop["regulator_username"]) as browser:
        zh = html(await browser.get("/dashboard/reports?period=2026-13"))
        en = html(await browser.get("/dashboard/reports?period=2026-Q5&lang=en"))
        gone = await browser.get(f"/dashboard/reports?district={elsewhere}")
    assert 'id="period-error"' in zh
    assert "2026-13" in zh
    assert "write a month as 2026-11" in en
    assert gone.status_code == 404
