"""``pguard users create``: staff accounts from the command line, an insurer's linked to it."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from click.testing import CliRunner
from sqlalchemy import select

from app.auth.models import User
from app.cli import main
from app.db import create_engine, session_factory
from app.outbox.models import Insurer

if TYPE_CHECKING:
    from collections.abc import Callable

PASSWORD = "a-long-staff-password"


def _create(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["users", "create", "--password", PASSWORD, *args], catch_exceptions=False
    )
    return result.exit_code, result.output


def _linked(url: str, username: str) -> tuple[uuid.UUID | None, str | None]:
    async def read() -> tuple[uuid.UUID | None, str | None]:
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session:
                user = await session.scalar(select(User).where(User.username == username))
                assert user is not None
                name = (
                    await session.scalar(select(Insurer.name).where(Insurer.id == user.insurer_id))
                    if user.insurer_id
                    else None
                )
                return user.insurer_id, name
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_an_insurer_account_is_linked_to_its_insurer(
    database_url: str, env: Callable[..., None]
) -> None:
    env(DATABASE_URL=database_url)
    tag = uuid.uuid4().hex[:8]
    company = f"测试保险公司 {tag}"
    code, out = _create(
        "--username", f"claims-{tag}@ins", "--role", "insurer", "--organisation", company
    )
    assert code == 0, out
    assert "webhook signing secret (shown once)" in out
    first, name = _linked(database_url, f"claims-{tag}@ins")
    assert first is not None
    assert name == company
    # a second account of the same insurer joins it; no new insurer, no secret shown
    code, out = _create(
        "--username", f"desk-{tag}@ins", "--role", "insurer", "--organisation", company
    )
    assert code == 0, out
    assert "secret" not in out
    assert _linked(database_url, f"desk-{tag}@ins")[0] == first


def test_an_insurer_account_needs_its_insurer_named(
    database_url: str, env: Callable[..., None]
) -> None:
    env(DATABASE_URL=database_url)
    result = CliRunner().invoke(
        main,
        ["users", "create", "--password", PASSWORD, "--username", "x@ins", "--role", "insurer"],
    )
    assert result.exit_code == 2
    assert "--organisation" in result.output
