"""What each reader sees of cases: a department its queue, anyone allowed a case in full."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select

from app.auth.models import Consumer, Role
from app.cases.directory import organisations
from app.cases.models import (
    Case,
    CaseEvent,
    CaseTask,
    HotlineTicket,
    Organisation,
    OrgKind,
    TaskStatus,
)
from app.cases.service import complainant, own_organisation, sees_ticket
from app.clock import today, utcnow
from app.exceptions import NotFound
from app.merchants.models import Merchant
from app.supervision.models import Dispute

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal

QUEUE_DONE = 50
"""A department's queue shows its open tasks and this many it finished last."""
LIST_LIMIT = 200


@dataclass(frozen=True)
class TaskView:
    """A department's task, with its department and whether it is past its deadline."""

    task: CaseTask
    organisation: Organisation

    @property
    def last_day(self) -> date:
        """The last Shanghai calendar day of the task (its deadline is the midnight after)."""
        return today(self.task.deadline_at - timedelta(microseconds=1))

    @property
    def overdue(self) -> bool:
        """Open after its deadline, or done after it."""
        end = self.task.done_at or utcnow()
        return self.task.status != TaskStatus.HANDED_OVER and end > self.task.deadline_at


@dataclass(frozen=True)
class CaseView:
    """A case with its merchant, every department's task and every step."""

    case: Case
    merchant: Merchant
    tasks: list[TaskView]
    events: list[CaseEvent]
    ticket: HotlineTicket | None
    mine: TaskView | None
    """The caller's department's open task on the case, if any."""
    may_route: bool
    departments: list[Organisation]
    """The district's departments, for the route and hand-over forms."""


async def _tasks(session: AsyncSession, case_id: uuid.UUID) -> list[TaskView]:
    rows = await session.execute(
        select(CaseTask, Organisation)
        .join(Organisation, Organisation.id == CaseTask.organisation_id)
        .where(CaseTask.case_id == case_id)
        .order_by(CaseTask.created_at)
    )
    return [TaskView(task, org) for task, org in rows]


async def _may_see(
    session: AsyncSession, me: Principal, case: Case, merchant: Merchant, tasks: list[TaskView]
) -> tuple[bool, bool]:
    """(may see, may route) for the caller."""
    if me.sees_district(case.district):
        return True, True
    if me.role is Role.DEPARTMENT and me.organisation_id is not None:
        org = await own_organisation(session, me)
        if org.kind == OrgKind.STREET and merchant.street_id == org.id:
            return True, True
        return any(t.organisation.id == org.id for t in tasks), False
    if me.role is Role.CONSUMER and me.consumer_id is not None:
        return await complainant(session, case) == me.consumer_id, False
    return False, False


async def case_view(session: AsyncSession, me: Principal, case_id: uuid.UUID) -> CaseView:
    """The case as the caller may see it; 'not found' when it is not theirs to see."""
    case = await session.get(Case, case_id)
    if case is None:
        raise NotFound("case-not-found")
    merchant = await session.get(Merchant, case.merchant_id)
    if merchant is None:
        raise NotFound("case-not-found")
    tasks = await _tasks(session, case.id)
    visible, may_route = await _may_see(session, me, case, merchant, tasks)
    if not visible:
        raise NotFound("case-not-found")
    events = list(
        (
            await session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
            )
        ).all()
    )
    ticket = None if case.ticket_id is None else await session.get(HotlineTicket, case.ticket_id)
    mine = next(
        (
            t
            for t in tasks
            if me.organisation_id is not None
            and t.organisation.id == me.organisation_id
            and t.task.status == TaskStatus.OPEN
        ),
        None,
    )
    departments = await organisations(session, case.district, OrgKind.DEPARTMENT)
    return CaseView(case, merchant, tasks, events, ticket, mine, may_route, departments)


@dataclass(frozen=True)
class QueueRow:
    """One task in a department's queue, with its case and merchant."""

    task: TaskView
    case: Case
    merchant: Merchant


