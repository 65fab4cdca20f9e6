"""Risk over HTTP and the CLI: ingestion, live ratings with reasons, history, drift, roles.

These tests run on a database of their own: activating a model there rates every merchant,
which must not reach the other tests' merchants.
"""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from app.auth.models import Role
from app.clock import today
from app.db import create_engine, session_factory
from app.risk.models import IndicatorRecord, Rating, RatingChange
from app.risk.service import add_model
from tests.e2e.api import ID, STORED, Api, buy, counter_of, new_uscc
from tests.e2e.background import WorkerThread, api_on, live_model, rating_when, record

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from tests.conftest import Databases


@pytest.fixture(scope="module")
def risk_url(databases: Databases) -> str:
    return databases.create()


@pytest.fixture(scope="module")
async def risk_engine(risk_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(risk_url, pool_size=10, max_overflow=20)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
def worker(risk_url: str) -> Iterator[WorkerThread]:
    # Woken by the queue's NOTIFY alone: its polls are ten minutes apart, so every live
    # re-rating in this module shows that the LISTEN path works.
    with WorkerThread(risk_url, interval=600, fallback=600) as running:
        yield running


@pytest.fixture
async def rapi(risk_engine: AsyncEngine, worker: WorkerThread) -> AsyncIterator[Api]:
    assert worker.thread.is_alive()
    async with api_on(risk_engine) as api:
        yield api


@pytest.fixture(scope="module")
async def active_model(risk_engine: AsyncEngine) -> str:
    async with session_factory(risk_engine)() as session, session.begin():
        version, _ = await add_model(session, live_model(), activate=True, by=None)
    return version


async def _records(sessions: async_sessionmaker[AsyncSession], merchant_id: str) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(IndicatorRecord)
            .where(IndicatorRecord.merchant_id == uuid.UUID(merchant_id))
        )
    return int(count or 0)


async def test_api_batch_is_all_or_nothing_by_default_and_reports_lines(rapi: Api) -> None:
    shop = await rapi.active_merchant()
    uscc = shop["merchant"]["uscc"]
    mid = shop["merchant"]["id"]
    operator = await rapi.staff(Role.OPERATOR)
    day = today() - timedelta(days=3)
    bad_code = uscc[:17] + ("0" if uscc[17] != "0" else "1")
    records = [
        record(uscc, "tax", "arrears_fen", 120_000, day),
        record(new_uscc(), "tax", "arrears_fen", 5, day),  # valid code, not a merchant
        record(bad_code, "tax", "arrears_fen", 5, day),  # check character wrong
        record(uscc, "tax", "arrears", 5, day),  # no such kind
        record(uscc, "tax", "filing_gap_months", "three", day),  # not a number
        record(uscc, "court", "dishonest_debtor", True, today() + timedelta(days=2)),  # future
        record(uscc, "bank", "frozen", False, day, provenance=" "),  # no provenance
    ]
    refused = await rapi.call(
        "POST", "/indicators", operator, json={"records": records}, expect=422
    )
    assert refused["type"].endswith("indicators-refused")
    assert [e["line"] for e in refused["errors"]] == [3, 4, 5, 6, 7]
    assert "check character" in refused["errors"][0]["reason"]
    assert "no kind 'arrears'" in refused["errors"][1]["reason"]
    assert "expects a number" in refused["errors"][2]["reason"]
    assert "future" in refused["errors"][3]["reason"]
    assert "provenance" in refused["errors"][4]["reason"]
    assert await _records(rapi.sessions, mid) == 0

    body = {"records": records, "on_error": "skip"}
    taken = await rapi.call("POST", "/indicators", operator, json=body, expect=201)
    assert (taken["accepted"], taken["duplicates"], taken["unknown"], taken["malformed"]) == (
        1,
        0,
        1,
        5,
    )
    assert [(r["line"], r["problem"]) for r in taken["rejections"]] == [
        (2, "unknown"),
        (3, "malformed"),
        (4, "malformed"),
        (5, "malformed"),
        (6, "malformed"),
        (7, "malformed"),
    ]
    again = await rapi.call("POST", "/indicators", operator, json=body, expect=200)
    assert again["replayed"] is True
    assert again["import_id"] == taken["import_id"]
    assert await _records(rapi.sessions, mid) == 1

    # The same record in another batch is a duplicate, not a second fact.
    overlap = {"records": [records[0], record(uscc, "tax", "filing_gap_months", 2, day)]}
    more = await rapi.call("POST", "/indicators", operator, json=overlap, expect=201)
    assert (more["accepted"], more["duplicates"]) == (1, 1)
    assert await _records(rapi.sessions, mid) == 2


