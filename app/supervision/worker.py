"""The escalation worker: overdue dispute steps go to the regulator, on a steady beat."""

from __future__ import annotations

from app.background import PeriodicTask
from app.clock import utcnow
from app.supervision.disputes import escalate_overdue


class EscalationWorker(PeriodicTask):
    """Runs :func:`escalate_overdue` every ``interval`` seconds; deadlines are days long."""

    name = "escalation-worker"
    did = "overdue dispute steps escalated"

    async def run_once(self) -> int:
        """One pass in its own transaction; returns how many disputes moved."""
        async with self.sessions() as session, session.begin():
            return await escalate_overdue(session, utcnow())
