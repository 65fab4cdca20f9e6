"""``pguard merchants transfer-cards MERCHANT``: move a closing merchant's chosen cards."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    import uuid


@click.group()
def merchants() -> None:
    """Merchants: closing in good order, and the resolution pack."""


@merchants.command("transfer-cards")
@click.argument("merchant", type=click.UUID)
@click.option(
    "--batch",
    default=200,
    show_default=True,
    type=click.IntRange(1, 5000),
    help="Cards a transaction.",
)
def transfer_cards(merchant: uuid.UUID, batch: int) -> None:
    """Move every card whose holder chose a successor, with a progress bar.

    The merchant must have announced its closure. Each card moves in its own ledger
    operation keyed by the card, a batch a transaction: interrupt it and run it again, and
    it carries on where it stopped. Exits 1 when the merchant is not closing.
    """
    from sqlalchemy import func, select  # noqa: PLC0415 - the rest loads when the command runs

    from app.closures.models import Choice, ClosureCard  # noqa: PLC0415
    from app.closures.service import Progress, announced, settle_cards  # noqa: PLC0415
    from app.db import create_engine, session_factory  # noqa: PLC0415

    async def go() -> Progress:
        engine = create_engine()
        sessions = session_factory(engine)
        try:
            async with sessions() as session:
                closure = await announced(session, merchant)
                if closure is None:
                    raise click.ClickException(f"merchant {merchant} has announced no closure")
                waiting = await session.scalar(
                    select(func.count()).where(
                        ClosureCard.closure_id == closure.id,
                        ClosureCard.outcome.is_(None),
                        ClosureCard.choice == Choice.TRANSFER,
                    )
                )
            with click.progressbar(length=int(waiting or 0), label="moving cards") as bar:
                seen = [0]

                def step(progress: Progress, _left: int) -> None:
                    done = progress.moved + progress.used_up
                    bar.update(done - seen[0])
                    seen[0] = done

                return await settle_cards(sessions, closure.id, batch=batch, on_batch=step)
        finally:
            await engine.dispose()

    done = asyncio.run(go())
    click.echo(
        f"moved={done.moved} ({done.moved_fen} fen) used_up={done.used_up}"
        + "".join(f" to {to}: {n}" for to, n in sorted(done.per_successor.items()))
    )
