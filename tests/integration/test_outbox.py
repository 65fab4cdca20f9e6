"""The outbox on PostgreSQL: written with the change, leased, retried with backoff, signed.

The tests run on a database of their own, so that a delivery pass sees only their events;
insurers' endpoints are an in-process HTTP transport (tests/e2e/test_webhooks.py has a real
server). After each test every event still pending is settled, so none leaks to the next.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import dataclasses
import re
import time
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlalchemy import func, select, update
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from app.auth.admin import create_staff
from app.auth.models import Role, User
from app.auth.principal import Principal
from app.clock import utcnow
from app.db import create_engine, session_factory
from app.exceptions import Forbidden, Invalid, NotFound
from app.insurance.models import Insurer
from app.outbox import service, signing
from app.outbox.models import DeliveryAttempt, EventStatus, OutboxEvent
from app.outbox.worker import DeliveryWorker, Outcome, backoff
from app.security.pii import PiiCipher
from app.settings import get_settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from tests.conftest import Databases

EVENT_ID = re.compile(r"^msg_[a-z2-7]{26}$")


@pytest.fixture(scope="module")
async def outbox_engine(databases: Databases) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(databases.create(), pool_size=10, max_overflow=10)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
def db(outbox_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(outbox_engine)


@pytest.fixture(scope="module")
def cipher() -> PiiCipher:
    return PiiCipher.from_master_key()


@pytest.fixture(autouse=True)
async def settle(db: async_sessionmaker[AsyncSession]) -> AsyncIterator[None]:
    yield
    async with db() as session, session.begin():
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.status == EventStatus.PENDING)
            .values(status=EventStatus.DELIVERED, locked_until=None)
        )


class Endpoint:
    """An insurer's endpoint: verifies like an insurer would, answers from a script."""

    def __init__(
        self, secret: str, answers: list[int] | None = None, *, delay: float = 0.0
    ) -> None:
        self.secret = secret
        self.answers = answers or []
        self.delay = delay
        self.received: list[tuple[str, int]] = []
        self.refused = 0
        self.in_flight: collections.Counter[str] = collections.Counter()
        self.overlaps = 0
        self.entered = asyncio.Event()
        self.hold: asyncio.Event | None = None

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        try:
            body = Webhook(self.secret).verify(request.content, dict(request.headers))
        except WebhookVerificationError:
            self.refused += 1
            return httpx.Response(401)
        msg_id = request.headers["webhook-id"]
        assert body["type"]
        assert request.headers["content-type"] == "application/json"
        self.in_flight[msg_id] += 1
        if self.in_flight[msg_id] > 1:
            self.overlaps += 1
        try:
            self.entered.set()
            if self.hold is not None:
                await self.hold.wait()
            await asyncio.sleep(self.delay)
            status = self.answers.pop(0) if self.answers else 200
            self.received.append((msg_id, status))
            return httpx.Response(status, text="" if status < 300 else "insurer down")
        finally:
            self.in_flight[msg_id] -= 1

    def ids(self) -> list[str]:
        return [i for i, _ in self.received]


def worker(
    db: async_sessionmaker[AsyncSession], cipher: PiiCipher, endpoint: Endpoint, **kw: float
) -> DeliveryWorker:
    http = httpx.AsyncClient(transport=httpx.MockTransport(endpoint))
    kw.setdefault("jitter", 0.0)
    return DeliveryWorker(db, cipher, http=http, **kw)  # type: ignore[arg-type]


async def new_insurer(
    db: async_sessionmaker[AsyncSession], cipher: PiiCipher, *, url: bool = True
) -> tuple[uuid.UUID, str]:
    tag = uuid.uuid4().hex[:10]
    async with db() as session, session.begin():
        insurer, secret = await service.create_insurer(
            session,
            cipher,
            name=f"保险 {tag}",
            webhook_url=f"https://insurer-{tag}.example/hooks" if url else None,
        )
    return insurer.id, secret


