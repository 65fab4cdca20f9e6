"""Webhooks end to end: a real HTTP receiver verifying with the reference library, the
delivery worker on its own thread, and the insurer's API.

These tests run on a database of their own, so that the worker delivers only their events.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.asgi import create_app
from app.auth.models import Role
from app.db import create_engine, session_factory
from app.insurance.models import Insurer
from app.outbox import service
from app.outbox.models import EventStatus, OutboxEvent
from app.security.pii import PiiCipher
from tests.e2e.api import Api
from tests.e2e.background import (
    WAIT_SECONDS,
    Endpoint,
    InsurerAccount,
    Receiver,
    delivery_thread,
    insurer,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from tests.conftest import Databases

FAST = {"interval": 0.05, "backoff_base": 0.05, "jitter": 0.0, "timeout": 2.0, "lease_seconds": 3.0}
"""Tiny waits, so that three attempts take a fraction of a second."""
INSURER_PATHS = ("/insurer/events", "/insurer/deliveries", "/insurer/webhook")


@pytest.fixture(scope="module")
def hooks_url(databases: Databases) -> str:
    return databases.create()


@pytest.fixture(scope="module")
async def hooks_engine(hooks_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(hooks_url, pool_size=5, max_overflow=10)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
def hsessions(hooks_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(hooks_engine)


@pytest.fixture
async def hapi(
    hooks_engine: AsyncEngine, hsessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Api]:
    async with AsyncTestClient(app=create_app(hooks_engine)) as client:
        yield Api(client, hsessions)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


async def enqueue(api: Api, who: InsurerAccount, data: dict[str, Any]) -> str:
    async with api.sessions() as session, session.begin():
        return await service.enqueue(session, who.insurer_id, "claim.triggered", data)


async def delivered(api: Api, event_id: str) -> OutboxEvent:
    """Wait for the worker to record the event as delivered."""
    for _ in range(WAIT_SECONDS * 20):
        async with api.sessions() as session:
            row = await session.get(OutboxEvent, event_id)
        assert row is not None
        if row.status == EventStatus.DELIVERED:
            return row
        await asyncio.sleep(0.05)
    pytest.fail(f"event {event_id} was not delivered: {row.last_error}")


async def test_a_webhook_refused_twice_is_accepted_once_on_the_third_attempt(
    hapi: Api, hooks_url: str, receiver: Receiver
) -> None:
    first = Endpoint("", fail_first=2)
    other = Endpoint("")
    a = await insurer(hapi, receiver.add(first))
    b = await insurer(hapi, receiver.add(other))
    first.secret, other.secret = a.secret, b.secret

    with delivery_thread(hooks_url, **FAST):
        event_id = await enqueue(hapi, a, {"claim_id": "c-1", "total_fen": 50_000})
        row = await delivered(hapi, event_id)
    assert row.attempts == 3
    assert [i for i, _ in first.requests] == [event_id] * 3
    assert first.accepted == [event_id]
    assert first.refused == 0
    assert other.requests == []

    log = await hapi.call("GET", "/insurer/deliveries", a.token)
    assert [(d["event_id"], d["status_code"]) for d in log] == [
        (event_id, 200),
        (event_id, 500),
        (event_id, 500),
    ]
    assert log[0]["error"] is None
    assert log[1]["error"].startswith("HTTP 500")
    assert all(d["event_type"] == "claim.triggered" for d in log)
    assert await hapi.call("GET", "/insurer/deliveries", b.token) == []

    page = await hapi.call("GET", "/insurer/events", a.token)
    (pulled,) = page["events"]
    assert pulled["id"] == event_id
    assert pulled["data"] == {"claim_id": "c-1", "total_fen": 50_000}
    assert (pulled["type"], pulled["status"]) == ("claim.triggered", "delivered")
    assert pulled["attempts"] == 3
    assert page["next_after"] == pulled["seq"]
    after = await hapi.call("GET", "/insurer/events", a.token, params={"after": pulled["seq"]})
    assert after == {"events": [], "next_after": pulled["seq"]}
    assert (await hapi.call("GET", "/insurer/events", b.token))["events"] == []


async def test_a_worker_stopped_mid_delivery_is_covered_by_the_next_after_the_lease(
    hapi: Api, hooks_url: str, receiver: Receiver
) -> None:
    slow = Endpoint("", hold=threading.Event())
    c = await insurer(hapi, receiver.add(slow))
    slow.secret = c.secret

    with delivery_thread(hooks_url, **FAST) as dying:
        event_id = await enqueue(hapi, c, {"claim_id": "c-2"})
        assert await asyncio.to_thread(slow.arrived.wait, WAIT_SECONDS)
        dying.stop(grace=0)  # killed with the request in flight: no answer is recorded
    async with hapi.sessions() as session:
        row = await session.get(OutboxEvent, event_id)
    assert row is not None
    assert (row.status, row.attempts) == (EventStatus.PENDING, 0)
    assert row.locked_until is not None
    lease_ends = row.locked_until.timestamp()

    assert slow.hold is not None
    slow.hold.set()  # the insurer processes the held request; its answer goes nowhere
    with delivery_thread(hooks_url, **FAST):
        await delivered(hapi, event_id)
    (first_id, _), (second_id, second_at) = slow.requests
    assert first_id == second_id == event_id
    assert second_at >= lease_ends - 0.05, "sent again only once the lease ran out"
    assert set(slow.accepted) == {event_id}, "one event, however often it came"
    assert slow.refused == 0
    log = await hapi.call("GET", "/insurer/deliveries", c.token)
    assert [(d["event_id"], d["status_code"]) for d in log] == [(event_id, 200)]


async def test_only_insurers_reach_their_events_and_each_only_its_own(hapi: Api) -> None:
    a = await insurer(hapi)
    b = await insurer(hapi)
    mine = await enqueue(hapi, a, {"n": 1})
    theirs = await enqueue(hapi, b, {"n": 2})
    assert [e["id"] for e in (await hapi.call("GET", "/insurer/events", a.token))["events"]] == [
        mine
    ]
    assert [e["id"] for e in (await hapi.call("GET", "/insurer/events", b.token))["events"]] == [
        theirs
    ]

    shop = await hapi.register_merchant()
    others = {
        "consumer": await hapi.consumer(),
        "merchant": shop["token"],
        "regulator": await hapi.staff(Role.REGULATOR),
        "operator": await hapi.staff(Role.OPERATOR),
    }
    for role, token in others.items():
        for path in INSURER_PATHS[:2]:
            refused = await hapi.call("GET", path, token, expect=403)
            assert refused["status"] == 403, role
        await hapi.call("PUT", "/insurer/webhook", token, json={"url": None}, expect=403)
        await hapi.call("POST", "/insurer/webhook/secret", token, expect=403)
    await hapi.call("GET", "/insurer/events", expect=401)

    unlinked = await hapi.staff(Role.INSURER)
    await hapi.call("GET", "/insurer/events", unlinked, expect=404)


async def test_an_insurer_sets_its_endpoint_and_rotates_its_secret(hapi: Api) -> None:
    a = await insurer(hapi)
    url = "https://hooks.insurer.example/prepaid-guard"
    assert await hapi.call("PUT", "/insurer/webhook", a.token, json={"url": url}) == {"url": url}
    refused = await hapi.call(
        "PUT", "/insurer/webhook", a.token, json={"url": "ftp://x.example/"}, expect=422
    )
    assert refused["errors"][0]["field"] == "url"
    await hapi.call("PUT", "/insurer/webhook", a.token, json={"url": "x" * 3000}, expect=400)
    assert await hapi.call("PUT", "/insurer/webhook", a.token, json={"url": None}) == {"url": None}

    new = await hapi.call("POST", "/insurer/webhook/secret", a.token)
    assert new["secret"].startswith("whsec_")
    assert new["secret"] != a.secret
    raw = await hapi.client.post(
        "/insurer/webhook/secret", headers={"Authorization": f"Bearer {a.token}"}
    )
    assert raw.headers["cache-control"] == "no-store"
    async with hapi.sessions() as session:
        insurer_row = await session.get(Insurer, a.insurer_id)
        assert insurer_row is not None
        stored = service.secret_of(PiiCipher.from_master_key(), insurer_row)
    assert stored == raw.json()["secret"]


PGUARD = (
    "import click; from app.outbox.commands import COMMANDS; from app.workers import worker;"
    " click.Group('pguard', commands=[*COMMANDS, worker])()"
)
"""``pguard`` with only this package's commands (until ``app.cli`` registers them)."""


