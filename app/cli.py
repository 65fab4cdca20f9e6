"""``pguard``: the product's command line. These command names are a stable interface."""

from __future__ import annotations

import asyncio
import os
import sys
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from app.settings import get_settings
from app.wiring import wire

if TYPE_CHECKING:
    from collections.abc import Iterator


@click.group()
def main() -> None:
    """Prepaid Guard: keeps consumers' prepaid money safe."""
    wire()  # domain-event handlers, before any command changes anything


@main.command()
@click.option("--host", default=None, help="Interface to bind (default PGUARD_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default PGUARD_PORT or 8000).")
@click.option(
    "--processes",
    default=None,
    type=click.IntRange(min=1),
    help="Web processes sharing the port (default PGUARD_PROCESSES or 1; one per core).",
)
def run(host: str | None, port: int | None, processes: int | None) -> None:
    """Serve the API; on the embedded database, bring the schema up to date first.

    The embedded database is watched meanwhile: if its server dies, it is started again.
    """
    import uvicorn  # noqa: PLC0415 - keep other commands quick to start
    from uvicorn.supervisors import Multiprocess  # noqa: PLC0415

    from app.db import EmbeddedSupervisor, database_url, upgrade_schema  # noqa: PLC0415
    from app.serving import server_config  # noqa: PLC0415

    # what --host and --port say, every process (and the counter codes' address) reads
    os.environ.update({k: str(v) for k, v in (("PGUARD_HOST", host), ("PGUARD_PORT", port)) if v})
    get_settings.cache_clear()
    settings = get_settings()
    host, port = settings.server.host, settings.server.port
    url = database_url()
    if settings.database.url is None:
        upgrade_schema(url)
        EmbeddedSupervisor(settings.database.embedded_dir.resolve()).start()
        click.echo("embedded PostgreSQL ready, schema up to date")
    processes = processes or settings.server.processes
    click.echo(f"Prepaid Guard on http://{host}:{port}/  (API schema: /schema, health: /health)")
    click.echo(
        f"counter QR codes and posters point at {settings.cards.public_base_url}"
        " (PGUARD_PUBLIC_URL; PGUARD_HOST=0.0.0.0 serves phones on this network)"
    )
    config = server_config(
        "app.asgi:create_app", host=host, port=port, factory=True, workers=processes
    )
    if processes == 1:
        uvicorn.Server(config).run()
        return
    click.echo(f"{processes} web processes")
    Multiprocess(config, sockets=[config.bind_socket()]).run()


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
@click.option("--username", required=True, help="Staff names are name@organisation.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["regulator", "insurer", "operator", "department"]),
)
@click.option(
    "--district",
    default=None,
    help="A regulator's district (omit for city level), or a department's.",
)
@click.option(
    "--organisation",
    default=None,
    help="The operator's name, or the insurer's (an insurer's account is linked to it; a new"
    " insurer is registered under that name and its webhook secret printed once), or a"
    " department's or street office's code in --district (pguard cases add-organisation).",
)
@click.password_option()
def create_user(
    username: str, role: str, district: str | None, organisation: str | None, password: str
) -> None:
    """Create a regulator, insurer, operator or department account."""
    from app.auth.admin import create_staff  # noqa: PLC0415
    from app.auth.models import Role  # noqa: PLC0415
    from app.cases.directory import organisation_by_code  # noqa: PLC0415
    from app.db import create_engine, session_factory  # noqa: PLC0415
    from app.outbox.service import insurer_for_account  # noqa: PLC0415
    from app.security.pii import PiiCipher  # noqa: PLC0415

    if role == "insurer" and not organisation:
        raise click.UsageError("an insurer's account needs --organisation: the insurer's name")
    if role == "department" and not (organisation and district):
        raise click.UsageError(
            "a department's account needs --district and --organisation: its organisation's code"
        )

    async def go() -> str | None:
        engine = create_engine()
        try:
            async with session_factory(engine)() as session, session.begin():
                insurer, secret = (
                    await insurer_for_account(
                        session, PiiCipher.from_master_key(), name=organisation or ""
                    )
                    if role == "insurer"
                    else (None, None)
                )
                org = (
                    await organisation_by_code(session, district or "", organisation or "")
                    if role == "department"
                    else None
                )
                await create_staff(
                    session,
                    username=username,
                    password=password,
                    role=Role(role),
                    district=district,
                    organisation=organisation,
                    insurer_id=insurer.id if insurer else None,
                    organisation_id=org.id if org else None,
                )
        finally:
            await engine.dispose()
        return secret

    secret = asyncio.run(go())
    click.echo(f"{role} {username} created")
    if secret:
        click.echo(
            f"insurer {organisation} registered; webhook signing secret (shown once): {secret}"
        )