async def enqueue(
    db: async_sessionmaker[AsyncSession], insurer_id: uuid.UUID, n: int = 1
) -> list[str]:
    async with db() as session, session.begin():
        return [
            await service.enqueue(session, insurer_id, "claim.triggered", {"n": i})
            for i in range(n)
        ]


async def event(db: async_sessionmaker[AsyncSession], event_id: str) -> OutboxEvent:
    async with db() as session:
        row = await session.get(OutboxEvent, event_id)
    assert row is not None
    return row


async def attempts_of(db: async_sessionmaker[AsyncSession], event_id: str) -> list[DeliveryAttempt]:
    async with db() as session:
        rows = await session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.event_id == event_id)
            .order_by(DeliveryAttempt.id)
        )
        return list(rows)


async def seconds_until_due(db: async_sessionmaker[AsyncSession], event_id: str) -> float:
    async with db() as session:
        left = await session.scalar(
            select(OutboxEvent.next_attempt_at - func.now()).where(OutboxEvent.id == event_id)
        )
    assert isinstance(left, timedelta)
    return left.total_seconds()


# --- writing events ---------------------------------------------------------------------


async def test_enqueue_writes_a_standard_webhooks_body(
    db: async_sessionmaker[AsyncSession], cipher: PiiCipher
) -> None:
    insurer_id, _ = await new_insurer(db, cipher)
    claim = uuid.uuid4()
    async with db() as session, session.begin():
        event_id = await service.enqueue(
            session, insurer_id, "claim.triggered", {"claim_id": claim, "total_fen": 120_000}
        )
    assert EVENT_ID.match(event_id), event_id
    row = await event(db, event_id)
    assert row.status == EventStatus.PENDING
    assert row.attempts == 0
    assert row.locked_until is None
    assert set(row.payload) == {"type", "timestamp", "data"}
    assert row.payload["type"] == "claim.triggered"
    assert row.payload["data"] == {"claim_id": str(claim), "total_fen": 120_000}
    assert row.payload["timestamp"].endswith("Z")


async def test_an_event_rolled_back_with_its_change_leaves_nothing(
    db: async_sessionmaker[AsyncSession], cipher: PiiCipher
) -> None:
    insurer_id, _ = await new_insurer(db, cipher)
    async with db() as session:
        await session.begin()
        event_id = await service.enqueue(session, insurer_id, "claim.triggered", {})
        await session.rollback()  # the change failed, so its event never happened
    async with db() as session:
        assert await session.get(OutboxEvent, event_id) is None
        assert await service.events_after(session, insurer_id, 0, 100) == []


async def test_enqueue_refuses_a_malformed_type_and_an_unknown_insurer(
    db: async_sessionmaker[AsyncSession], cipher: PiiCipher
) -> None:
    insurer_id, _ = await new_insurer(db, cipher)
    async with db() as session, session.begin():
        for bad in ("", "Claim Triggered", "claim..paid", "x" * 65):
            with pytest.raises(Invalid):
                await service.enqueue(session, insurer_id, bad, {})
        with pytest.raises(NotFound):
            await service.enqueue(session, uuid.uuid4(), "claim.triggered", {})


async def test_an_insurers_events_commit_in_seq_order_so_pulling_never_skips_one(
    db: async_sessionmaker[AsyncSession], cipher: PiiCipher
) -> None:
    insurer_id, _ = await new_insurer(db, cipher)
    async with db() as first:
        await first.begin()
        early = await service.enqueue(first, insurer_id, "claim.triggered", {"who": "first"})

        async def second_writer() -> str:
            async with db() as session, session.begin():
                return await service.enqueue(session, insurer_id, "claim.paid", {})

        second = asyncio.create_task(second_writer())
        await asyncio.sleep(0.3)
        assert not second.done(), "a second writer must wait for the first to commit"
        await first.commit()
    late = await second
    assert (await event(db, early)).seq < (await event(db, late)).seq


# --- delivering ---------------------------------------------------------------------


