"""``pguard cases``: the 12345 hotline's work orders, and the district's departments."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    import uuid

    from app.cases.hotline import HotlineReport


@click.group()
def cases() -> None:
    """Cases handled across departments (多跨协同)."""


@cases.command("import-12345")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def import_12345(file: Path, *, as_json: bool) -> None:
    """Import the 12345 hotline's work orders (CSV with a header row, or JSON).

    Columns: ticket_id, received_at (ISO; Shanghai time without an offset), caller_phone,
    merchant_code (unified social credit code) and/or merchant_name, text, category, and an
    optional district. A ticket matched by its code opens a case in the merchant's district;
    one with only a name waits for a regulator to match it. Malformed and duplicate rows are
    reported with their line and skipped; a ticket already imported changes nothing. Exits 1
    when the file itself cannot be read.
    """
    from app.cases.hotline import import_orders, read_file  # noqa: PLC0415 - loads on use
    from app.db import create_engine, session_factory  # noqa: PLC0415
    from app.exceptions import AppError  # noqa: PLC0415
    from app.i18n import describe  # noqa: PLC0415
    from app.security.pii import PiiCipher  # noqa: PLC0415

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"{file}: {exc.strerror or exc}") from None

    async def go() -> HotlineReport:
        orders = read_file(data)
        engine = create_engine()
        try:
            async with session_factory(engine)() as session, session.begin():
                return await import_orders(
                    session, orders, PiiCipher.from_master_key(), origin=file.name
                )
        finally:
            await engine.dispose()

    try:
        report = asyncio.run(go())
    except AppError as exc:
        raise click.ClickException(f"{file}: {describe(exc, 'en')}") from None
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    for problem in report.problems:
        click.echo(
            f"line {problem.line}: {problem.kind}: ticket {problem.ticket_id or '-'}:"
            f" {problem.reason}",
            err=True,
        )
    click.echo(
        f"rows={report.rows} imported={report.imported} matched={report.matched}"
        f" unmatched={report.unmatched} duplicates={report.duplicates}"
        f" malformed={report.malformed}"
    )


@cases.command("add-organisation")
@click.option("--district", required=True)
@click.option("--kind", required=True, type=click.Choice(["department", "street"]))
@click.option("--code", required=True, help="Stable within the district: commerce, health...")
@click.option("--name-zh", required=True)
@click.option("--name-en", required=True)
def add_organisation(district: str, kind: str, code: str, name_zh: str, name_en: str) -> None:
    """Add a department or street office to a district.

    Its staff are then created with ``pguard users create --role department``.
    """
    from app.cases.directory import add  # noqa: PLC0415 - loads on use
    from app.db import create_engine, session_factory  # noqa: PLC0415
    from app.exceptions import AppError  # noqa: PLC0415
    from app.i18n import describe  # noqa: PLC0415

    async def go() -> None:
        engine = create_engine()
        try:
            async with session_factory(engine)() as session, session.begin():
                await add(session, district=district, kind=kind, code=code, zh=name_zh, en=name_en)
        finally:
            await engine.dispose()

    try:
        asyncio.run(go())
    except AppError as exc:
        raise click.ClickException(describe(exc, "en")) from None
    click.echo(f"{kind} {code} added to {district}")


@cases.command("set-street")
@click.argument("merchant", type=click.UUID)
@click.argument("street")
def set_street(merchant: uuid.UUID, street: str) -> None:
    """Put MERCHANT on the street office STREET (its code) of the merchant's district."""
    from app.cases.directory import assign_street  # noqa: PLC0415 - loads on use
    from app.db import create_engine, session_factory  # noqa: PLC0415
    from app.exceptions import AppError  # noqa: PLC0415
    from app.i18n import describe  # noqa: PLC0415

    async def go() -> None:
        engine = create_engine()
        try:
            async with session_factory(engine)() as session, session.begin():
                await assign_street(session, merchant, street)
        finally:
            await engine.dispose()

    try:
        asyncio.run(go())
    except AppError as exc:
        raise click.ClickException(describe(exc, "en")) from None
    click.echo(f"merchant {merchant} is on street {street}")