@main.group()
def ledger() -> None:
    """The escrow ledger."""


@ledger.command()
@click.option("--limit", default=20, show_default=True, help="Problems to list at most.")
def verify(limit: int) -> None:
    """Recompute every balance, hash chain and refund payable from the postings.

    Prints ``ledger ok`` and exits 0, or names the first broken entry and exits 1. Every
    refund must add up: custody's part, plus what the merchant paid, what was withheld from
    its sales, what the insurer paid and what is still pending, is the refunded amount.
    """
    from app.ledger import verify_ledger  # noqa: PLC0415

    report = asyncio.run(verify_ledger())
    if report.ok:
        click.echo(
            f"ledger ok: {report.merchants} merchants, {report.entries} entries,"
            f" {report.cards} cards, {report.payables} refund payables"
        )
        if report.payables:
            ways = ", ".join(f"{w} {fen} fen" for w, fen in sorted(report.settled.items()))
            click.echo(f"  payables reached consumers: {ways}; still pending {report.pending} fen")
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


@main.group()
def scoring() -> None:
    """Merchant risk model: synthetic data; train, evaluate and cross-validate any labelled CSV."""


_csv = click.option(
    "--csv",
    "csv_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Labelled CSV: a header line, numeric and categorical columns.",
)
_label = click.option("--label", required=True, help="The label column.")
_positive = click.option(
    "--positive",
    default=None,
    help="The label value that is the positive (bad, default) outcome; 0/1 labels take 1.",
)
_monotone = click.option(
    "--monotone",
    multiple=True,
    metavar="COLUMN=+1|-1",
    help="Declared direction of a numeric column: +1 more is riskier, -1 more is safer.",
)


def _directions(pairs: tuple[str, ...]) -> dict[str, int]:
    directions = {}
    for pair in pairs:
        name, _, value = pair.rpartition("=")
        if not name or value not in {"+1", "1", "-1", "0"}:
            raise click.BadParameter(
                f"{pair!r}: write COLUMN=+1 or COLUMN=-1", param_hint="--monotone"
            )
        directions[name] = int(value)
    return directions


_indicator_directions = click.option(
    "--indicator-directions",
    is_flag=True,
    help="Use the indicator catalogue's declared directions (a table from `scoring synth`);"
    " a model that rates merchants live needs them.",
)


def _declared(monotone: tuple[str, ...], *, indicator_directions: bool) -> dict[str, int]:
    """The monotone directions asked for: the catalogue's, or each ``--monotone`` pair."""
    import scoring as sc  # noqa: PLC0415

    if indicator_directions and monotone:
        raise click.UsageError("give either --indicator-directions or --monotone, not both")
    return dict(sc.MONOTONE) if indicator_directions else _directions(monotone)


@contextmanager
def _scoring_errors() -> Iterator[None]:
    """Bad input is the user's to fix: say what is wrong and exit 1, without a traceback."""
    import scoring as sc  # noqa: PLC0415

    try:
        yield
    except sc.ScoringError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"{exc.filename or ''}: {exc.strerror or exc}") from None


@scoring.command("train")
@_csv
@_label
@_positive
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Model file to write.")
@click.option("--folds", default=5, show_default=True, help="Cross-validation folds (0: skip).")
@click.option("--seed", default=0, show_default=True, help="Seed for every random choice.")
@_monotone
@_indicator_directions
def scoring_train(
    csv_path: Path,
    label: str,
    positive: str | None,
    out: Path,
    folds: int,
    seed: int,
    monotone: tuple[str, ...],
    indicator_directions: bool,
) -> None:
    """Fit a calibrated additive model on a labelled CSV and save it (numbers only, no pickle)."""
    import scoring as sc  # noqa: PLC0415 - keep other commands quick to start

    directions = _declared(monotone, indicator_directions=indicator_directions)
    with _scoring_errors():
        table = sc.read_table(csv_path, label=label, positive=positive)
        trained = sc.train(table, folds=folds, monotone=directions, params=sc.Params(seed=seed))
        saved = sc.save(
            trained.model,
            out,
            training=table.summary(),
            metrics=trained.metrics(),
            reference=trained.reference,
        )
    click.echo(f"model {saved.model_version} saved to {out} (sha256 {saved.model_sha256})")
    if trained.cross_validated is None:
        click.echo("in-sample (optimistic, the model has seen these rows):")
        lines = trained.in_sample.report()
    else:
        click.echo(f"{folds}-fold cross-validated:")
        lines = trained.cross_validated.metrics.report()
    for line in lines:
        click.echo(line)


