"""What runs beside the app in end-to-end tests: background workers on their own threads, an
insurer's webhook receiver, a live scoring model.

The test client serves requests on an event loop of its own and blocks the tests' loop while
it does, so a worker sharing the tests' loop could hold a row lock that a request waits for.
Each worker here runs on a thread with its own loop and connections, as it would in
``pguard worker`` or inside ``pguard run``: independent.
"""

from __future__ import annotations

import asyncio
import csv
import json
import tempfile
import threading
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import pytest
from litestar.testing import AsyncTestClient
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from app.asgi import create_app
from app.db import create_engine, session_factory
from app.outbox.worker import DeliveryWorker
from app.risk.service import add_model
from app.risk.worker import RerateWorker
from app.security.pii import PiiCipher
from scoring import MONOTONE, dumps, fit, read_table, reference_row
from scoring.dataset import training_rows
from scoring.synth import generate
from tests.e2e.api import Api, InsurerAccount

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from datetime import date

    from sqlalchemy.ext.asyncio import AsyncEngine

    from tests.conftest import Databases

WAIT_SECONDS = 30
"""How long a test waits for a background worker before failing (not a speed target)."""


@cache
def live_model() -> bytes:
    """A live model fitted on synthetic merchants, as ``pguard scoring train`` would save it."""
    folder = Path(tempfile.mkdtemp(prefix="pguard-model-"))
    header, rows = training_rows(generate(1200, seed=3))
    path = folder / "training.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    table = read_table(path, label="defaulted", positive="yes")
    model = fit(table, monotone=MONOTONE)
    data, _ = dumps(model, training=table.summary(), metrics={}, reference=reference_row(table))
    return data


@dataclass
class Endpoint:
    """One insurer's endpoint on the receiver, and everything it saw."""

    secret: str
    fail_first: int = 0
    hold: threading.Event | None = None
    """Hold request number ``hold_at`` until set: a slow insurer."""
    hold_at: int = 1
    arrived: threading.Event = field(default_factory=threading.Event)
    requests: list[tuple[str, float]] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    """The event type of each accepted request, in the same order."""
    """Ids the insurer processed; it dedupes on them, so a repeat is harmless."""
    refused: int = 0


class Receiver:
    """A real HTTP server on a thread, as an insurer would run, one path per insurer."""

    def __init__(self) -> None:
        self.endpoints: dict[str, Endpoint] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                endpoint = receiver.endpoints.get(self.path)
                if endpoint is None:
                    self._answer(404)
                    return
                try:
                    Webhook(endpoint.secret).verify(body, dict(self.headers.items()))
                except WebhookVerificationError:
                    with receiver.lock:
                        endpoint.refused += 1
                    self._answer(401)
                    return
                msg_id = self.headers["webhook-id"]
                with receiver.lock:
                    endpoint.requests.append((msg_id, time.time()))
                    nth = len(endpoint.requests)
                if nth <= endpoint.fail_first:
                    self._answer(500)
                    return
                if endpoint.hold is not None and nth == endpoint.hold_at:
                    endpoint.arrived.set()
                    endpoint.hold.wait(WAIT_SECONDS)
                with receiver.lock:
                    endpoint.accepted.append(msg_id)
                    endpoint.types.append(str(json.loads(body).get("type")))
                self._answer(200)

            def _answer(self, status: int) -> None:
                try:
                    self.send_response(status)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender is gone (a stopped worker); its answer is lost

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, endpoint: Endpoint) -> str:
        path = f"/hooks/{uuid.uuid4().hex}"
        self.endpoints[path] = endpoint
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        for endpoint in self.endpoints.values():
            if endpoint.hold is not None:
                endpoint.hold.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


class WorkerThread:
    """A background worker on a thread with its own event loop and connections.

    ``kind`` is ``rerate`` (the re-rating worker, ``settings`` its ``interval`` and
    ``fallback``) or ``delivery`` (webhook delivery, taking ``settings`` such as tiny
    backoffs); :meth:`stop` with ``grace=0`` cancels deliveries in flight, as if the process
    were killed.
    """

    def __init__(self, url: str, kind: str = "rerate", **settings: float) -> None:
        self.url = url
        self.kind = kind
        self.settings = settings
        self.grace: float | None = None
        self.started = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping: asyncio.Event | None = None
        self.thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        engine = create_engine(self.url, pool_size=2, max_overflow=2)
        sessions = session_factory(engine)
        if self.kind == "delivery":
            delivery = DeliveryWorker(
                sessions,
                PiiCipher.from_master_key(),
                **self.settings,  # type: ignore[arg-type]
            )
            delivery.start()
            self.started.set()
            await self.stopping.wait()
            await delivery.stop(grace=self.grace)
        else:
            rerate = RerateWorker(sessions, **{"interval": 0.05, **self.settings})
            rerate.start()
            self.started.set()
            await self.stopping.wait()
            await rerate.stop()
        await engine.dispose()

    def __enter__(self) -> Self:
        self.thread.start()
        assert self.started.wait(30)
        return self

    def stop(self, *, grace: float | None = None) -> None:
        """Stop after the work in hand (``grace=0``: cancel deliveries in flight)."""
        if not self.thread.is_alive():
            return
        assert self.loop is not None
        assert self.stopping is not None
        self.grace = grace
        self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(30)
        assert not self.thread.is_alive()

    def __exit__(self, *_: object) -> None:
        self.stop()


def delivery_thread(url: str, **settings: float) -> WorkerThread:
    """The webhook delivery worker on its own thread."""
    return WorkerThread(url, "delivery", **settings)


async def insurer(api: Api, url: str | None = None) -> InsurerAccount:
    """A new insurer and a signed-in member of its staff."""
    return await api.new_insurer(url)


@asynccontextmanager
async def rated_database(databases: Databases) -> AsyncIterator[AsyncEngine]:
    """A database of its own whose merchants the live model rates (activating a model re-rates
    every merchant, so other tests' merchants must not be there)."""
    engine = create_engine(databases.create(), pool_size=5, max_overflow=10)
    async with session_factory(engine)() as session, session.begin():
        await add_model(session, live_model(), activate=True, by=None)
    try:
        yield engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def api_on(engine: AsyncEngine) -> AsyncIterator[Api]:
    """The API driver on an app of its own over ``engine`` (a test module's own database)."""
    async with AsyncTestClient(app=create_app(engine)) as client:
        yield Api(client, session_factory(engine))


async def until(check: Callable[[], Any], what: str) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy; fail saying ``what``."""
    for _ in range(WAIT_SECONDS * 10):
        found = check()
        if asyncio.iscoroutine(found):
            found = await found
        if found:
            return found
        await asyncio.sleep(0.1)
    pytest.fail(f"gave up waiting for {what}")


async def rating_when(
    api: Api, token: str, merchant_id: str, ready: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The merchant's rating once ``ready`` holds (the worker re-rates in the background)."""

    async def rated() -> dict[str, Any] | None:
        response = await api.client.get(
            f"/ratings/{merchant_id}", headers={"Authorization": f"Bearer {token}"}
        )
        if response.status_code == 200 and ready(response.json()):
            return dict(response.json())
        return None

    found: dict[str, Any] = await until(rated, f"the rating of merchant {merchant_id}")
    return found


def record(
    uscc: str,
    source: str,
    kind: str,
    value: Any,
    as_of: date,
    provenance: str = "test feed",
) -> dict[str, Any]:
    """One indicator record as ``POST /indicators`` takes it."""
    return {
        "uscc": uscc,
        "source": source,
        "kind": kind,
        "value": value,
        "as_of": as_of.isoformat(),
        "provenance": provenance,
    }
