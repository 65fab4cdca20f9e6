"""``pguard worker`` and ``pguard insurers create``.

The commands import their machinery when run, so that ``pguard --help`` stays quick.
"""

from __future__ import annotations

import asyncio
import sys

import click

SIGNAL_NAMES = ("SIGTERM", "SIGINT")


@click.command("worker")
@click.option(
    "--poll",
    type=click.FloatRange(min=0.01),
    default=None,
    help="Seconds an idle worker waits before looking again (default PGUARD_WORKER_POLL_SECONDS).",
)
def worker(poll: float | None) -> None:
    """Re-rate merchants and deliver insurers' webhooks until SIGTERM or Ctrl-C.

    On the first signal the work in hand is finished (a webhook waits at most its 10 s
    timeout); a second signal stops at once, and webhooks then in flight are sent again
    when their lease runs out. Any number of these may run, beside ``pguard run`` too;
    set PGUARD_WORKERS=off there if the workers should run only here.
    """
    import signal  # noqa: PLC0415

    from app.db import create_engine, session_factory  # noqa: PLC0415
    from app.logging import configure_logging  # noqa: PLC0415
    from app.security.pii import PiiCipher  # noqa: PLC0415
    from app.settings import get_settings  # noqa: PLC0415
    from app.workers import background_workers  # noqa: PLC0415

    settings = get_settings()
    configure_logging(settings.log)
    interval = poll or settings.workers.poll_seconds
    signals = [getattr(signal, name) for name in SIGNAL_NAMES]

    async def go() -> None:
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()

        def on_signal() -> None:
            stopping.set()
            for sig in signals:  # a second signal takes its default course: stop now
                loop.remove_signal_handler(sig)

        for sig in signals:
            loop.add_signal_handler(sig, on_signal)
        engine = create_engine()
        sessions = session_factory(engine)
        workers = background_workers(sessions, PiiCipher.from_master_key(), poll=interval)
        try:
            for running in workers:
                running.start()
            click.echo(
                "workers running: re-rating, webhook delivery, dispute escalation (Ctrl-C to stop)"
            )
            await stopping.wait()
            click.echo("stopping after the work in hand")
            await asyncio.gather(*(running.stop() for running in workers))
        finally:
            await engine.dispose()
        click.echo("workers stopped")

    try:
        asyncio.run(go())
    except KeyboardInterrupt:
        click.echo("stopped at once", err=True)
        sys.exit(130)


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
        problems = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
        raise click.ClickException(f"{exc}{f' ({problems})' if problems else ''}") from None
    click.echo(f"insurer {name.strip()} created: {insurer_id}")
    click.echo("webhook signing secret (shown only now; give it to the insurer):")
    click.echo(secret)


COMMANDS = (worker, insurers)
"""Register each with ``main.add_command`` in ``app.cli``."""
