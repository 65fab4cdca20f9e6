"""``pguard simulate``: a district lives N days on a throw-away database; every day is checked.

The machinery loads when the command runs, so that ``pguard --help`` stays quick.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from app.simulation.state import Summary


@click.command("simulate")
@click.option("--days", default=400, show_default=True, type=click.IntRange(min=1, max=3650))
@click.option("--seed", default=1, show_default=True, help="Same seed, same district, same run.")
@click.option("--merchants", default=200, show_default=True, type=click.IntRange(min=3, max=2000))
@click.option(
    "--consumers",
    default=None,
    type=click.IntRange(min=1, max=9999),
    help="Consumers in the district (default: ten per merchant).",
)
@click.option("--keep", is_flag=True, help="Keep the database afterwards and print its URL.")
def simulate(days: int, seed: int, merchants: int, consumers: int | None, *, keep: bool) -> None:
    """Live a district day by day against the real services, checking every day.

    Merchants onboard, sell, redeem and refund (cooling-off, accepted requests, dispute
    decisions, compensations), get complaints and bureau records, change grade, are held for
    review, follow the exit path, are declared in default; the custody bank sends statements
    (some short, some partial); the insurer acknowledges and pays claims; the workers run every
    evening. After each day the ledger is verified, every refund is checked to reach its
    consumer in full within its deadline plus the insurer's time, every merchant with news is
    re-rated and every warning due is raised. A broken check prints the day and the seed, which
    replay it exactly, and exits 1. The run uses a new database on the configured server
    (embedded, or DATABASE_URL's) and drops it at the end unless --keep.
    """
    from app.db import (  # noqa: PLC0415
        create_database,
        database_url,
        drop_database,
        libpq_url,
        upgrade_schema,
    )
    from app.simulation.run import simulate as run  # noqa: PLC0415
    from app.simulation.state import SimulationBroke  # noqa: PLC0415

    people = consumers or merchants * 10
    started = time.monotonic()
    url = create_database(database_url(), f"pguard_simulation_{secrets.token_hex(4)}")
    try:
        upgrade_schema(url)
        click.echo(f"simulating {days} days, seed {seed}: {merchants} merchants, {people} people")
        summary = asyncio.run(
            run(url, days=days, seed=seed, merchants=merchants, consumers=people, say=click.echo)
        )
    except SimulationBroke as broke:
        click.echo(f"BROKEN on day {broke.day} (seed {broke.seed}): {broke.problem}", err=True)
        click.echo(
            f"replay: pguard simulate --days {broke.day + 1} --seed {broke.seed}"
            f" --merchants {merchants} --consumers {people}",
            err=True,
        )
        raise SystemExit(1) from None
    finally:
        if keep:
            click.echo(f"database kept: {libpq_url(url)}")
        else:
            drop_database(url)
    _print(summary, time.monotonic() - started)


def _print(summary: Summary, seconds: float) -> None:
    click.echo(f"days {summary.days}, merchants {summary.merchants}, consumers {summary.consumers}")
    for what, n in sorted(summary.operations.items()):
        click.echo(f"  {what}: {n:,}")
    click.echo(
        f"  sales refused at the counter (held, blocked, stopped): {summary.refused_sales:,}"
    )
    paths = ", ".join(
        f"{way} ¥{fen / 100:,.2f}" for way, fen in sorted(summary.refunds_by_path.items())
    )
    click.echo(f"refund payables reached consumers by: {paths or 'none'}")
    rules = ", ".join(f"{rule} {n}" for rule, n in sorted(summary.warnings.items()))
    click.echo(f"grade changes {summary.grade_changes:,}; warnings: {rules or 'none'}")
    click.echo(f"journal entries {summary.entries:,}; checks {summary.checks:,}: all passing")
    click.echo(f"simulated in {summary.seconds:.0f} s; {seconds:.0f} s in all")
