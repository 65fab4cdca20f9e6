"""``pguard demo``: load the demo district, or print its sign-ins if it is loaded already.

The command imports its machinery when run, so that ``pguard --help`` stays quick.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from app.demo.loader import Outcome
    from app.demo.options import Options


@click.command("demo")
@click.option("--seed", default=7, show_default=True, help="Same seed, same district.")
@click.option(
    "--merchants",
    default=60,
    show_default=True,
    type=click.IntRange(min=4, max=500),
    help="Merchants in the district.",
)
@click.option(
    "--cards",
    default=3000,
    show_default=True,
    type=click.IntRange(min=10, max=50_000),
    help="Cards sold (about one consumer for every seven or eight cards).",
)
@click.option(
    "--only-if-empty",
    is_flag=True,
    help="Leave a database that holds other merchants alone and exit 0 (for `make run`);"
    " without it such a database is an error.",
)
def demo(seed: int, merchants: int, cards: int, *, only_if_empty: bool) -> None:
    """Load a realistic district into an empty database and print a sign-in for each role.

    About 60 merchants across industries and grades with their indicator histories, products,
    a few thousand cards with use, complaints, and one merchant in default with its claim, all
    made through the product's own services. Run again, it changes nothing and prints the
    sign-ins. Refused with PGUARD_ENV=production.
    """
    from app.demo.options import DemoRefused, Options  # noqa: PLC0415
    from app.demo.printout import sign_ins  # noqa: PLC0415
    from app.settings import get_settings  # noqa: PLC0415

    settings = get_settings()
    if settings.environment == "production":
        raise click.ClickException("pguard demo refuses to run with PGUARD_ENV=production")
    options = Options(seed=seed, merchants=merchants, cards=cards)
    try:
        outcome = asyncio.run(_load(options, only_if_empty=only_if_empty))
    except DemoRefused as exc:
        raise click.ClickException(str(exc)) from None
    for line in sign_ins(outcome, options):
        click.echo(line)


async def _load(options: Options, *, only_if_empty: bool) -> Outcome:
    from app.db import (  # noqa: PLC0415
        create_engine,
        current_revision,
        database_url,
        head_revision,
        session_factory,
        upgrade_schema,
    )
    from app.demo.loader import WORKERS, DemoRefused, load  # noqa: PLC0415
    from app.settings import get_settings  # noqa: PLC0415

    started = time.monotonic()
    url = database_url()
    if get_settings().database.url is None:
        await asyncio.to_thread(upgrade_schema, url)  # the embedded database, as `pguard run`
    engine = create_engine(url, pool_size=WORKERS + 1)
    try:
        async with engine.connect() as conn:
            revision = await conn.run_sync(current_revision)
        if revision != head_revision():
            raise DemoRefused(
                f"the database schema is at {revision or 'nothing'}, not {head_revision()}:"
                " run `pguard db upgrade` first"
            )
        return await load(
            session_factory(engine),
            options,
            only_if_empty=only_if_empty,
            say=lambda line: click.echo(f"… {time.monotonic() - started:3.0f} s  {line}", err=True),
        )
    finally:
        await engine.dispose()
