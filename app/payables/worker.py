"""The deadline worker: payables unpaid at their deadline become claims on the policy."""

from __future__ import annotations

from app.background import PeriodicTask
from app.clock import utcnow
from app.payables.service import claim_overdue


class PayableDeadlineWorker(PeriodicTask):
    """Runs :func:`claim_overdue` every ``interval`` seconds; deadlines are days long."""

    name = "payable-deadline-worker"
    did = "refund payables past their deadline claimed"

    async def run_once(self) -> int:
        """One pass, a transaction per merchant; returns how many claims were opened."""
        return await claim_overdue(self.sessions, utcnow())