@scoring.command("evaluate")
@_csv
@_label
@_positive
@click.option("--model", "model_path", required=True, type=click.Path(path_type=Path))
def scoring_evaluate(csv_path: Path, label: str, positive: str | None, model_path: Path) -> None:
    """Score a labelled CSV with a saved model and print AUC, KS, Brier and calibration."""
    import scoring as sc  # noqa: PLC0415

    with _scoring_errors():
        saved = sc.load(model_path)
        trained_on = saved.model.schema
        schema = replace(trained_on, label=label, positive=positive or trained_on.positive)
        table = sc.read_scored_table(csv_path, schema)
        metrics = sc.evaluate(table.label, saved.model.predict(table))
    click.echo(f"model {saved.model_version} (cut points {saved.cut_points_version})")
    for line in metrics.report():
        click.echo(line)


@scoring.command("cv")
@_csv
@_label
@_positive
@click.option("--folds", default=5, show_default=True, help="Number of folds (at least 2).")
@click.option("--seed", default=0, show_default=True, help="Seed for the folds and the model.")
@_monotone
@_indicator_directions
def scoring_cv(
    csv_path: Path,
    label: str,
    positive: str | None,
    folds: int,
    seed: int,
    monotone: tuple[str, ...],
    indicator_directions: bool,
) -> None:
    """Cross-validate the model on a labelled CSV; figures are on out-of-fold predictions."""
    import scoring as sc  # noqa: PLC0415

    with _scoring_errors():
        table = sc.read_table(csv_path, label=label, positive=positive)
        result = sc.cross_validate(
            table,
            folds=folds,
            monotone=_declared(monotone, indicator_directions=indicator_directions),
            params=sc.Params(seed=seed),
        )
    aucs = ", ".join(f"{auc:.3f}" for auc in result.fold_aucs)
    click.echo(f"{folds}-fold cross-validation, AUC per fold: {aucs}")
    for line in result.metrics.report():
        click.echo(line)


@scoring.command("synth")
@click.option("--merchants", required=True, type=click.IntRange(min=1), help="How many merchants.")
@click.option("--seed", default=0, show_default=True, help="Same seed, same data.")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory for indicators.csv and training.csv (created if need be).",
)
def scoring_synth(merchants: int, seed: int, out: Path) -> None:
    """Generate synthetic merchants, indicator histories and outcomes (story: scoring/synth.py)."""
    from scoring.dataset import LABEL, POSITIVE, write_synthetic  # noqa: PLC0415
    from scoring.synth import generate  # noqa: PLC0415

    with _scoring_errors():
        synthetic = generate(merchants, seed)
        written = write_synthetic(synthetic, out)
    click.echo(
        f"{merchants} merchants, {synthetic.record_count} indicator records,"
        f" {synthetic.defaults} defaulted ({synthetic.defaults / merchants:.1%}), seed {seed}:"
        f" {written.indicators}, {written.training} (label {LABEL}, positive {POSITIVE})"
    )


def _database_commands() -> None:
    from app.risk.commands import COMMANDS  # noqa: PLC0415 - click only; the rest loads on use

    for command in COMMANDS:
        scoring.add_command(command)


_database_commands()


def _operations_commands() -> None:
    from app.cases.commands import cases  # noqa: PLC0415 - click only
    from app.closures.commands import merchants  # noqa: PLC0415 - click only
    from app.custody.commands import custody  # noqa: PLC0415 - click only
    from app.outbox.commands import COMMANDS  # noqa: PLC0415 - click only
    from app.resolution.commands import resolution_pack  # noqa: PLC0415 - click only
    from app.workers import worker  # noqa: PLC0415 - click; the workers load when run

    merchants.add_command(resolution_pack)

    main.add_command(cases)
    main.add_command(custody)
    main.add_command(merchants)
    main.add_command(worker)
    for command in COMMANDS:
        main.add_command(command)


_operations_commands()


def _demo_command() -> None:
    from app.demo.command import demo  # noqa: PLC0415 - click only
    from app.simulation.command import simulate  # noqa: PLC0415 - click only

    main.add_command(demo)
    main.add_command(simulate)


_demo_command()


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
