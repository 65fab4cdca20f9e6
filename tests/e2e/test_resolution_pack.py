"""A merchant's resolution pack, end to end over HTTP on PostgreSQL.

A shop with named, anonymous, part-used and refunded cards and a reconciled custody statement
hands its pack to its regulator, its insurer and the operator's command line. The pack's
signature verifies with the published keys, every file matches its manifest, its balances are
the ledger's and ``verify``'s, and each reader sees personal data as its role allows. Then the
shop defaults and the pack shows what the insurer still owes.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import secrets
import subprocess
import sys
import uuid
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

import escrow
import qr
from app.asgi import create_app
from app.auth.models import Role
from app.clock import today
from app.custody.service import import_statement
from app.db import create_engine
from app.resolution.manifest import CheckedPack, PackRejected, check_pack
from app.resolution.models import ResolutionPack
from app.security.pii import PiiCipher
from escrow.models import Account, MerchantBook
from tests.e2e.api import (
    ANONYMOUS,
    ID,
    SESSIONS,
    STORED,
    Api,
    InsurerAccount,
    buy,
    counter_of,
    declare_default,
    redeem,
    redemption_code,
    sign_in_form,
)
from tests.e2e.background import api_on

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncEngine

    from tests.conftest import Databases

PHONE = "13912345678"


@pytest.fixture(scope="module")
def pack_url(databases: Databases) -> str:
    """A database of its own: the statement imported here judges every custody account."""
    return databases.create()


@pytest.fixture(scope="module")
async def pack_engine(pack_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(pack_url, pool_size=5, max_overflow=5)
    yield engine
    await engine.dispose()


@pytest.fixture
async def rapi(pack_engine: AsyncEngine) -> AsyncIterator[Api]:
    async with api_on(pack_engine) as api:
        yield api


def _rows(files: dict[str, bytes], name: str) -> list[dict[str, str]]:
    text = files[name].decode("utf-8")
    assert text.startswith("\ufeff"), "a spreadsheet needs the BOM to read the Chinese"
    return list(csv.DictReader(io.StringIO(text[1:])))


async def _download(api: Api, merchant_id: str, token: str, expect: int = 200) -> Any:
    return await api.call("GET", f"/merchants/{merchant_id}/resolution-pack", token, expect=expect)


async def _keys(api: Api) -> qr.KeyRing:
    return qr.keyring_from_document(await api.call("GET", "/qr/keys"))


async def _shop(api: Api, insurer: str) -> dict[str, Any]:
    """An insured shop with its own custody account and three products."""
    account = f"6217{secrets.randbelow(10**12):012d}"
    shop = await api.active_merchant(insurer_token=insurer, custody_account=account)
    shop["account"] = account
    shop["products"] = [
        await api.call("POST", "/merchants/me/products", shop["token"], json=p, expect=201)
        for p in (STORED, SESSIONS, ANONYMOUS)
    ]
    return shop


async def _sell(api: Api, shop: dict[str, Any]) -> dict[str, str]:
    """A named holder with two cards (one part used), a refunded card, an anonymous card."""
    stored, sessions, anonymous = shop["products"]
    counter = await counter_of(api, shop["token"])
    holder = await api.consumer(PHONE)
    cards = {
        "stored": (await buy(api, counter, stored, holder, **ID))["card_id"],
        "sessions": (await buy(api, counter, sessions, holder, **ID))["card_id"],
        "anonymous": (await buy(api, counter, anonymous))["card_id"],
    }
    code = await redemption_code(api, holder, cards["stored"], 30_000)
    await redeem(api, shop["token"], {"token": code["token"], "units": 30_000})
    other = await api.consumer()
    cards["refunded"] = (await buy(api, counter, stored, other, **ID))["card_id"]
    refunded = await api.call(
        "POST",
        f"/me/cards/{cards['refunded']}/refund",
        other,
        json={"reason": "不想要了"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert refunded["owed_by_merchant"] > 0, refunded
    return cards


async def _reconcile(api: Api, shop: dict[str, Any]) -> int:
    """The bank's statement of today's custody movements, all matching; their count."""
    merchant = uuid.UUID(shop["merchant"]["id"])
    async with api.sessions() as session, session.begin():
        moves = await escrow.custody_movements(session, [merchant], today(), today())
        lines = "".join(
            f"{m.day.isoformat()},{shop['account']},{m.reference},{m.amount / 100:.2f}\n"
            for m in moves
        )
        report, new = await import_statement(
            session,
            PiiCipher.from_master_key(),
            ("date,account,reference,amount\n" + lines).encode(),
            filename="statement-today.csv",
            imported_by=None,
        )
    assert new
    assert report["ok"], report
    return len(moves)


async def _book(api: Api, merchant_id: str) -> tuple[int, str, dict[str, int], int]:
    """Seq, chain head, balances as stored, and the entries ``verify`` walked (it must pass)."""
    mid = uuid.UUID(merchant_id)
    async with api.sessions() as session:
        report = await escrow.verify(session, [mid])
        assert report.ok, report.problems
        book = await session.get(MerchantBook, mid)
        assert book is not None
        accounts = await session.execute(
            select(Account.kind, Account.balance).where(Account.merchant_id == mid)
        )
        balances = {row.kind: row.balance for row in accounts}
    return book.seq, book.head_hash.hex(), balances, report.entries


@dataclass
class Sold:
    """A shop after a day's trade and a reconciled statement, and its regulator's pack."""

    shop: dict[str, Any]
    insurer: InsurerAccount
    cards: dict[str, str]
    moves: int
    response: Any
    pack: CheckedPack

    @property
    def merchant_id(self) -> str:
        return str(self.shop["merchant"]["id"])


@pytest.fixture
async def sold(rapi: Api) -> Sold:
    insurer = await rapi.new_insurer()
    shop = await _shop(rapi, insurer.token)
    cards = await _sell(rapi, shop)
    moves = await _reconcile(rapi, shop)
    response = await _download(rapi, shop["merchant"]["id"], shop["regulator"])
    return Sold(
        shop, insurer, cards, moves, response, check_pack(response.content, await _keys(rapi))
    )


async def test_the_pack_is_signed_and_its_proof_is_the_ledgers(rapi: Api, sold: Sold) -> None:
    response, pack = sold.response, sold.pack
    assert response.headers["content-type"] == "application/zip"
    assert "attachment" in response.headers["content-disposition"]
    assert response.headers["cache-control"] == "no-store"
    manifest = zipfile.ZipFile(io.BytesIO(response.content)).read("manifest.json")
    assert response.headers["x-manifest-sha256"] == hashlib.sha256(manifest).hexdigest()
    assert pack.manifest["built_for"] == "regulator"
    assert set(pack.files) == {
        "README.txt",
        "merchant.json",
        "cards.csv",
        "holders.csv",
        "payables.csv",
        "custody.json",
        "insurance.json",
        "ledger.json",
    }
    assert sold.shop["merchant"]["legal_name"] in pack.files["README.txt"].decode()

    seq, head, balances, walked = await _book(rapi, sold.merchant_id)
    ledger = json.loads(pack.files["ledger.json"])
    assert (ledger["entries"], ledger["chain_head_sha256"]) == (seq, head)
    assert (pack.manifest["entries"], pack.manifest["chain_head_sha256"]) == (seq, head)
    assert ledger["verify"] == {"ok": True, "entries": walked, "cards": 4, "problems": []}
    assert walked == seq
    assert ledger["balances_fen"] == balances
    async with rapi.sessions() as session:
        taken = await session.scalar(
            select(ResolutionPack).where(ResolutionPack.merchant_id == uuid.UUID(sold.merchant_id))
        )
    assert taken is not None
    assert taken.manifest_sha256.hex() == response.headers["x-manifest-sha256"]
    assert (taken.role, taken.cards, taken.entries) == ("regulator", 4, seq)


async def test_the_pack_says_what_each_consumer_is_owed(rapi: Api, sold: Sold) -> None:
    pack, cards = sold.pack, sold.cards
    _, _, balances, _ = await _book(rapi, sold.merchant_id)
    rows = {row["card_id"]: row for row in _rows(pack.files, "cards.csv")}
    assert set(rows) == set(cards.values())
    custody, exposure = balances["custody"], -balances["policy"]
    owed = sum(int(row["owed_fen"]) for row in rows.values())
    assert sum(int(r["custody_share_fen"]) for r in rows.values()) == custody
    assert sum(int(r["insured_share_fen"]) for r in rows.values()) == balances["cards_cover"]
    assert owed == custody + exposure == pack.manifest["owed_fen"]
    assert (pack.manifest["custody_fen"], pack.manifest["exposure_fen"]) == (custody, exposure)
    used = rows[cards["stored"]]
    assert (used["units_left"], used["status"]) == (str(STORED["units"] - 30_000), "open")
    assert int(used["outstanding_fen"]) == STORED["price"] * 70_000 // STORED["units"]
    refunded = rows[cards["refunded"]]
    assert refunded["status"] == "refunded"
    assert int(refunded["payable_owed_fen"]) == int(refunded["owed_fen"]) > 0
    payables = _rows(pack.files, "payables.csv")
    assert [(p["card_id"], p["owed_by_merchant_fen"]) for p in payables] == [
        (cards["refunded"], refunded["payable_owed_fen"])
    ]

    # The regulator sees the holder in full; the anonymous card names nobody.
    mine = rows[cards["sessions"]]
    assert (mine["holder_name"], mine["holder_phone"], mine["holder_id_number"]) == (
        ID["real_name"],
        PHONE,
        ID["id_number"],
    )
    assert rows[cards["anonymous"]]["holder"] == "anonymous"
    assert rows[cards["anonymous"]]["holder_phone"] == ""
    holders = _rows(pack.files, "holders.csv")
    assert sum(int(h["owed_fen"]) for h in holders) == owed
    named = next(h for h in holders if h["holder_phone"] == PHONE)
    assert int(named["cards"]) == 2
    assert int(named["owed_fen"]) == int(mine["owed_fen"]) + int(used["owed_fen"])

    # Custody: the ledger's balance and the statement that confirmed today's movements.
    statement = json.loads(pack.files["custody.json"])
    assert statement["account"] == sold.shop["account"]
    assert statement["ledger_balance_fen"] == custody
    last = statement["last_statement"]
    assert last["ok"]
    assert last["filename"] == "statement-today.csv"
    assert (len(last["matched"]), last["missing"], last["shortfall_fen"]) == (sold.moves, [], 0)
    insurance = json.loads(pack.files["insurance.json"])
    assert insurance["exposure_fen"] == exposure
    assert [p["number"] for p in insurance["policies"]] == [sold.shop["merchant"]["policy_ref"]]
    assert insurance["claims"] == []


async def test_the_insurer_gets_contacts_masked_and_nobody_else_gets_one(
    rapi: Api, sold: Sold
) -> None:
    api, mid = rapi, sold.merchant_id
    theirs = check_pack((await _download(api, mid, sold.insurer.token)).content, await _keys(api))
    assert theirs.manifest["owed_fen"] == sold.pack.manifest["owed_fen"]
    assert theirs.manifest["built_for"] == "insurer"
    rows = {row["card_id"]: row for row in _rows(theirs.files, "cards.csv")}
    masked = rows[sold.cards["sessions"]]
    assert masked["holder_name"] == ID["real_name"]
    assert masked["holder_phone"] == "139****5678"
    assert masked["holder_id_number"] == "*" * 14 + ID["id_number"][-4:]
    assert PHONE.encode() not in b"".join(theirs.files.values())
    assert ID["id_number"].encode() not in b"".join(theirs.files.values())
    # the custody account by its last four digits; the policy and claims its own
    account = sold.shop["account"]
    custody = json.loads(theirs.files["custody.json"])
    assert custody["account"] == "*" * (len(account) - 4) + account[-4:]
    assert account.encode() not in b"".join(theirs.files.values())
    insured = json.loads(theirs.files["insurance.json"])
    assert [p["number"] for p in insured["policies"]] == [sold.shop["merchant"]["policy_ref"]]

    stranger = await api.new_insurer()
    await _download(api, mid, stranger.token, expect=404)
    await _download(api, mid, await api.staff(Role.REGULATOR, "西湖区"), expect=404)
    await _download(api, mid, sold.shop["token"], expect=403)
    await _download(api, mid, await api.consumer(), expect=403)
    await _download(api, str(uuid.uuid4()), sold.shop["regulator"], expect=404)
    anonymous = await api.client.get(f"/merchants/{mid}/resolution-pack")
    assert anonymous.status_code == 401
    async with api.sessions() as session:
        taken = (
            await session.scalars(
                select(ResolutionPack.role)
                .where(ResolutionPack.merchant_id == uuid.UUID(mid))
                .order_by(ResolutionPack.built_at)
            )
        ).all()
    assert taken == ["regulator", "insurer"]


async def test_the_operator_takes_one_from_the_command_line(
    rapi: Api, sold: Sold, pack_url: str, cli_env: Callable[[str], dict[str, str]], tmp_path: Path
) -> None:
    out = tmp_path / "pack.zip"
    env = cli_env(pack_url)
    done = await _pguard(env, "merchants", "resolution-pack", sold.merchant_id, "--out", str(out))
    assert done.returncode == 0, done.stderr
    owed = sold.pack.manifest["owed_fen"]
    assert f"4 cards, {owed} fen owed" in done.stdout
    by_operator = check_pack(out.read_bytes(), await _keys(rapi))
    assert by_operator.manifest["built_for"] == "operator"
    assert by_operator.files["cards.csv"] == sold.pack.files["cards.csv"]
    unknown = await _pguard(
        env, "merchants", "resolution-pack", str(uuid.uuid4()), "--out", str(tmp_path / "x.zip")
    )
    assert unknown.returncode == 1
    assert "no merchant" in unknown.stderr
    assert not (tmp_path / "x.zip").exists()


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


def _with(data: bytes, name: str, change: Callable[[bytes], bytes]) -> bytes:
    """The ZIP with one member's bytes changed (and its manifest left as it was)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            body = source.read(info)
            target.writestr(info, change(body) if info.filename == name else body)
    return out.getvalue()


