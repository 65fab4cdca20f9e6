"""``pguard demo``: a small district loaded through the services, consistent, and loaded once."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select, text

import escrow
from app.auth.models import Consumer, Role, User
from app.auth.service import sign_in
from app.cards.models import CardHolder
from app.db import create_engine, session_factory
from app.demo.accounts import DEPARTMENT_OFFICER, STREET_OFFICER
from app.demo.district import people_for, shop_username
from app.demo.loader import (
    CITY_REGULATOR,
    DEMO_PASSWORD,
    INSURER,
    OPERATOR,
    REGULATOR,
    DemoRefused,
    Options,
    Outcome,
    load,
)
from app.demo.shop import STORY_CARDS
from app.insurance.models import Claim, ClaimCard, ClaimKind, ClaimStatus
from app.merchants import service as merchants
from app.merchants.models import Merchant, MerchantStatus
from app.outbox.models import OutboxEvent
from app.payables.service import payables_of
from app.risk.models import Rating
from app.security.pii import PiiCipher
from app.settings import get_settings
from app.supervision.models import Dispute
from escrow.models import Card
from tests.e2e.api import new_uscc

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from tests.conftest import Databases

SMALL = Options(seed=11, merchants=8, cards=200)
"""A small district whose eight merchants span three grades under the live model (seed 7
spans only A and E since the additive model: its strained survivor rates A at 3%)."""

STAFF = (OPERATOR, REGULATOR, CITY_REGULATOR, INSURER, DEPARTMENT_OFFICER, STREET_OFFICER)
"""Every staff sign-in the demo prints."""


@pytest.fixture(scope="module")
async def demo_engine(databases: Databases) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(databases.create(), pool_size=4)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
def demo(demo_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(demo_engine)


@pytest.fixture(scope="module")
async def loaded(demo: async_sessionmaker[AsyncSession]) -> Outcome:
    return await load(demo, SMALL)


async def _count(session: AsyncSession, model: type, *where: object) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_every_role_signs_in_with_the_printed_password(
    demo: async_sessionmaker[AsyncSession], loaded: Outcome
) -> None:
    assert loaded.status == "loaded"
    async with demo() as session, session.begin():
        roles = {}
        for username in (*STAFF, "demo-shop-01"):
            _, _, who = await sign_in(session, username, DEMO_PASSWORD)
            roles[username] = who
    assert roles[OPERATOR].role is Role.OPERATOR
    assert roles[REGULATOR].role is Role.REGULATOR
    assert roles[REGULATOR].district == "上城区"
    assert roles[CITY_REGULATOR].district is None
    assert roles[INSURER].role is Role.INSURER
    assert roles[INSURER].insurer_id is not None
    assert roles["demo-shop-01"].role is Role.MERCHANT
    assert roles["demo-shop-01"].merchant_id is not None
    for officer in (DEPARTMENT_OFFICER, STREET_OFFICER):
        assert roles[officer].role is Role.DEPARTMENT
        assert roles[officer].organisation_id is not None


async def test_merchants_span_grades_industries_and_districts(
    demo: async_sessionmaker[AsyncSession], loaded: Outcome
) -> None:
    async with demo() as session:
        shops = (await session.scalars(select(Merchant))).all()
        grades = (await session.scalars(select(Rating.grade))).all()
    assert len(shops) == SMALL.merchants
    assert len(grades) == SMALL.merchants  # every merchant is rated by the live model
    assert len(set(grades)) >= 3, grades
    assert len({m.industry for m in shops}) >= 5
    assert {m.district for m in shops} >= {"上城区"}
    assert len({m.district for m in shops}) >= 2
    assert sorted(m.status for m in shops) == sorted(
        [MerchantStatus.DEFAULTED] + [MerchantStatus.ACTIVE] * (SMALL.merchants - 1)
    )
    assert loaded.summary is not None
    assert loaded.summary.merchants == SMALL.merchants


async def test_cards_are_held_by_consumers_and_some_are_partly_used(
    demo: async_sessionmaker[AsyncSession], loaded: Outcome
) -> None:
    async with demo() as session:
        cards = await _count(session, Card)
        holders = await _count(session, CardHolder, CardHolder.consumer_id.is_not(None))
        consumers = await _count(session, Consumer)
        partly = await _count(
            session,
            Card,
            Card.units_remaining < Card.units_total,
            Card.units_remaining > 0,
            Card.status == "open",
        )
    assert cards == holders == SMALL.cards + STORY_CARDS
    assert consumers == people_for(SMALL.cards)
    assert 0 < partly < cards
    assert loaded.summary is not None
    assert loaded.summary.cards == SMALL.cards + STORY_CARDS


async def test_complaints_are_at_several_steps(
    demo: async_sessionmaker[AsyncSession], loaded: Outcome
) -> None:
    async with demo() as session:
        statuses = (await session.scalars(select(Dispute.status))).all()
    assert len(statuses) >= 8
    assert "filed" in statuses
    assert len(set(statuses)) >= 2


async def test_one_merchant_is_in_default_and_its_claim_is_the_insured_shares(
    demo: async_sessionmaker[AsyncSession], loaded: Outcome
) -> None:
    async with demo() as session:
        defaulted = (
            await session.scalars(
                select(Merchant).where(Merchant.status == MerchantStatus.DEFAULTED)
            )
        ).all()
        assert len(defaulted) == 1
        merchant = defaulted[0]
        claims = (await session.scalars(select(Claim).where(Claim.kind == ClaimKind.DEFAULT))).all()
        assert [c.merchant_id for c in claims] == [merchant.id]
        claim = claims[0]
        assert claim.status == ClaimStatus.ACKNOWLEDGED
        lines = (
            await session.scalars(select(ClaimCard).where(ClaimCard.claim_id == claim.id))
        ).all()
        ratios = dict(
            (
                await session.execute(
                    select(Card.id, Card.custody_ratio_bp).where(Card.merchant_id == merchant.id)
                )
            ).all()
        )
        pending = (await escrow.EscrowLedger(session).balances(merchant.id))[
            escrow.AccountKind.CLAIMS_PENDING
        ]
        payable_lines = [line for line in lines if line.payable_seq is not None]
        told = await _count(
            session,
            OutboxEvent,
            OutboxEvent.insurer_id == claim.insurer_id,
            OutboxEvent.type == "claim.triggered",
        )
    assert claim.total_fen > 0
    assert claim.total_fen == sum(line.amount_fen for line in lines) == pending
    assert claim.cards == len(lines)
    for line in lines:  # custody paid its share of each card; the claim is the insured rest
        if line.payable_seq is not None:  # what it still owed after refunds: claimed whole
            assert line.amount_fen == line.outstanding_fen
            continue
        ratio = ratios[line.card_id]
        assert line.custody_paid_fen == -(-line.outstanding_fen * ratio // 10_000)
        assert line.amount_fen == line.outstanding_fen - line.custody_paid_fen
    # waiting for the insurer to pull them (no webhook URL): the default's claim, and the
    # story shop's refund payable claimed at its deadline
    assert told == 2
    assert all(line.amount_fen > 0 for line in payable_lines)


async def test_the_printed_consumer_s_refunds_settle_in_each_way(
    demo: async_sessionmaker[AsyncSession], loaded: Outcome
) -> None:
    async with demo() as session:
        shop = await session.scalar(
            select(Merchant)
            .join(User, User.merchant_id == Merchant.id)
            .where(User.username == shop_username(1))
        )
        assert shop is not None
        found = await payables_of(session, [shop.id])
        report = await escrow.verify(session, [shop.id])
    assert report.ok, report.problems[:3]
    ways = sorted(
        ("insurer" if p.by_insurer else "merchant" if p.by_merchant else "netting")
        for p in found
        if p.status == "paid"
    )
    assert ways == ["insurer", "merchant", "netting"]
    for p in found:  # each reached its consumer whole
        assert p.pending == 0
        assert p.custody_paid + p.by_merchant + p.netted + p.by_insurer == p.refunded


async def test_the_ledger_verifies(demo: async_sessionmaker[AsyncSession], loaded: Outcome) -> None:
    async with demo() as session:
        report = await escrow.verify(session)
    assert report.ok, report.problems[:3]
    assert report.merchants == SMALL.merchants
    assert report.cards == SMALL.cards + STORY_CARDS


async def _snapshot(session: AsyncSession) -> dict[str, int]:
    tables = (
        await session.scalars(
            text(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
            )
        )
    ).all()
    return {
        name: int(await session.scalar(text(f'SELECT count(*) FROM "{name}"')) or 0)
        for name in tables
    }


async def test_loading_again_changes_nothing(
    demo: async_sessionmaker[AsyncSession], loaded: Outcome
) -> None:
    async with demo() as session:
        before = await _snapshot(session)
    again = await load(demo, SMALL)
    async with demo() as session:
        after = await _snapshot(session)
    assert again.status == "present"
    assert after == before
    assert before["cards"] == SMALL.cards + STORY_CARDS


async def test_a_database_with_merchants_of_its_own_is_left_alone(databases: Databases) -> None:
    engine = create_engine(databases.create(), pool_size=2)
    sessions = session_factory(engine)
    try:
        async with sessions() as session, session.begin():
            await merchants.register(
                session,
                merchants.Registration(
                    uscc=new_uscc(),
                    legal_name="杭州真实商户有限公司",
                    industry="retail",
                    district="上城区",
                    address="杭州市上城区解放路1号",
                    owner_username="real-shop",
                    owner_password=DEMO_PASSWORD,
                ),
                PiiCipher.from_master_key(),
            )
        with pytest.raises(DemoRefused, match="empty database"):
            await load(sessions, SMALL)
        skipped = await load(sessions, SMALL, only_if_empty=True)
        assert skipped.status == "skipped"
        async with sessions() as session:
            assert await _count(session, Merchant) == 1
    finally:
        await engine.dispose()


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PGUARD_ENV", "production")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


async def test_production_refuses(demo: async_sessionmaker[AsyncSession], production: None) -> None:
    with pytest.raises(DemoRefused, match="production"):
        await load(demo, SMALL)


async def test_a_deployment_without_the_sandbox_provider_refuses(
    demo: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGUARD_PAYMENTS", "none")
    get_settings.cache_clear()
    try:
        with pytest.raises(DemoRefused, match="PGUARD_PAYMENTS=sandbox"):
            await load(demo, SMALL)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def _demo_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "demo", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_command_prints_a_sign_in_for_every_role(
    databases: Databases, cli_env: Callable[[str], dict[str, str]]
) -> None:
    env = {**cli_env(databases.create()), "PGUARD_PORT": "8123"}
    first = _demo_cli(env, "--merchants", "6", "--cards", "60")
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "demo district loaded" in out
    assert "http://127.0.0.1:8123/" in out
    assert f"password {DEMO_PASSWORD}" in out
    for username in (*STAFF, "demo-shop-01"):
        assert username in out
    assert "13900000001" in out
    assert "sandbox_sms" in out
    assert "in default:" in out
    second = _demo_cli(env, "--merchants", "6", "--cards", "60")
    assert second.returncode == 0, second.stderr
    assert "already loaded; nothing was changed" in second.stdout
    assert "operator@demo" in second.stdout
    refused = _demo_cli({**env, "PGUARD_ENV": "production"})
    assert refused.returncode == 1
    assert "production" in refused.stderr
