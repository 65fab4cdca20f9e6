"""``pguard custody import-statement``: a statement that matches the ledger, one that is short,
and files that are not statements.

On a database of its own: reconciliation looks at every merchant with a custody account, and
a shortfall here must not block other tests' merchants.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
import uuid
from typing import TYPE_CHECKING, Any

import pytest

import escrow
from app.auth.models import Role
from app.clock import today
from app.db import create_engine
from tests.e2e.api import ID, STORED, Api, buy, counter_of, order
from tests.e2e.background import api_on

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncEngine

    from tests.conftest import Databases

HEADER = "date,account,reference,amount\n"


@pytest.fixture(scope="module")
def custody_url(databases: Databases) -> str:
    return databases.create()


@pytest.fixture(scope="module")
async def custody_engine(custody_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(custody_url, pool_size=5, max_overflow=5)
    yield engine
    await engine.dispose()


@pytest.fixture
async def capi(custody_engine: AsyncEngine) -> AsyncIterator[Api]:
    async with api_on(custody_engine) as api:
        yield api


async def pguard(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def seller(api: Api, account: str) -> dict[str, Any]:
    """An active merchant with its own custody account, two cards sold."""
    shop = await api.register_merchant("上城区", custody_account=account)
    supervisor = await api.staff(Role.REGULATOR, "上城区")
    await api.call("POST", f"/merchants/{shop['merchant']['id']}/approve", supervisor)
    await api.insure(shop)
    await api.call("POST", "/merchants/me/activate", shop["token"])
    product = await api.call(
        "POST", "/merchants/me/products", shop["token"], json=STORED, expect=201
    )
    counter = await counter_of(api, shop["token"])
    consumer = await api.consumer()
    for _ in range(2):
        await buy(api, counter, product, consumer, **ID)
    return {
        **shop,
        "account": account,
        "product": product,
        "regulator": supervisor,
        "counter": counter,
        "consumer": consumer,
    }


def line(movement: escrow.Movement, account: str) -> str:
    yuan, fen = divmod(movement.amount, 100)
    return f"{movement.day.isoformat()},{account},{movement.reference},{yuan}.{fen:02d}\n"


async def test_statements_match_find_a_shortfall_and_block_sales(
    capi: Api, custody_url: str, cli_env: Callable[[str], dict[str, str]], tmp_path: Path
) -> None:
    api = capi
    env = cli_env(custody_url)
    a = await seller(api, f"6222{secrets.randbelow(10**12):012d}")
    b = await seller(api, f"6223{secrets.randbelow(10**12):012d}")
    ids = [uuid.UUID(a["merchant"]["id"]), uuid.UUID(b["merchant"]["id"])]
    async with api.sessions() as session:
        moves = await escrow.custody_movements(session, ids, today(), today())
    assert len(moves) == 4
    account = {ids[0]: a["account"], ids[1]: b["account"]}

    whole = tmp_path / "statement-1.csv"
    whole.write_text(HEADER + "".join(line(m, account[m.merchant_id]) for m in moves))
    ok = await pguard(env, "custody", "import-statement", str(whole))
    assert ok.returncode == 0, ok.stderr
    assert "matched=4 missing=0 unexpected=0 mismatched=0 shortfall_merchants=0" in ok.stdout

    dropped = next(m for m in moves if m.merchant_id == ids[0])
    short = tmp_path / "statement-2.csv"
    short.write_text(
        HEADER
        + "".join(line(m, account[m.merchant_id]) for m in moves if m is not dropped)
        + f"{today().isoformat()},{b['account']},UNKNOWN-REF,10.00\n"
    )
    found = await pguard(env, "custody", "import-statement", str(short), "--json")
    assert found.returncode == 2, found.stderr
    assert "matched=3 missing=1 unexpected=1 mismatched=0 shortfall_merchants=1" in found.stdout
    report = json.loads(found.stdout[: found.stdout.rindex("}") + 1])
    assert report["shortfall"] == {str(ids[0]): dropped.amount}
    assert [m["reference"] for m in report["missing"]] == [dropped.reference]
    assert "UNKNOWN-REF" in found.stderr

    # The short merchant gets a warning and may not sell; the other one still may.
    warnings = await api.call(
        "GET", "/warnings", a["regulator"], params={"merchant_id": str(ids[0])}
    )
    assert [w["rule"] for w in warnings] == ["custody-shortfall"]
    assert warnings[0]["evidence"]["shortfall_fen"] == dropped.amount
    refused = await order(api, a["counter"], a["product"]["id"], a["consumer"], expect=403, **ID)
    assert "reconciled" in refused["detail"]
    await buy(api, b["counter"], b["product"], b["consumer"], **ID)

    again = await pguard(env, "custody", "import-statement", str(short))
    assert again.returncode == 0
    assert "already imported" in again.stdout
    warnings = await api.call(
        "GET", "/warnings", a["regulator"], params={"merchant_id": str(ids[0])}
    )
    assert len(warnings) == 1

    lifted = await api.call(
        "POST",
        f"/merchants/{ids[0]}/measures",
        a["regulator"],
        json={"kind": "lift-suspension", "reason": "the bank credited the deposit late"},
        expect=201,
    )
    assert lifted["params"]["sales_blocks"] == ["custody-shortfall"]
    await buy(api, a["counter"], a["product"], a["consumer"], **ID)


async def test_a_partial_statement_blocks_only_the_merchants_it_lists_and_blocks_lift_together(
    capi: Api, custody_url: str, cli_env: Callable[[str], dict[str, str]], tmp_path: Path
) -> None:
    api = capi
    env = cli_env(custody_url)
    shops = [await seller(api, f"6224{secrets.randbelow(10**12):012d}") for _ in range(3)]
    ids = [uuid.UUID(shop["merchant"]["id"]) for shop in shops]
    async with api.sessions() as session:
        moves = await escrow.custody_movements(session, ids, today(), today())
    first = [m for m in moves if m.merchant_id == ids[0]]
    assert len(first) == 2

    # The bank sent only the first merchant's account: the other two are named, not judged.
    partial = tmp_path / "partial.csv"
    partial.write_text(HEADER + "".join(line(m, shops[0]["account"]) for m in first))
    done = await pguard(env, "custody", "import-statement", str(partial), "--json")
    assert done.returncode == 0, done.stderr
    assert "shortfall_merchants=0 not_on_statement=" in done.stdout
    report = json.loads(done.stdout[: done.stdout.rindex("}") + 1])
    assert report["shortfall"] == {}
    assert set(report["not_on_statement"]) >= {str(ids[1]), str(ids[2])}
    assert str(ids[0]) not in report["not_on_statement"]
    for shop in shops:
        await buy(api, shop["counter"], shop["product"], shop["consumer"], **ID)

    # Two short merchants' blocks are lifted in one request, one measure each.
    async with api.sessions() as session:
        moves = await escrow.custody_movements(session, ids, today(), today())
    short = tmp_path / "short.csv"
    short.write_text(
        HEADER
        + "".join(
            line(m, shops[ids.index(m.merchant_id)]["account"])
            for n, m in enumerate(moves)
            if not (m.merchant_id in ids[:2] and n % 3 == 0)
        )
    )
    found = await pguard(env, "custody", "import-statement", str(short), "--json")
    assert found.returncode == 2, found.stderr
    blocked = set(json.loads(found.stdout[: found.stdout.rindex("}") + 1])["shortfall"])
    assert blocked
    regulator = shops[0]["regulator"]
    everyone = [str(i) for i in ids]
    refused = await api.call(
        "POST",
        "/measures/lift-sales-blocks",
        regulator,
        json={"merchant_ids": everyone, "reason": "银行补发了完整对账单"},
        expect=409,
    )
    assert "nothing was lifted" in refused["detail"]
    still = next(s for s in shops if s["merchant"]["id"] in blocked)
    await order(api, still["counter"], still["product"]["id"], still["consumer"], expect=403, **ID)
    await api.call(
        "POST",
        "/measures/lift-sales-blocks",
        regulator,
        json={"merchant_ids": sorted(blocked), "reason": " "},
        expect=422,
    )
    lifted = await api.call(
        "POST",
        "/measures/lift-sales-blocks",
        regulator,
        json={"merchant_ids": sorted(blocked), "reason": "银行补发了完整对账单"},
        expect=201,
    )
    assert sorted(m["merchant_id"] for m in lifted) == sorted(blocked)
    assert all(m["params"] == {"sales_blocks": ["custody-shortfall"], "bulk": True} for m in lifted)
    for shop in shops:
        await buy(api, shop["counter"], shop["product"], shop["consumer"], **ID)
    elsewhere = await api.staff(Role.REGULATOR, "西湖区")
    await api.call(
        "POST",
        "/measures/lift-sales-blocks",
        elsewhere,
        json={"merchant_ids": sorted(blocked), "reason": "not mine"},
        expect=404,
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x01\x02", "not a csv statement"),
        (b"", "empty"),
        (b"date,account,reference,amount\n", "the statement has no lines"),
        (b"day,acct,ref,amt\n2026-11-01,1,R,1.00\n", "header"),
        (b"date,account,reference,amount\n2026-11-01,622,R1,12.345\n", "line 2"),
        (b"date,account,reference,amount\n2026-11-01,622,R1,1.00\n2026-13-01,622,R2,1\n", "line 3"),
        (b"date,account,reference,amount\n2026-11-01,622,R1,ten\n", "line 2"),
        (b"date,account,reference,amount\n2026-11-01,622,R1\n", "line 2"),
    ],
)
async def test_bad_statement_files_are_refused_clearly(
    custody_url: str,
    cli_env: Callable[[str], dict[str, str]],
    tmp_path: Path,
    content: bytes,
    message: str,
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    result = await pguard(cli_env(custody_url), "custody", "import-statement", str(path))
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert message in result.stderr.lower(), result.stderr
    assert "Traceback" not in result.stderr