async def test_bad_payloads_and_callers_are_refused(rapi: Api) -> None:
    shop = await rapi.active_merchant()
    operator = await rapi.staff(Role.OPERATOR)
    day = (today() - timedelta(days=1)).isoformat()
    record = {"uscc": shop["merchant"]["uscc"], "source": "tax", "kind": "arrears_fen"}
    record |= {"value": 1, "as_of": day, "provenance": "x"}
    for payload in (
        {"records": []},
        {"records": [{**record, "colour": "red"}]},
        {"records": [record], "on_error": "maybe"},
        {"records": [{**record, "value": None}]},
        [record],
    ):
        problem = await rapi.call("POST", "/indicators", operator, json=payload, expect=400)
        assert problem["title"] == "The request is not valid"
    await rapi.call("POST", "/indicators", shop["token"], json={"records": [record]}, expect=403)
    await rapi.call(
        "POST", "/indicators", shop["regulator"], json={"records": [record]}, expect=403
    )
    await rapi.call("POST", "/indicators", json={"records": [record]}, expect=401)
    consumer = await rapi.consumer()
    await rapi.call("POST", "/indicators", consumer, json={"records": [record]}, expect=403)
    assert await _records(rapi.sessions, shop["merchant"]["id"]) == 0


async def _pguard(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``pguard`` without blocking the event loop the app's worker runs on."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def _import(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await _pguard(env, "scoring", "import", *args)


async def test_csv_import_refuses_or_skips_malformed_rows_and_never_imports_twice(
    rapi: Api, risk_url: str, cli_env: Callable[[str], dict[str, str]], tmp_path: Path
) -> None:
    shop = await rapi.active_merchant()
    uscc, mid = shop["merchant"]["uscc"], shop["merchant"]["id"]
    day = (today() - timedelta(days=10)).isoformat()
    path = tmp_path / "tax.csv"
    path.write_text(
        "uscc,kind,value,as_of,provenance\n"
        f"{uscc},arrears_fen,250000,{day},tax bureau 2026-11\n"
        f"{uscc},filing_gap_months,two,{day},tax bureau 2026-11\n"
        f"{new_uscc()},arrears_fen,1,{day},tax bureau 2026-11\n"
        f"{uscc},filing_gap_months,2,{day},tax bureau 2026-11\n",
        encoding="utf-8",
    )
    env = cli_env(risk_url)
    refused = await _import(env, "tax", str(path))
    assert refused.returncode == 1, refused
    assert "line 3: malformed" in refused.stderr
    assert "nothing was imported" in refused.stderr
    assert await _records(rapi.sessions, mid) == 0

    taken = await _import(env, "tax", str(path), "--skip-bad")
    assert taken.returncode == 0, taken
    assert "accepted=2 duplicates=0 unknown=1 malformed=1" in taken.stdout
    assert "line 4: unknown" in taken.stderr
    again = await _import(env, "tax", str(path), "--skip-bad")
    assert again.returncode == 0, again
    assert "already imported" in again.stdout
    assert await _records(rapi.sessions, mid) == 2

    wrong_source = await _import(env, "court", str(path), "--skip-bad")
    assert wrong_source.returncode == 0
    assert "accepted=0" in wrong_source.stdout
    assert "court has no kind 'arrears_fen'" in wrong_source.stderr

    for content, message in (
        (b"\x00\x01binary", "binary file"),
        (b"uscc,kind\n1,2\n", "needs the column(s) value, as_of, provenance"),
        ("uscc,kind,value,as_of,provenance\n".encode("utf-16"), "binary file"),
        (b"uscc,kind,value,as_of,provenance\n", "no records"),
    ):
        bad = tmp_path / "bad.csv"
        bad.write_bytes(content)
        result = await _import(env, "tax", str(bad))
        assert result.returncode == 1
        assert message in result.stderr, result.stderr
    missing = await _import(env, "tax", str(tmp_path / "none.csv"))
    assert missing.returncode == 1
    assert "none.csv: No such file or directory" in missing.stderr


async def test_a_new_record_re_rates_the_merchant_with_reasons_and_history(
    rapi: Api, active_model: str
) -> None:
    shop = await rapi.active_merchant("西湖区")
    uscc, mid = shop["merchant"]["uscc"], shop["merchant"]["id"]
    regulator = shop["regulator"]
    operator = await rapi.staff(Role.OPERATOR)
    day = today() - timedelta(days=20)
    clean = [
        record(uscc, "registration", "age_years", 6, day),
        record(uscc, "tax", "arrears_fen", 0, day),
        record(uscc, "tax", "filing_gap_months", 0, day),
        record(uscc, "court", "enforcement_cases", 0, day),
        record(uscc, "court", "dishonest_debtor", False, day),
        record(uscc, "social_security", "contribution_gap_months", 0, day),
        record(uscc, "social_security", "headcount", 12, day),
    ]
    await rapi.call("POST", "/indicators", operator, json={"records": clean}, expect=201)
    first = await rating_when(
        rapi, regulator, mid, lambda r: r["cause"].startswith("indicator registration/")
    )
    assert first["model_version"] == active_model
    total = first["reference_probability"] + sum(first["contributions"].values())
    assert math.isclose(total, first["probability"], abs_tol=1e-9)
    assert first["overrides"] == []

    listed = record(uscc, "court", "dishonest_debtor", True, today() - timedelta(days=1))
    worse = await rapi.call("POST", "/indicators", operator, json={"records": [listed]}, expect=201)
    assert worse["accepted"] == 1
    rated = await rating_when(rapi, regulator, mid, lambda r: r["overrides"] != [])
    assert rated["overrides"] == ["dishonest-debtor"]
    assert rated["grade"] in ("D", "E")
    last = rated["history"][-1]
    assert last["cause"] == "indicator court/dishonest_debtor"
    async with rapi.sessions() as session:
        record_id = await session.scalar(
            select(IndicatorRecord.id).where(
                IndicatorRecord.merchant_id == uuid.UUID(mid),
                IndicatorRecord.kind == "dishonest_debtor",
                IndicatorRecord.as_of == today() - timedelta(days=1),
            )
        )
    assert last["cause_ref"] == str(record_id)
    if first["grade"] != rated["grade"]:
        assert last["from_grade"] == first["grade"]
        assert last["to_grade"] == rated["grade"]
    # Every reason names the record its value came from.
    for reason in rated["reasons"]:
        assert reason["contribution"] > 0
        if reason["value"] is not None:
            assert reason["record"]["source"] in reason["feature"]
    assert math.isclose(
        rated["reference_probability"] + sum(rated["contributions"].values()),
        rated["probability"],
        abs_tol=1e-9,
    )

    # A dishonest debtor is E: the counter code refuses to take money until a regulator has
    # reviewed it; then the counter QR profile and the merchant's own view show the same grade.
    assert rated["grade"] == "E"
    counter = await counter_of(rapi, shop["token"])
    held = await rapi.call("GET", counter.path, expect=403)
    assert "review" in held["detail"]
    await rapi.call(
        "POST",
        f"/merchants/{mid}/measures",
        regulator,
        json={"kind": "lift-suspension", "reason": "reviewed: the judgment is being paid"},
        expect=201,
    )
    profile = await rapi.call("GET", counter.path)
    assert profile["risk_grade"] == rated["grade"]
    own = await rapi.call("GET", "/merchants/me/rating", shop["token"])
    assert own["grade"] == rated["grade"]
    assert [r["feature"] for r in own["reasons"]] == [r["feature"] for r in rated["reasons"]]
    assert "probability" not in own


async def test_a_sale_re_rates_the_merchant_from_the_platform_s_own_sales(
    rapi: Api, active_model: str
) -> None:
    shop = await rapi.active_merchant("西湖区")
    mid = shop["merchant"]["id"]
    regulator = shop["regulator"]
    product = await rapi.call(
        "POST", "/merchants/me/products", shop["token"], json=STORED, expect=201
    )
    consumer = await rapi.consumer()
    counter = await counter_of(rapi, shop["token"])
    await buy(rapi, counter, product, consumer, **ID)
    rated = await rating_when(rapi, regulator, mid, lambda r: r["cause"] == "card sold")
    assert rated["model_version"] == active_model
    async with rapi.sessions() as session:
        discount = await session.scalar(
            select(IndicatorRecord.value).where(
                IndicatorRecord.merchant_id == uuid.UUID(mid),
                IndicatorRecord.kind == "max_discount_pct",
                IndicatorRecord.provenance == "platform:sales",
            )
        )
    assert discount == 20


async def test_ratings_are_for_supervisors_within_their_district(
    rapi: Api, active_model: str
) -> None:
    east = await rapi.active_merchant("上城区")
    west = await rapi.active_merchant("西湖区")
    for shop in (east, west):
        await rating_when(rapi, shop["regulator"], shop["merchant"]["id"], lambda _: True)
    east_regulator = east["regulator"]
    mine = await rapi.call("GET", "/ratings", east_regulator, params={"limit": 1000})
    districts = {row["district"] for row in mine}
    assert districts == {"上城区"}
    assert east["merchant"]["id"] in {row["merchant_id"] for row in mine}
    await rapi.call("GET", f"/ratings/{west['merchant']['id']}", east_regulator, expect=404)
    outside = await rapi.call(
        "GET", "/ratings", east_regulator, params={"district": "西湖区"}, expect=422
    )
    assert "you supervise district 上城区" in outside["detail"]
    operator = await rapi.staff(Role.OPERATOR)
    everyone = await rapi.call("GET", "/ratings", operator, params={"limit": 1000})
    assert {"上城区", "西湖区"} <= {row["district"] for row in everyone}
    rated = [(row["grade"], row["probability"]) for row in everyone if row["grade"] != "NR"]
    assert rated == sorted(rated, reverse=True)  # worst grade first, then probability
    graded = await rapi.call("GET", "/ratings", operator, params={"grade": ["A", "B"]})
    assert all(row["grade"] in ("A", "B") for row in graded)
    bad = await rapi.call("GET", "/ratings", operator, params={"grade": "F"}, expect=422)
    assert "there is no grade F" in bad["detail"]
    for paging in ({"limit": 0}, {"limit": 1001}, {"offset": -1}):
        await rapi.call("GET", "/ratings", operator, params=paging, expect=400)

    # Merchants, consumers and insurers never see the regulator's view.
    insurer = await rapi.staff(Role.INSURER)
    consumer = await rapi.consumer()
    for token in (east["token"], insurer, consumer):
        await rapi.call("GET", "/ratings", token, expect=403)
        await rapi.call("GET", f"/ratings/{east['merchant']['id']}", token, expect=403)
    await rapi.call("GET", "/ratings", expect=401)
    # A merchant sees its own grade, and only through its own route.
    own = await rapi.call("GET", "/merchants/me/rating", west["token"])
    assert own["grade"] in "ABCDE"
    await rapi.call("GET", "/merchants/me/rating", insurer, expect=403)


async def test_drift_compares_two_days_and_refuses_a_backwards_range(
    rapi: Api, active_model: str
) -> None:
    shop = await rapi.active_merchant("滨江区")
    operator = await rapi.staff(Role.OPERATOR)
    uscc = shop["merchant"]["uscc"]
    early, late = today() - timedelta(days=60), today() - timedelta(days=5)
    records = [
        record(uscc, "tax", "arrears_fen", 0, early - timedelta(days=1)),
        record(uscc, "tax", "arrears_fen", 9_000_000, late - timedelta(days=1)),
    ]
    await rapi.call("POST", "/indicators", operator, json={"records": records}, expect=201)
    report = await rapi.call(
        "GET",
        "/ratings/drift",
        operator,
        params={"expected": early.isoformat(), "actual": late.isoformat()},
    )
    assert report["model_version"] == active_model
    assert report["score"]["name"] == "score"
    assert report["score"]["flag"] in ("stable", "investigate", "act")
    names = [f["name"] for f in report["features"]]
    assert "tax_arrears_fen" in names
    arrears = report["features"][names.index("tax_arrears_fen")]
    assert arrears["psi"] > 0
    backwards = {"expected": late.isoformat(), "actual": early.isoformat()}
    await rapi.call("GET", "/ratings/drift", operator, params=backwards, expect=422)
    await rapi.call("GET", "/ratings/drift", shop["token"], params=backwards, expect=403)


async def test_rerate_all_command_and_refused_model_files(
    rapi: Api,
    active_model: str,
    risk_url: str,
    cli_env: Callable[[str], dict[str, str]],
    tmp_path: Path,
) -> None:
    await rapi.active_merchant()
    result = await _pguard(cli_env(risk_url), "scoring", "rerate-all")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("merchants re-rated")
    async with rapi.sessions() as session:
        merchants = await session.scalar(select(func.count()).select_from(Rating))
        scheduled = await session.scalar(
            select(func.count()).select_from(Rating).where(Rating.cause == "scheduled re-rating")
        )
        changes = await session.scalar(select(func.count()).select_from(RatingChange))
    assert merchants == scheduled
    assert int(changes or 0) >= int(merchants or 0)

    tampered = bytearray(live_model())
    tampered[len(tampered) // 2] ^= 0xFF
    path = tmp_path / "tampered.pgm"
    path.write_bytes(bytes(tampered))
    refused = await _pguard(cli_env(risk_url), "scoring", "activate", str(path))
    assert refused.returncode == 1
    assert "refused" in refused.stderr or "not a Prepaid Guard model file" in refused.stderr
