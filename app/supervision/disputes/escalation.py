"""Overdue dispute steps, run by a worker (:mod:`app.supervision.worker`) on a steady beat.

What a missed deadline does is :func:`app.supervision.dispute_rules.escalated`; this use case
finds the overdue disputes, writes what the rule says and raises the regulator's warning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from app.supervision import dispute_rules as rules
from app.supervision.dispute_rules import OPEN
from app.supervision.disputes.timeline import SYSTEM_ROLE, standing_of, write
from app.supervision.models import Dispute, WarningRule
from app.supervision.warnings import raise_warning

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession


async def escalate_overdue(session: AsyncSession, now: datetime, *, batch: int = 500) -> int:
    """Escalate every open dispute whose step's deadline has passed; return how many.

    The merchant's or the regulator's missed step: the regulator owns the dispute,
    ``escalated_at`` is set, an ``escalated`` event is written and a ``dispute-overdue``
    warning is raised (cause ``dispute:<id>:<step>``, so never twice). The consumer's missed
    step closes the dispute as confirmed (silence accepts the decision). Idempotent: an
    escalated step is not picked again. Takes at most ``batch`` disputes (locked, skipping
    those a request holds), so workers can share the job; call it again for the rest.
    """
    found = await session.scalars(
        select(Dispute)
        .where(
            Dispute.status.in_(OPEN),
            Dispute.deadline_at < now,
            Dispute.escalated_at.is_(None),
        )
        .order_by(Dispute.deadline_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    done = 0
    for dispute in found.all():
        deadline = dispute.deadline_at
        move = rules.escalated(await standing_of(session, dispute), now)
        if move is None or deadline is None:  # pragma: no cover - excluded by the query
            continue
        write(session, dispute, move, role=SYSTEM_ROLE, actor_id=None, at=now)
        done += 1
        if move.overdue is None:
            continue
        await session.flush()
        await raise_warning(
            session,
            dispute.merchant_id,
            WarningRule.DISPUTE_OVERDUE,
            f"dispute:{dispute.id}:{move.overdue.key}",
            {
                "dispute_id": str(dispute.id),
                "card_id": str(dispute.card_id),
                "step": move.overdue.key,
                "status": dispute.status,
                "kind": dispute.kind,
                "amount_asked_fen": dispute.amount_asked,
                "filed_at": dispute.filed_at.isoformat(),
                "deadline_at": deadline.isoformat(),
            },
        )
    await session.flush()
    return done