async def test_the_readme_recipe_checks_a_pack_without_the_service(
    rapi: Api, sold: Sold, tmp_path: Path
) -> None:
    """The Python lines in the pack's README, run as written on the pack and the keys file."""
    readme = sold.pack.files["README.txt"].decode()
    recipe = readme.split("Python 示例（需要 cryptography 库）：", 1)[1]
    code = "\n".join(line.removeprefix("    ") for line in recipe.strip("\n").splitlines())
    (tmp_path / "处置包.zip").write_bytes(sold.response.content)
    (tmp_path / "keys.json").write_text(json.dumps(await rapi.call("GET", "/qr/keys")))
    (tmp_path / "check.py").write_text(code + "\nprint('ok')\n")
    ran = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "check.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (ran.returncode, ran.stdout) == (0, "ok\n"), ran.stderr
    altered = _with(sold.response.content, "cards.csv", lambda body: body + b"x")
    (tmp_path / "处置包.zip").write_bytes(altered)
    ran = await asyncio.to_thread(
        subprocess.run, [sys.executable, "check.py"], cwd=tmp_path, capture_output=True, check=False
    )
    assert ran.returncode == 1
    assert b"AssertionError: cards.csv" in ran.stderr


async def test_an_altered_pack_does_not_check(rapi: Api, sold: Sold) -> None:
    data = sold.response.content
    keys = await _keys(rapi)

    def more_money(body: bytes) -> bytes:
        return body.replace(b",open,", b",open,9", 1)

    with pytest.raises(PackRejected, match=r"cards\.csv does not match"):
        check_pack(_with(data, "cards.csv", more_money), keys)
    with pytest.raises(PackRejected, match="signature does not verify"):
        check_pack(
            _with(data, "manifest.json", lambda b: b.replace(b'"cards": 4', b'"cards": 5')), keys
        )
    with pytest.raises(PackRejected, match="not a readable ZIP"):
        check_pack(data[:100], keys)
    # A pack checked against keys the platform never published does not pass either.
    stranger = qr.KeyRing([qr.generate_key().record()])
    with pytest.raises(PackRejected, match="signature does not verify"):
        check_pack(data, stranger)


