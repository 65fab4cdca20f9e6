"""``pguard custody import-statement FILE``: reconcile the custody bank's daily statement."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click


@click.group()
def custody() -> None:
    """The custody bank: statements and reconciliation."""


@custody.command("import-statement")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def import_statement(file: Path, *, as_json: bool) -> None:
    """Match a statement (CSV: date, account, reference, amount in yuan) to the custody ledger.

    Prints matched, missing and unexpected lines; a merchant short in custody gets a warning
    and its new sales are blocked. Merchants the statement says nothing about are named, not
    judged. Exits 1 when the file is refused, 2 when a shortfall was
    found. Importing the same file again changes nothing.
    """
    import escrow  # noqa: PLC0415 - the rest loads when the command runs
    from app.custody.service import import_statement as run  # noqa: PLC0415
    from app.db import create_engine, session_factory  # noqa: PLC0415
    from app.exceptions import AppError  # noqa: PLC0415
    from app.security.pii import PiiCipher  # noqa: PLC0415

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"{file}: {exc.strerror or exc}") from None

    async def go() -> tuple[dict[str, object], bool]:
        engine = create_engine()
        try:
            async with session_factory(engine)() as session, session.begin():
                return await run(
                    session, PiiCipher.from_master_key(), data, filename=file.name, imported_by=None
                )
        finally:
            await engine.dispose()

    try:
        report, new = asyncio.run(go())
    except (escrow.EscrowError, AppError) as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    if not new:
        click.echo(f"{file} was already imported; nothing changed")
    counts = {
        name: len(value) if isinstance(value, (list, dict)) else 0
        for name in (
            "matched",
            "missing",
            "unexpected",
            "mismatched",
            "shortfall",
            "not_on_statement",
        )
        for value in [report.get(name)]
    }
    for name in ("missing", "unexpected", "mismatched"):
        for item in report.get(name) or []:  # type: ignore[attr-defined]
            click.echo(f"{name}: {json.dumps(item, ensure_ascii=False)}", err=True)
    for merchant in report.get("not_on_statement") or []:  # type: ignore[attr-defined]
        click.echo(f"not judged (no line on its account): merchant {merchant}", err=True)
    click.echo(
        f"matched={counts['matched']} missing={counts['missing']}"
        f" unexpected={counts['unexpected']} mismatched={counts['mismatched']}"
        f" shortfall_merchants={counts['shortfall']}"
        f" not_on_statement={counts['not_on_statement']}"
    )
    if counts["shortfall"] and new:
        raise SystemExit(2)
