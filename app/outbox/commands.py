"""``pguard insurers create``: an insurer and its webhook signing secret.

The commands import their machinery when run, so that ``pguard --help`` stays quick.
"""

from __future__ import annotations

import asyncio

import click


@click.group("insurers")
def insurers() -> None:
    """Insurers and where their events go."""


@insurers.command("create")
@click.option("--name", required=True, help="The insurer's name, unique.")
@click.option(
    "--webhook-url",
    default=None,
    help="Where to push events (http or https); omit and the insurer pulls GET /insurer/events.",
)
def create_insurer(name: str, webhook_url: str | None) -> None:
    """Create an insurer and print its webhook signing secret, the only time it is shown."""
    from app.db import create_engine, session_factory  # noqa: PLC0415
    from app.exceptions import AppError  # noqa: PLC0415
    from app.i18n import field_messages  # noqa: PLC0415
    from app.outbox import service  # noqa: PLC0415
    from app.security.pii import PiiCipher  # noqa: PLC0415

    async def go() -> tuple[str, str]:
        engine = create_engine()
        try:
            async with session_factory(engine)() as session, session.begin():
                insurer, secret = await service.create_insurer(
                    session, PiiCipher.from_master_key(), name=name, webhook_url=webhook_url
                )
                return str(insurer.id), secret
        finally:
            await engine.dispose()

    try:
        insurer_id, secret = asyncio.run(go())
    except AppError as exc:
        said = field_messages(exc, "en")
        problems = "; ".join(f"{field}: {words}" for field, words in said.items())
        raise click.ClickException(f"{exc}{f' ({problems})' if problems else ''}") from None
    click.echo(f"insurer {name.strip()} created: {insurer_id}")
    click.echo("webhook signing secret (shown only now; give it to the insurer):")
    click.echo(secret)


COMMANDS = (insurers,)
"""Register each with ``main.add_command`` in ``app.cli``."""