async def test_after_a_default_the_pack_shows_what_the_insurer_owes(rapi: Api) -> None:
    api = rapi
    insurer = await api.new_insurer()
    shop = await _shop(api, insurer.token)
    cards = await _sell(api, shop)
    await declare_default(api, shop, "老板失联，门店关闭")

    pack = check_pack(
        (await _download(api, shop["merchant"]["id"], insurer.token)).content, await _keys(api)
    )
    _, _, balances, _ = await _book(api, shop["merchant"]["id"])
    rows = {row["card_id"]: row for row in _rows(pack.files, "cards.csv")}
    insurance = json.loads(pack.files["insurance.json"])
    claimed = sum(int(row["claim_pending_fen"]) for row in rows.values())
    assert claimed == balances["claims_pending"] > 0
    assert {row["status"] for row in rows.values()} <= {"defaulted", "refunded"}
    assert int(rows[cards["sessions"]]["outstanding_fen"]) == 0
    assert pack.manifest["owed_fen"] == -balances["policy"] + balances["custody"]
    assert [c["status"] for c in insurance["claims"]] == ["triggered"]
    assert sum(c["total_fen"] for c in insurance["claims"]) == claimed
    ledger = json.loads(pack.files["ledger.json"])
    assert (ledger["book_status"], ledger["verify"]["ok"]) == ("defaulted", True)


async def test_the_pages_link_to_the_pack_and_it_downloads_with_the_session(
    rapi: Api, sold: Sold, pack_engine: AsyncEngine
) -> None:
    mid = sold.merchant_id
    link = f'href="/merchants/{mid}/resolution-pack" download'
    for username, page, words in (
        (sold.shop["regulator_username"], f"/dashboard/merchants/{mid}?lang=en", "resolution pack"),
        (sold.insurer.username, "/insurer-view", "处置包"),
    ):
        async with AsyncTestClient(app=create_app(pack_engine)) as browser:
            await sign_in_form(browser, username)
            text = (await browser.get(page)).text
            assert link in text
            assert words in text
            got = await browser.get(f"/merchants/{mid}/resolution-pack")
            assert got.status_code == 200
            assert (
                check_pack(got.content, await _keys(rapi)).manifest["owed_fen"]
                == (sold.pack.manifest["owed_fen"])
            )