async def pguard(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run a command off the event loop (it may take seconds to start)."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", PGUARD, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def start_pguard(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", PGUARD, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_pguard_insurers_create_and_pguard_worker(
    hapi: Api,
    hooks_url: str,
    receiver: Receiver,
    cli_env: Callable[[str], dict[str, str]],
) -> None:
    env = cli_env(hooks_url)
    endpoint = Endpoint("")
    name = f"命令行保险 {uuid.uuid4().hex[:8]}"
    url = receiver.add(endpoint)
    created = await pguard(env, "insurers", "create", "--name", name, "--webhook-url", url)
    assert created.returncode == 0, created.stderr
    endpoint.secret = created.stdout.splitlines()[-1]
    assert endpoint.secret.startswith("whsec_")
    async with hapi.sessions() as session:
        insurer_id = await session.scalar(select(Insurer.id).where(Insurer.name == name))
    assert insurer_id is not None

    again = await pguard(env, "insurers", "create", "--name", name)
    assert again.returncode == 1
    assert "exists" in again.stderr

    worker = start_pguard(env, "worker", "--poll", "0.05")
    try:
        async with hapi.sessions() as session, session.begin():
            event_id = await service.enqueue(session, insurer_id, "claim.paid", {"n": 1})
        await delivered(hapi, event_id)
        worker.send_signal(signal.SIGTERM)
        out, err = await asyncio.to_thread(worker.communicate, timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, err
    assert "workers stopped" in out
    assert endpoint.accepted == [event_id]
