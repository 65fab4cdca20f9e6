"""Warnings: the rules that raise them into the regulator's queue, and the queue's workflow.

A warning is raised at most once per (merchant, rule, cause key): the key names exactly what
raised it (a rating change, a record, a week of complaints, a statement), so re-running a rule
on the same facts, or a retried request, raises nothing new. Rules run inside the
transaction of the change that triggered them, so a warning exists exactly when its cause
does. Thresholds are settings (``PGUARD_WARN_*``).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.auth.models import Role, User
from app.clock import utcnow
from app.events import publish
from app.exceptions import Conflict, Invalid, NotFound
from app.i18n.facts import warning_title
from app.merchants.models import Merchant
from app.supervision.events import WarningRaised
from app.supervision.models import Warning as WarningRow
from app.supervision.models import WarningNote, WarningRule, WarningStatus

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal


async def raise_warning(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    rule: WarningRule,
    cause_key: str,
    evidence: dict[str, Any],
    *,
    once_while_open: bool = False,
) -> uuid.UUID | None:
    """Raise a warning unless this cause already raised one; return its id if new.

    With ``once_while_open`` a rule whose causes are periods (a day of sales, a week of
    complaints) raises nothing while an earlier warning of the same rule is still open for
    the merchant: one surge is one warning, however many days it lasts.
    Flushes only: the caller's transaction decides whether the warning (and its cause) stand.
    The title is made from the rule and its evidence (the pages make it again in the reader's
    language); it is kept in English for the API and the logs.
    """
    district = await session.scalar(select(Merchant.district).where(Merchant.id == merchant_id))
    if district is None:
        return None
    if once_while_open and await session.scalar(
        select(WarningRow.id).where(
            WarningRow.merchant_id == merchant_id,
            WarningRow.rule == rule.value,
            WarningRow.status != WarningStatus.CLOSED,
        )
    ):
        return None
    result = await session.execute(
        pg_insert(WarningRow)
        .values(
            id=uuid.uuid4(),
            merchant_id=merchant_id,
            district=district,
            rule=rule.value,
            cause_key=cause_key,
            title=warning_title(rule.value, evidence, "en"),
            evidence=evidence,
            status="open",
            raised_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["merchant_id", "rule", "cause_key"])
        .returning(WarningRow.id)
    )
    raised = result.scalar_one_or_none()
    if raised is not None:
        await publish(session, WarningRaised(merchant_id, raised))
    return raised


async def warning_of(
    session: AsyncSession, me: Principal, warning_id: uuid.UUID, *, lock: bool = False
) -> WarningRow:
    """A warning in the caller's district (any, for a city-level regulator or operator)."""
    query = select(WarningRow).where(WarningRow.id == warning_id)
    found = await session.scalar(query.with_for_update() if lock else query)
    if found is None or not me.sees_district(found.district):
        raise NotFound("warning-not-found")
    return found


async def queue(
    session: AsyncSession,
    me: Principal,
    *,
    status: str | None,
    rule: str | None,
    merchant_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> Sequence[WarningRow]:
    """The regulator's queue: open first, newest first, within its district."""
    query = select(WarningRow)
    if me.role is Role.REGULATOR and me.district is not None:
        query = query.where(WarningRow.district == me.district)
    if status:
        query = query.where(WarningRow.status == status)
    if rule:
        query = query.where(WarningRow.rule == rule)
    if merchant_id:
        query = query.where(WarningRow.merchant_id == merchant_id)
    query = query.order_by(
        (WarningRow.status == WarningStatus.CLOSED).asc(), WarningRow.raised_at.desc()
    )
    return (await session.scalars(query.limit(limit).offset(offset))).all()


async def notes_of(session: AsyncSession, warning_id: uuid.UUID) -> Sequence[WarningNote]:
    """A warning's notes, oldest first."""
    return (
        await session.scalars(
            select(WarningNote)
            .where(WarningNote.warning_id == warning_id)
            .order_by(WarningNote.created_at)
        )
    ).all()


def _user(me: Principal) -> uuid.UUID:
    if me.user_id is None:  # pragma: no cover - regulators and operators are users
        raise NotFound("warning-not-found")
    return me.user_id


async def acknowledge(session: AsyncSession, me: Principal, warning_id: uuid.UUID) -> WarningRow:
    """Someone is looking at it."""
    found = await warning_of(session, me, warning_id, lock=True)
    if found.status != WarningStatus.OPEN:
        raise Conflict("warning-not-open", status=found.status)
    found.status = WarningStatus.ACKNOWLEDGED
    found.acknowledged_by = _user(me)
    found.acknowledged_at = utcnow()
    await session.flush()
    return found


async def assign(
    session: AsyncSession, me: Principal, warning_id: uuid.UUID, assignee: uuid.UUID
) -> WarningRow:
    """Give the warning to a regulator who can see its district."""
    found = await warning_of(session, me, warning_id, lock=True)
    if found.status == WarningStatus.CLOSED:
        raise Conflict("warning-closed")
    user = await session.get(User, assignee)
    if (
        user is None
        or user.role != Role.REGULATOR
        or user.disabled
        or user.district not in (None, found.district)
    ):
        raise Invalid("warning-assignee-not-regulator", fields={"user_id": "not-regulator-here"})
    found.assigned_to = user.id
    await session.flush()
    return found


async def add_note(
    session: AsyncSession, me: Principal, warning_id: uuid.UUID, text: str
) -> WarningNote:
    """A note on the warning (closed ones too: follow-up is still recorded)."""
    found = await warning_of(session, me, warning_id)
    if not text.strip():
        raise Invalid("warning-note-empty", fields={"text": "warning-text-required"})
    note = WarningNote(id=uuid.uuid4(), warning_id=found.id, author=_user(me), text=text.strip())
    session.add(note)
    await session.flush()
    return note


async def close(
    session: AsyncSession, me: Principal, warning_id: uuid.UUID, feedback: str
) -> WarningRow:
    """Close it with what was found and done: the feedback is what the rule is judged by."""
    found = await warning_of(session, me, warning_id, lock=True)
    if found.status == WarningStatus.CLOSED:
        raise Conflict("warning-already-closed")
    if not feedback.strip():
        raise Invalid("warning-feedback-missing", fields={"feedback": "warning-text-required"})
    found.status = WarningStatus.CLOSED
    found.closed_by = _user(me)
    found.closed_at = utcnow()
    found.feedback = feedback.strip()
    await session.flush()
    return found
