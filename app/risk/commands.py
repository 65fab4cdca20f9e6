"""``pguard scoring import | activate | rerate-all``: the database side of scoring.

The commands import their machinery when run, so that ``pguard --help`` stays quick.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

SOURCES = (
    "registration",
    "tax",
    "court",
    "credit",
    "social_security",
    "bank",
    "complaints",
    "sales",
)


def _with_database(work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[Any]]) -> Any:  # noqa: ANN401
    from app.db import create_engine, session_factory  # noqa: PLC0415

    async def go() -> Any:  # noqa: ANN401
        engine = create_engine()
        try:
            return await work(session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(go())


@click.command("import")
@click.argument("source", type=click.Choice(SOURCES))
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--skip-bad",
    is_flag=True,
    help="Import the valid rows and report the malformed ones; without it a single malformed"
    " row refuses the whole file.",
)
def import_indicators(source: str, file: Path, *, skip_bad: bool) -> None:
    """Import a CSV of indicator records (uscc, kind, value, as_of, provenance) from SOURCE.

    Records for codes that name no merchant on the platform are reported, never matched by
    name. Importing the same file again changes nothing. Exits 1 when the file is refused.
    """
    from app.exceptions import AppError  # noqa: PLC0415
    from app.risk import ingest  # noqa: PLC0415
    from scoring import ScoringError  # noqa: PLC0415

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"{file}: {exc.strerror or exc}") from None

    async def work(sessions: async_sessionmaker[AsyncSession]) -> ingest.ImportReport:
        rows = ingest.parse_csv(data, source)
        async with sessions() as session, session.begin():
            return await ingest.import_rows(
                session,
                rows,
                channel="csv",
                origin=file.name,
                digest=ingest.csv_digest(data, source),
                source=source,
                on_error="skip" if skip_bad else "refuse",
                imported_by=None,
            )

    try:
        report = _with_database(work)
    except ingest.BatchRefused as exc:
        _rejections(exc.report)
        raise click.ClickException(f"{file}: {exc}") from None
    except (AppError, ScoringError) as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    _rejections(report)
    if report.replayed:
        click.echo(f"{file} was already imported ({report.imported_at}); nothing changed")
    click.echo(
        f"accepted={report.accepted} duplicates={report.duplicates} unknown={report.unknown}"
        f" malformed={report.malformed} merchants_queued={report.merchants}"
    )


def _rejections(report: Any, limit: int = 50) -> None:  # noqa: ANN401 - an ImportReport
    for rejection in report.rejections[:limit]:
        click.echo(f"line {rejection.line}: {rejection.problem}: {rejection.reason}", err=True)
    if len(report.rejections) > limit:
        click.echo(f"… and {len(report.rejections) - limit} more", err=True)


@click.command("activate")
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
def activate(model: Path) -> None:
    """Store a model file in the database and make it the one that rates merchants.

    Every merchant is queued for re-rating; the worker in ``pguard run`` (or ``rerate-all``)
    does the rating.
    """
    import scoring as sc  # noqa: PLC0415
    from app.exceptions import AppError  # noqa: PLC0415
    from app.risk.service import add_model  # noqa: PLC0415

    try:
        data = model.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"{model}: {exc.strerror or exc}") from None

    async def work(sessions: async_sessionmaker[AsyncSession]) -> tuple[str, int]:
        async with sessions() as session, session.begin():
            return await add_model(session, data, activate=True, by=None)

    try:
        version, queued = _with_database(work)
    except (sc.ScoringError, AppError) as exc:
        raise click.ClickException(f"{model}: {exc}") from None
    click.echo(f"model {version} is active; {queued} merchants queued for re-rating")


@click.command("rerate-all")
@click.option("--batch", default=1000, show_default=True, help="Merchants per transaction.")
@click.option(
    "--lanes",
    type=click.IntRange(1, 16),
    help="Batches rated at once, each in its own transaction (default: two; about one a core).",
)
def rerate_all(batch: int, lanes: int | None) -> None:
    """Re-rate every merchant now with the active model (the nightly batch)."""
    from app.risk.service import rerate_all as run  # noqa: PLC0415

    async def work(sessions: async_sessionmaker[AsyncSession]) -> int:
        if lanes is None:
            return await run(sessions, batch=batch)
        return await run(sessions, batch=batch, lanes=lanes)

    rated = _with_database(work)
    if rated == 0:
        click.echo("no merchant was rated: is a model active? (pguard scoring activate MODEL)")
        return
    click.echo(f"{rated} merchants re-rated")


COMMANDS = (import_indicators, activate, rerate_all)