async def department_queue(
    session: AsyncSession, me: Principal
) -> tuple[Organisation, list[QueueRow]]:
    """The caller's department's tasks: open ones by deadline, then the last it finished.

    A street office's queue is the cases of the merchants on its street, to route.
    """
    org = await own_organisation(session, me)
    base = (
        select(CaseTask, Case, Merchant)
        .join(Case, Case.id == CaseTask.case_id)
        .join(Merchant, Merchant.id == Case.merchant_id)
        .where(CaseTask.organisation_id == org.id)
    )
    open_rows = await session.execute(
        base.where(CaseTask.status == TaskStatus.OPEN).order_by(CaseTask.deadline_at)
    )
    done_rows = await session.execute(
        base.where(CaseTask.status != TaskStatus.OPEN)
        .order_by(CaseTask.done_at.desc())
        .limit(QUEUE_DONE)
    )
    return org, [
        QueueRow(TaskView(task, org), case, merchant)
        for rows in (open_rows, done_rows)
        for task, case, merchant in rows
    ]


@dataclass(frozen=True)
class CaseRow:
    """A case in a list: its merchant and its tasks' departments."""

    case: Case
    merchant: Merchant
    tasks: list[TaskView]


async def cases_in_reach(session: AsyncSession, me: Principal) -> list[CaseRow]:
    """The cases a regulator (or a street office) oversees, open first, newest first."""
    query = select(Case, Merchant).join(Merchant, Merchant.id == Case.merchant_id)
    if me.role is Role.DEPARTMENT:
        org = await own_organisation(session, me)
        query = query.where(Merchant.street_id == org.id)
    elif me.role is Role.REGULATOR and me.district is not None:
        query = query.where(Case.district == me.district)
    elif me.role not in {Role.REGULATOR, Role.OPERATOR}:
        return []
    rows = (
        await session.execute(
            query.order_by((Case.status == "open").desc(), Case.opened_at.desc()).limit(LIST_LIMIT)
        )
    ).all()
    return [CaseRow(case, merchant, await _tasks(session, case.id)) for case, merchant in rows]


async def unmatched_tickets(session: AsyncSession, me: Principal) -> list[HotlineTicket]:
    """12345 tickets waiting for a regulator to name their merchant, oldest first."""
    if me.role not in {Role.REGULATOR, Role.OPERATOR}:
        return []
    query = select(HotlineTicket).where(HotlineTicket.merchant_id.is_(None))
    if me.role is Role.REGULATOR and me.district is not None:
        query = query.where(HotlineTicket.district == me.district)
    found = (
        await session.scalars(query.order_by(HotlineTicket.received_at).limit(LIST_LIMIT))
    ).all()
    return [t for t in found if sees_ticket(me, t)]


async def consumer_cases(session: AsyncSession, me: Principal) -> list[CaseRow]:
    """The cases of the consumer's complaints: filed on the platform or called in to 12345."""
    if me.consumer_id is None:
        return []
    consumer = await session.get(Consumer, me.consumer_id)
    if consumer is None:
        return []
    rows = (
        await session.execute(
            select(Case, Merchant)
            .join(Merchant, Merchant.id == Case.merchant_id)
            .outerjoin(Dispute, Dispute.id == Case.dispute_id)
            .outerjoin(HotlineTicket, HotlineTicket.ticket_id == Case.ticket_id)
            .where(
                or_(
                    Dispute.consumer_id == consumer.id,
                    HotlineTicket.caller_phone_hash == consumer.phone_hash,
                )
            )
            .order_by(Case.opened_at.desc())
        )
    ).all()
    return [CaseRow(case, merchant, await _tasks(session, case.id)) for case, merchant in rows]


async def task_case(session: AsyncSession, me: Principal, task_id: uuid.UUID) -> uuid.UUID:
    """The case of a task of the caller's department; 'not found' for any other task."""
    org = await own_organisation(session, me)
    case_id = await session.scalar(
        select(CaseTask.case_id).where(CaseTask.id == task_id, CaseTask.organisation_id == org.id)
    )
    if case_id is None:
        raise NotFound("case-task-not-found")
    return case_id
