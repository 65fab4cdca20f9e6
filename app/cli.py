"""``pguard``: the product's command line. These command names are a stable interface."""

from __future__ import annotations

import asyncio
import os
import sys

import click

from app.settings import get_settings


@click.group()
def main() -> None:
    """Prepaid Guard: keeps consumers' prepaid money safe."""


@main.command()
@click.option("--host", default=None, help="Interface to bind (default PGUARD_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default PGUARD_PORT or 8000).")
def run(host: str | None, port: int | None) -> None:
    """Serve the API; on the embedded database, bring the schema up to date first."""
    import uvicorn  # noqa: PLC0415 - keep other commands quick to start

    from app.db import database_url, upgrade_schema  # noqa: PLC0415

    settings = get_settings()
    host = host or settings.server.host
    port = port or settings.server.port
    url = database_url()
    if settings.database.url is None:
        upgrade_schema(url)
        click.echo("embedded PostgreSQL ready, schema up to date")
    click.echo(f"Prepaid Guard on http://{host}:{port}/  (API schema: /schema, health: /health)")
    uvicorn.run(
        "app.asgi:create_app",
        factory=True,
        host=host,
        port=port,
        log_config=None,
        forwarded_allow_ips=settings.trusted_proxies,
    )


@main.group()
def db() -> None:
    """Database schema."""


@db.command()
def upgrade() -> None:
    """Apply every migration up to the newest (``alembic upgrade head``)."""
    from app.db import upgrade_schema  # noqa: PLC0415

    upgrade_schema()
    click.echo("schema up to date")


@db.command()
def url() -> None:
    """Print the URL of the database in use (starting the embedded one if needed)."""
    from app.db import database_url  # noqa: PLC0415

    click.echo(database_url())


@main.group()
def users() -> None:
    """Staff accounts."""


@users.command("create")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(["regulator", "insurer", "operator"]))
@click.option("--district", default=None, help="A regulator's district; omit for city level.")
@click.option("--organisation", default=None, help="The insurer's or operator's name.")
@click.password_option()
def create_user(
    username: str, role: str, district: str | None, organisation: str | None, password: str
) -> None:
    """Create a regulator, insurer or operator account."""
    from app.auth.admin import create_staff  # noqa: PLC0415
    from app.auth.models import Role  # noqa: PLC0415
    from app.db import create_engine, session_factory  # noqa: PLC0415

    async def go() -> None:
        engine = create_engine()
        try:
            async with session_factory(engine)() as session, session.begin():
                await create_staff(
                    session,
                    username=username,
                    password=password,
                    role=Role(role),
                    district=district,
                    organisation=organisation,
                )
        finally:
            await engine.dispose()

    asyncio.run(go())
    click.echo(f"{role} {username} created")


@main.group()
def ledger() -> None:
    """The escrow ledger."""


@ledger.command()
@click.option("--limit", default=20, show_default=True, help="Problems to list at most.")
def verify(limit: int) -> None:
    """Recompute every balance and hash chain from the postings.

    Prints ``ledger ok`` and exits 0, or names the first broken entry and exits 1.
    """
    from app.ledger import verify_ledger  # noqa: PLC0415

    report = asyncio.run(verify_ledger())
    if report.ok:
        click.echo(
            f"ledger ok: {report.merchants} merchants, {report.entries} entries,"
            f" {report.cards} cards"
        )
        return
    first = report.first_broken_entry
    if first is not None:
        click.echo(f"ledger broken: first broken entry is {first}")
    else:
        click.echo("ledger broken")
    for problem in report.problems[:limit]:
        click.echo(f"  {problem}")
    if len(report.problems) > limit:
        click.echo(f"  … and {len(report.problems) - limit} more")
    sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
