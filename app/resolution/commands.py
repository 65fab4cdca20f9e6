"""``pguard merchants resolution-pack MERCHANT --out FILE``: the operator's copy of a pack."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    import uuid

    from app.resolution.pack import Pack


@click.command("resolution-pack")
@click.argument("merchant", type=click.UUID)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Where to write the ZIP (an existing file is replaced).",
)
def resolution_pack(merchant: uuid.UUID, out: Path) -> None:
    """Build the merchant's signed resolution pack as the operator (personal data in full).

    The pack is recorded like one taken on a page. Exits 1 for an unknown merchant.
    """
    from app.auth.models import Role  # noqa: PLC0415 - the rest loads when the command runs
    from app.auth.principal import Principal  # noqa: PLC0415
    from app.db import create_engine, session_factory  # noqa: PLC0415
    from app.exceptions import NotFound  # noqa: PLC0415
    from app.resolution import pack  # noqa: PLC0415

    async def go() -> Pack:
        engine = create_engine()
        try:
            async with session_factory(engine)() as session:
                return await pack.build(session, Principal(role=Role.OPERATOR), merchant)
        finally:
            await engine.dispose()

    try:
        built = asyncio.run(go())
    except NotFound:
        raise click.ClickException(f"no merchant {merchant}") from None
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(built.data)
    tmp.replace(out)
    click.echo(
        f"{out}: {built.cards} cards, {built.owed_fen} fen owed, {built.entries} ledger entries,"
        f" manifest sha256 {built.manifest_sha256}"
    )