async def test_two_concurrent_passes_never_send_one_event_twice(
    db: async_sessionmaker[AsyncSession], cipher: PiiCipher
) -> None:
    insurer_id, secret = await new_insurer(db, cipher)
    ids = await enqueue(db, insurer_id, 40)
    endpoint = Endpoint(secret, delay=0.02)
    one, two = worker(db, cipher, endpoint), worker(db, cipher, endpoint)
    tried = []
    for _ in range(10):
        a, b = await asyncio.gather(one.deliver_due(7), two.deliver_due(7))
        tried.append((a, b))
        if a == b == 0:
            break
    await one.aclose()
    await two.aclose()
    assert sum(a + b for a, b in tried) == 40
    assert any(a and b for a, b in tried), "both workers should have delivered at once"
    assert endpoint.overlaps == 0
    assert sorted(endpoint.ids()) == sorted(ids)
    assert endpoint.refused == 0
    for event_id in ids:
        row = await event(db, event_id)
        assert (row.status, row.attempts, row.locked_until) == (EventStatus.DELIVERED, 1, None)


def test_backoff_doubles_from_the_base_up_to_an_hour() -> None:
    schedule = [backoff(n, jitter=0) for n in range(1, 15)]
    assert schedule == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600]
    assert backoff(10_000, jitter=0) == 3600
    assert backoff(3, base=0.01, jitter=0) == pytest.approx(0.04)
    jittered = [backoff(4) for _ in range(200)]
    assert all(8 * 0.9 <= d <= 8 for d in jittered)
    assert len(set(jittered)) > 1


async def wait_after(db: async_sessionmaker[AsyncSession], event_id: str) -> float:
    """Seconds from the start of the last attempt to the next (backoff plus the attempt)."""
    row = await event(db, event_id)
    last = (await attempts_of(db, event_id))[-1]
    return (row.next_attempt_at - last.attempted_at).total_seconds()


async def test_a_refused_delivery_waits_its_backoff_then_is_retried(
    db: async_sessionmaker[AsyncSession], cipher: PiiCipher
) -> None:
    insurer_id, secret = await new_insurer(db, cipher)
    (event_id,) = await enqueue(db, insurer_id)
    endpoint = Endpoint(secret, [500, 503])
    delivery = worker(db, cipher, endpoint, backoff_base=0.5)

    assert await delivery.deliver_due() == 1
    row = await event(db, event_id)
    assert (row.status, row.attempts, row.locked_until) == (EventStatus.PENDING, 1, None)
    assert row.last_error is not None
    assert row.last_error == "HTTP 500"  # the status only: the answer's body is not kept
    assert 0.5 <= await wait_after(db, event_id) < 1.0
    assert await delivery.deliver_due() == 0, "not due before its backoff"

    await asyncio.sleep(await seconds_until_due(db, event_id) + 0.02)
    assert await delivery.deliver_due() == 1
    assert (await event(db, event_id)).attempts == 2
    assert 1.0 <= await wait_after(db, event_id) < 1.5

    await asyncio.sleep(await seconds_until_due(db, event_id) + 0.02)
    assert await delivery.deliver_due() == 1
    row = await event(db, event_id)
    assert (row.status, row.attempts, row.last_error) == (EventStatus.DELIVERED, 3, None)
    assert row.delivered_at is not None
    await delivery.aclose()
    assert [a.status_code for a in await attempts_of(db, event_id)] == [500, 503, 200]
    assert endpoint.ids() == [event_id] * 3


