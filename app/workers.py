"""The background workers, in one place for ``pguard run`` (in-process) and ``pguard worker``.

Each is safe to run in any number of processes: the re-rate queue and the outbox are taken
with ``FOR UPDATE SKIP LOCKED`` (the outbox with a lease), and escalation skips locked rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from app.outbox.worker import DeliveryWorker
from app.payables.worker import PayableDeadlineWorker
from app.risk.worker import RerateWorker
from app.supervision.worker import EscalationWorker

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
    """Re-rating, webhook delivery, dispute escalation and payable deadlines, not started."""
    return [
        RerateWorker(sessions, interval=poll),
        DeliveryWorker(sessions, cipher, interval=poll),
        EscalationWorker(sessions),
        PayableDeadlineWorker(sessions),
    ]
