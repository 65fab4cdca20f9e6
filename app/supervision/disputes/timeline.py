"""A dispute's timeline: reading disputes with their steps, and writing a step the rules made."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from app.supervision.dispute_rules import Decision, DisputeOwner, DisputeStatus, Standing, Step
from app.supervision.models import Dispute, DisputeEvent

if TYPE_CHECKING:
    import uuid
    from collections.abc import Sequence
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.supervision.dispute_rules import Move


SYSTEM_ROLE = "system"
"""The actor role of the platform's own steps (an escalation, a hand-over at a default)."""


@dataclass(frozen=True)
class DisputeView:
    """A dispute and its timeline, oldest step first."""

    dispute: Dispute
    events: list[DisputeEvent]
    decisions: tuple[Decision, ...] = ()
    """What the regulator can decide now, when the decision is theirs (the card's state
    allows: after a refund or a default payout only ``reject``)."""


async def timelines(session: AsyncSession, disputes: Sequence[Dispute]) -> list[DisputeView]:
    """The disputes with their timelines (one query for all of them)."""
    ids = [d.id for d in disputes]
    by_dispute: dict[uuid.UUID, list[DisputeEvent]] = {i: [] for i in ids}
    if ids:
        events = await session.scalars(
            select(DisputeEvent)
            .where(DisputeEvent.dispute_id.in_(ids))
            .order_by(DisputeEvent.at, DisputeEvent.id)
        )
        for event in events:
            by_dispute[event.dispute_id].append(event)
    return [DisputeView(d, by_dispute[d.id]) for d in disputes]


async def view_of(session: AsyncSession, dispute: Dispute) -> DisputeView:
    """One dispute with its timeline, once what was written is flushed."""
    await session.flush()
    return (await timelines(session, [dispute]))[0]


async def reopens_of(session: AsyncSession, dispute_id: uuid.UUID) -> int:
    """How many times the consumer reopened the dispute (its ``reopened`` steps)."""
    count = await session.scalar(
        select(func.count()).where(
            DisputeEvent.dispute_id == dispute_id, DisputeEvent.step == Step.REOPENED.value
        )
    )
    return int(count or 0)


async def standing_of(session: AsyncSession, dispute: Dispute) -> Standing:
    """Where the dispute stands, as the rules read it."""
    return Standing(
        status=DisputeStatus(dispute.status),
        owner=DisputeOwner(dispute.owner),
        deadline_at=dispute.deadline_at,
        escalated_at=dispute.escalated_at,
        answered=dispute.answered_at is not None,
        reopens=await reopens_of(session, dispute.id),
        closed_at=dispute.closed_at,
    )


def write(
    session: AsyncSession,
    dispute: Dispute,
    move: Move,
    *,
    role: str,
    actor_id: uuid.UUID | None,
    at: datetime,
) -> None:
    """Write a step: the dispute's new standing and the step's line in its timeline."""
    standing = move.standing
    dispute.status = standing.status.value
    dispute.owner = standing.owner.value
    dispute.deadline_at = standing.deadline_at
    dispute.escalated_at = standing.escalated_at
    dispute.closed_at = standing.closed_at
    session.add(
        DisputeEvent(
            dispute_id=dispute.id,
            step=move.step.value,
            actor_role=role,
            actor_id=actor_id,
            note=move.note,
            facts=dict(move.facts),
            at=at,
        )
    )