async def test_an_unreachable_endpoint_counts_as_a_failed_attempt(
    db: async_sessionmaker[AsyncSession], cipher: PiiCipher
) -> None:
    insurer_id, _ = await new_insurer(db, cipher)
    async with db() as session, session.begin():
        # Nothing listens on port 9 (discard) of localhost here.
        await service.set_webhook_url(session, insurer_id, "http://127.0.0.1:9/hooks")
    (event_id,) = await enqueue(db, insurer_id)
    delivery = DeliveryWorker(db, cipher, timeout=2, lease_seconds=5, jitter=0)
    assert await delivery.deliver_due() == 1
    await delivery.aclose()
    row = await event(db, event_id)
    assert (row.status, row.attempts) == (EventStatus.PENDING, 1)
    assert row.last_error is not None
    assert row.last_error.startswith("ConnectError")
    (attempt,) = await attempts_of(db, event_id)
    assert attempt.status_code is None


async def test_a_worker_that_dies_mid_delivery_leaves_a_lease_that_expires(
    db: async_sessionmaker[AsyncSession], cipher: PiiCipher
) -> None:
    insurer_id, secret = await new_insurer(db, cipher)
    (event_id,) = await enqueue(db, insurer_id)
    endpoint = Endpoint(secret)
    endpoint.hold = asyncio.Event()
    dying = worker(db, cipher, endpoint, lease_seconds=1.0, timeout=0.8)
    in_hand = asyncio.create_task(dying.deliver_due())
    await asyncio.wait_for(endpoint.entered.wait(), 5)
    in_hand.cancel()  # the process dies with the request in flight
    with pytest.raises(asyncio.CancelledError):
        await in_hand
    await dying.aclose()

    row = await event(db, event_id)
    assert row.status == EventStatus.PENDING
    assert row.locked_until is not None
    assert row.attempts == 0
    assert await attempts_of(db, event_id) == []

    endpoint.hold = None
    other = worker(db, cipher, endpoint, lease_seconds=1.0, timeout=0.8)
    assert await other.deliver_due() == 0, "the lease keeps a second worker off"
    deadline = time.monotonic() + 10
    while await other.deliver_due() == 0:
        assert time.monotonic() < deadline, "the lease never ran out"
        await asyncio.sleep(0.1)
    await other.aclose()
    row = await event(db, event_id)
    assert (row.status, row.attempts) == (EventStatus.DELIVERED, 1)
    assert endpoint.ids() == [event_id]
    assert len(await attempts_of(db, event_id)) == 1


async def test_a_worker_whose_lease_ran_out_does_not_overrule_the_next_one(
    db: async_sessionmaker[AsyncSession], cipher: PiiCipher
) -> None:
    insurer_id, secret = await new_insurer(db, cipher)
    (event_id,) = await enqueue(db, insurer_id)
    endpoint = Endpoint(secret)
    slow, fast = worker(db, cipher, endpoint), worker(db, cipher, endpoint)
    (taken,) = await slow._claim(10)
    async with db() as session, session.begin():
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id == event_id)
            .values(locked_until=func.now() - timedelta(seconds=1))
        )
    (retaken,) = await fast._claim(10)
    assert retaken.lease > taken.lease

    await slow._record(taken, Outcome(utcnow(), 10_000, None, "no answer within 10 s"))
    row = await event(db, event_id)
    assert (row.attempts, row.locked_until, row.last_error) == (0, retaken.lease, None)

    await fast._record(retaken, Outcome(utcnow(), 12, 204, None))
    row = await event(db, event_id)
    assert (row.status, row.attempts, row.locked_until) == (EventStatus.DELIVERED, 1, None)
    assert [a.status_code for a in await attempts_of(db, event_id)] == [None, 204]
    await slow.aclose()
    await fast.aclose()


async def test_an_insurer_without_a_url_pulls_and_costs_no_attempts(
    db: async_sessionmaker[AsyncSession], cipher: PiiCipher
) -> None:
    insurer_id, secret = await new_insurer(db, cipher, url=False)
    ids = await enqueue(db, insurer_id, 3)
    endpoint = Endpoint(secret)
    delivery = worker(db, cipher, endpoint)
    assert await delivery.deliver_due() == 0
    async with db() as session:
        pulled = await service.events_after(session, insurer_id, 0, 2)
        assert [e.id for e in pulled] == ids[:2]
        rest = await service.events_after(session, insurer_id, pulled[-1].seq, 10)
        assert [e.id for e in rest] == ids[2:]
    assert [(await event(db, i)).attempts for i in ids] == [0, 0, 0]

    async with db() as session, session.begin():
        await service.set_webhook_url(session, insurer_id, "https://new.example/hooks")
    assert await delivery.deliver_due() == 3
    await delivery.aclose()
    assert sorted(endpoint.ids()) == sorted(ids)


