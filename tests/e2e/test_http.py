"""The app over HTTP: health, the OpenAPI schema, and problem details for every error."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import httpx
import pytest
from litestar import Litestar, get
from litestar.params import FromPath
from litestar.testing import AsyncTestClient

import escrow
from app.asgi import create_app
from app.db import create_engine, head_revision
from app.errors import exception_handlers
from app.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.conftest import Databases


async def test_health_reports_database_and_revision(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {
        "reachable": True,
        "revision": head_revision(),
        "head": head_revision(),
        "up_to_date": True,
    }
    assert head_revision() is not None


async def test_health_is_a_503_problem_when_the_schema_is_behind(databases: Databases) -> None:
    engine = create_engine(databases.create(migrate=False))
    try:
        async with AsyncTestClient(app=create_app(engine)) as c:
            response = await c.get("/health")
    finally:
        await engine.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["database"]["revision"] is None
    assert "pguard db upgrade" in body["detail"]


async def test_openapi_schema_is_served(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["info"]["title"] == "Prepaid Guard"
    assert "/health" in spec["paths"]
    assert (await client.get("/schema")).json()["openapi"] == spec["openapi"]


async def test_unknown_route_is_a_problem_with_request_id(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.get("/no/such/thing", headers={"X-Request-ID": "trace-123"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "trace-123"
    body = response.json()
    assert body["status"] == 404
    assert body["title"] == "Not Found"
    assert body["instance"] == "/no/such/thing"
    assert body["request_id"] == "trace-123"


async def test_unsafe_request_id_is_replaced(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "bad id\nwith newline"})
    given = response.headers["x-request-id"]
    assert given != "bad id\nwith newline"
    assert len(given) == 32


async def test_wrong_method_is_a_problem(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post("/health")
    assert response.status_code == 405
    assert response.json()["title"] == "Method Not Allowed"


@get("/raise/{kind:str}", sync_to_thread=False)
def _raise(kind: FromPath[str]) -> None:
    errors: dict[str, Exception] = {
        "amount": escrow.InvalidAmount("the price paid must be greater than zero, got 0"),
        "card": escrow.UnknownCard("card 42 does not exist at this merchant"),
        "balance": escrow.InsufficientBalance("the card has 0 units left; 1 cannot be redeemed"),
        "key": escrow.IdempotencyConflict("this idempotency key was already used"),
        "frozen": escrow.BookFrozen("frozen"),
        "bug": RuntimeError("secret internals"),
    }
    raise errors[kind]


@pytest.mark.parametrize(
    ("kind", "status", "type_"),
    [
        ("amount", 400, "/problems/invalid-amount"),
        ("card", 404, "/problems/unknown-card"),
        ("balance", 409, "/problems/insufficient-balance"),
        ("key", 409, "/problems/idempotency-conflict"),
        ("frozen", 409, "/problems/book-frozen"),
        ("bug", 500, "about:blank"),
    ],
)
async def test_domain_errors_map_to_problem_details(kind: str, status: int, type_: str) -> None:
    app = Litestar([_raise], exception_handlers=exception_handlers())
    async with AsyncTestClient(app=app) as c:
        response = await c.get(f"/raise/{kind}")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == type_
    assert body["status"] == status
    if kind == "bug":
        assert "secret" not in response.text
        assert "nothing was changed" in body["detail"]
    else:
        assert body["detail"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_pguard_run_serves_real_http(
    database_url: str, cli_env: Callable[..., dict[str, str]]
) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "run", "--port", str(port)],
        env=cli_env(database_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=PROJECT_ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        response = None
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert response is not None, "the server did not come up"
        assert response.status_code == 200
        assert response.json()["database"]["up_to_date"] is True
        assert response.headers["x-request-id"]
        problem = httpx.get(f"http://127.0.0.1:{port}/missing", timeout=2)
        assert problem.headers["content-type"] == "application/problem+json"
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in output
    assert "request" in output  # the structured request log line
