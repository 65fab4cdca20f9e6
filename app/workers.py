"""The background workers, in one place for ``pguard run`` (in-process) and ``pguard worker``.

Each is safe to run in any number of processes: the re-rate queue and the outbox are taken
with ``FOR UPDATE SKIP LOCKED`` (the outbox with a lease), and escalation skips locked rows.
The workers' modules are imported when the workers are built, so that ``pguard --help``,
which registers the command, stays quick.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Protocol

import click

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from app.security.pii import PiiCipher


class Worker(Protocol):
    """What the process that hosts a worker needs of it."""

    def start(self) -> None:
        """Begin in the running event loop."""

    async def stop(self) -> None:
        """Finish the work in hand and stop."""


def background_workers(
    sessions: async_sessionmaker[AsyncSession], cipher: PiiCipher, *, poll: float
) -> list[Worker]:
    """Every background worker (re-rating, webhooks, escalation, deadlines, closings), idle."""
    from app.closures.worker import ClosureWorker  # noqa: PLC0415
    from app.outbox.worker import DeliveryWorker  # noqa: PLC0415
    from app.payables.worker import PayableDeadlineWorker  # noqa: PLC0415
    from app.risk.worker import RerateWorker  # noqa: PLC0415
    from app.supervision.worker import EscalationWorker  # noqa: PLC0415

    return [
        RerateWorker(sessions, interval=poll),
        DeliveryWorker(sessions, cipher, interval=poll),
        EscalationWorker(sessions),
        PayableDeadlineWorker(sessions),
        ClosureWorker(sessions, cipher),
    ]


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
    from app.wiring import wire  # noqa: PLC0415

    wire()  # the workers publish events (ratings, claims): their handlers first
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