async def test_a_new_url_makes_backed_off_events_due_at_once(
    db: async_sessionmaker[AsyncSession], cipher: PiiCipher
) -> None:
    insurer_id, secret = await new_insurer(db, cipher)
    (event_id,) = await enqueue(db, insurer_id)
    endpoint = Endpoint(secret, [500])
    delivery = worker(db, cipher, endpoint, backoff_base=600)
    assert await delivery.deliver_due() == 1
    assert await seconds_until_due(db, event_id) > 500
    async with db() as session, session.begin():
        await service.set_webhook_url(session, insurer_id, "https://fixed.example/hooks")
    assert await delivery.deliver_due() == 1
    await delivery.aclose()
    assert (await event(db, event_id)).status == EventStatus.DELIVERED


# --- insurers, secrets, signatures ---------------------------------------------------------


async def test_a_new_insurers_secret_is_returned_once_and_stored_encrypted(
    db: async_sessionmaker[AsyncSession], cipher: PiiCipher
) -> None:
    insurer_id, secret = await new_insurer(db, cipher)
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    async with db() as session:
        insurer = await session.get(Insurer, insurer_id)
        assert insurer is not None
        assert secret.encode() not in insurer.webhook_secret_enc
        assert service.secret_of(cipher, insurer) == secret
    async with db() as session, session.begin():
        with pytest.raises(Exception, match="exists"):
            await service.create_insurer(session, cipher, name=insurer.name)


async def test_after_rotation_deliveries_are_signed_with_the_new_secret(
    db: async_sessionmaker[AsyncSession], cipher: PiiCipher
) -> None:
    insurer_id, old = await new_insurer(db, cipher)
    async with db() as session, session.begin():
        new = await service.rotate_secret(session, cipher, insurer_id)
    assert new != old
    (event_id,) = await enqueue(db, insurer_id)
    stale = Endpoint(old)
    delivery = worker(db, cipher, stale)
    assert await delivery.deliver_due() == 1
    assert stale.refused == 1
    await delivery.aclose()

    async with db() as session, session.begin():
        await service.set_webhook_url(session, insurer_id, "https://insurer.example/hooks")
    current = Endpoint(new)
    delivery = worker(db, cipher, current)
    assert await delivery.deliver_due() == 1
    await delivery.aclose()
    assert current.ids() == [event_id]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://insurer.example/hooks",
        "insurer.example/hooks",
        "https://",
        "https://user:pw@insurer.example/hooks",
        "https://insurer.example/ho oks",
        "https://insurer.example:port/hooks",
        "https://insurer.example/hooks#frag",
        "https://insurer.example/" + "x" * 2048,
    ],
)
def test_unusable_webhook_urls_are_refused(url: str) -> None:
    with pytest.raises(Invalid) as refused:
        service.check_webhook_url(url)
    assert "url" in refused.value.fields


def test_usable_webhook_urls_are_kept() -> None:
    for url in ("https://insurer.example/hooks?x=1", "http://10.0.0.5:8080/h", "https://[::1]/"):
        assert service.check_webhook_url(f" {url} ") == url


def test_our_signatures_verify_with_the_reference_library_and_back() -> None:
    secret = signing.new_secret()
    body = '{"type":"claim.triggered","data":{"名":"张三"}}'.encode()
    headers = signing.sign(secret, "msg_abc", body)
    assert Webhook(secret).verify(body, headers)["data"] == {"名": "张三"}
    assert signing.verify(secret, headers, body) == "msg_abc"

    theirs = Webhook(secret).sign("msg_abc", utcnow(), body.decode())
    two = {**headers, "webhook-signature": f"v1,bm90IGl0 {theirs}"}
    assert signing.verify(secret, two, body) == "msg_abc"

    with pytest.raises(signing.BadSignature):
        signing.verify(secret, headers, body + b" ")
    with pytest.raises(signing.BadSignature):
        signing.verify(signing.new_secret(), headers, body)
    with pytest.raises(signing.BadSignature):
        signing.verify(secret, headers, body, now=time.time() + 301)
    with pytest.raises(signing.BadSignature):
        signing.verify(secret, {"webhook-id": "msg_abc"}, body)
    old = signing.sign(secret, "msg_abc", body, timestamp=int(time.time()) - 600)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, old)


# --- an insurer's view ---------------------------------------------------------------------


async def test_the_delivery_log_shows_only_the_insurers_own_attempts(
    db: async_sessionmaker[AsyncSession], cipher: PiiCipher
) -> None:
    a, secret_a = await new_insurer(db, cipher)
    b, _ = await new_insurer(db, cipher)
    (event_id,) = await enqueue(db, a)
    endpoint = Endpoint(secret_a, [502])
    delivery = worker(db, cipher, endpoint, backoff_base=0.01)
    assert await delivery.deliver_due() == 1
    await asyncio.sleep(0.05)
    assert await delivery.deliver_due() == 1
    await delivery.aclose()
    async with db() as session:
        log = await service.deliveries(session, a, 10)
        assert [(d.event_id, d.status_code) for d in log] == [(event_id, 200), (event_id, 502)]
        assert log[1].error is not None
        assert log[1].error.startswith("HTTP 502")
        assert log[0].event_type == "claim.triggered"
        assert await service.deliveries(session, b, 10) == []
        assert await service.events_after(session, b, 0, 10) == []


async def test_insurer_of_finds_the_callers_insurer_or_refuses(
    db: async_sessionmaker[AsyncSession], cipher: PiiCipher
) -> None:
    insurer_id, _ = await new_insurer(db, cipher)
    async with db() as session, session.begin():
        linked = await create_staff(
            session,
            username=f"ins-{uuid.uuid4().hex[:10]}@test",
            password="correct horse battery",
            role=Role.INSURER,
        )
        unlinked = await create_staff(
            session,
            username=f"ins-{uuid.uuid4().hex[:10]}@test",
            password="correct horse battery",
            role=Role.INSURER,
        )
        await session.execute(
            update(User).where(User.id == linked.id).values(insurer_id=insurer_id)
        )
    async with db() as session:
        me = Principal(role=Role.INSURER, user_id=linked.id)
        assert await service.insurer_of(session, me) == insurer_id
        with pytest.raises(NotFound):
            await service.insurer_of(session, Principal(role=Role.INSURER, user_id=unlinked.id))
        for role in (Role.REGULATOR, Role.OPERATOR, Role.MERCHANT, Role.CONSUMER):
            with pytest.raises(Forbidden):
                await service.insurer_of(session, Principal(role=role, user_id=linked.id))


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://insurer.example/hooks", "webhook-url-https-only"),
        ("https://127.0.0.1:5432/", "webhook-host-private"),
        ("https://169.254.169.254/latest/meta-data", "webhook-host-private"),
        ("https://[::1]:8000/", "webhook-host-private"),
        ("https://10.0.0.7/hooks", "webhook-host-private"),
    ],
)
async def test_production_refuses_webhooks_into_private_networks(
    monkeypatch: pytest.MonkeyPatch, url: str, problem: str
) -> None:
    production = dataclasses.replace(get_settings(), webhook_private_addresses=False)
    monkeypatch.setattr(service, "get_settings", lambda: production)
    found = await service.address_problem(url)
    assert found is not None
    assert problem in found
    with pytest.raises(Invalid) as refused:
        await service._usable(url)
    assert refused.value.fields == {"url": found}
