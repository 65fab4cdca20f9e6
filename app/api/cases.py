"""Cases across departments over the API: open, route, take, hand over, find, confirm.

Regulators and street offices open and route cases; a department's staff act on their
department's tasks; the consumer who complained confirms the outcome.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from app.auth.models import Role
from app.auth.principal import requires
from app.cases import service, views
from app.cases.kpis import kpis
from app.clock import SHANGHAI, utcnow
from app.deps import Db, Me
from app.exceptions import Invalid

if TYPE_CHECKING:
    from app.cases.models import Case, CaseTask

OVERSEERS = (Role.REGULATOR, Role.OPERATOR, Role.DEPARTMENT)
"""Regulators, the operator and street offices open and route cases (the rule is the
service's; department staff of a non-street office are refused there)."""


class CaseIn(msgspec.Struct, forbid_unknown_fields=True):
    """The subject of a new case: a dispute or a warning."""

    dispute_id: uuid.UUID | None = None
    warning_id: uuid.UUID | None = None


class RouteIn(msgspec.Struct, forbid_unknown_fields=True):
    """One department to bring in."""

    organisation_id: uuid.UUID
    task: str
    days: int


class RoutesIn(msgspec.Struct, forbid_unknown_fields=True):
    """Departments to route the case to; several at once is a joint handling."""

    routes: list[RouteIn]


class HandOverIn(msgspec.Struct, forbid_unknown_fields=True):
    """The department to pass the task to, and why."""

    to: uuid.UUID
    note: str


class FindingIn(msgspec.Struct, forbid_unknown_fields=True):
    """A department's finding; a penalty carries its amount (fen) and document number."""

    finding: str
    text: str
    penalty_fen: int | None = None
    document_no: str | None = None


class MatchIn(msgspec.Struct, forbid_unknown_fields=True):
    """The merchant a hotline ticket is about."""

    merchant_id: uuid.UUID


class ConfirmIn(msgspec.Struct, forbid_unknown_fields=True):
    """The consumer's answer to the outcome."""

    satisfied: bool
    comment: str = ""


class TaskOut(msgspec.Struct):
    """A department's task on a case."""

    id: uuid.UUID
    case_id: uuid.UUID
    organisation_id: uuid.UUID
    organisation: str
    task: str
    lead: bool
    owner_id: uuid.UUID | None
    deadline_at: datetime
    status: str
    overdue: bool
    finding: str | None
    finding_text: str | None
    penalty_fen: int | None
    document_no: str | None
    done_at: datetime | None


class CaseOut(msgspec.Struct):
    """A case and its tasks."""

    id: uuid.UUID
    merchant_id: uuid.UUID
    merchant: str
    district: str
    subject: str
    dispute_id: uuid.UUID | None
    warning_id: uuid.UUID | None
    ticket_id: str | None
    summary: str
    status: str
    opened_at: datetime
    resolved_at: datetime | None
    satisfied: bool | None
    tasks: list[TaskOut]


class EventOut(msgspec.Struct):
    """One step of a case."""

    at: datetime
    kind: str
    actor_role: str
    task_id: uuid.UUID | None
    facts: dict[str, object]


class CaseDetailOut(CaseOut):
    """A case with every step it took."""

    events: list[EventOut] = msgspec.field(default_factory=list)


class TicketOut(msgspec.Struct):
    """A 12345 ticket waiting to be matched to a merchant (the caller's phone is not shown)."""

    ticket_id: str
    received_at: datetime
    merchant_code: str | None
    merchant_name: str | None
    district: str | None
    category: str
    text: str


class KpiOut(msgspec.Struct):
    """A department's or street office's figures for the period."""

    code: str
    kind: str
    name: str
    district: str
    received: int
    closed: int
    on_time: int
    on_time_share: float | None
    open_now: int
    median_days: float | None


def task_out(view: views.TaskView) -> TaskOut:
    """The API form of a task."""
    t = view.task
    return TaskOut(
        id=t.id,
        case_id=t.case_id,
        organisation_id=view.organisation.id,
        organisation=view.organisation.code,
        task=t.task,
        lead=t.lead,
        owner_id=t.owner_id,
        deadline_at=t.deadline_at,
        status=t.status,
        overdue=view.overdue,
        finding=t.finding,
        finding_text=t.finding_text,
        penalty_fen=t.penalty_fen,
        document_no=t.document_no,
        done_at=t.done_at,
    )


def _fields(case: Case, merchant: str, tasks: list[views.TaskView]) -> dict[str, object]:
    return {
        "id": case.id,
        "merchant_id": case.merchant_id,
        "merchant": merchant,
        "district": case.district,
        "subject": case.subject,
        "dispute_id": case.dispute_id,
        "warning_id": case.warning_id,
        "ticket_id": case.ticket_id,
        "summary": case.summary,
        "status": case.status,
        "opened_at": case.opened_at,
        "resolved_at": case.resolved_at,
        "satisfied": case.satisfied,
        "tasks": [task_out(t) for t in tasks],
    }


def detail_out(view: views.CaseView) -> CaseDetailOut:
    """The API form of a case with its steps."""
    return CaseDetailOut(
        **_fields(view.case, view.merchant.legal_name, view.tasks),  # type: ignore[arg-type]
        events=[EventOut(e.at, e.kind, e.actor_role, e.task_id, e.facts) for e in view.events],
    )


def row_out(row: views.CaseRow) -> CaseOut:
    """The API form of a case in a list."""
    return CaseOut(**_fields(row.case, row.merchant.legal_name, row.tasks))  # type: ignore[arg-type]


def _aware(moment: datetime) -> datetime:
    """A time without an offset is Shanghai's, as people in the district write it."""
    return moment.replace(tzinfo=SHANGHAI) if moment.tzinfo is None else moment


def consumer_out(view: views.CaseView | views.CaseRow) -> CaseOut:
    """What the consumer who complained sees.

    Each department's part and finding; not the officers, the hand-over notes or the steps.
    """
    out = row_out(views.CaseRow(view.case, view.merchant, view.tasks))
    for task in out.tasks:
        task.owner_id = None
    return out


class CaseController(Controller):
    """``/cases``: opening, routing and following cases."""

    path = "/cases"
    tags = ["cases"]  # noqa: RUF012

    @post("/", status_code=HTTP_201_CREATED, guards=[requires(*OVERSEERS)])
    async def open(self, db: Db, me: Me, data: JSONBody[CaseIn]) -> CaseDetailOut:
        """Open a case on a dispute or a warning in reach."""
        async with db.begin():
            case = await service.open_case(
                db, me, dispute_id=data.dispute_id, warning_id=data.warning_id
            )
            return detail_out(await views.case_view(db, me, case.id))

    @get("/", guards=[requires(*OVERSEERS)])
    async def in_reach(self, db: Db, me: Me) -> list[CaseOut]:
        """The cases in the caller's reach (a district, the city, or a street), open first."""
        async with db.begin():
            return [row_out(r) for r in await views.cases_in_reach(db, me)]

    @get("/{case_id:uuid}", guards=[requires(*OVERSEERS, Role.CONSUMER)])
    async def one(self, db: Db, me: Me, case_id: FromPath[uuid.UUID]) -> CaseOut:
        """A case with every department's task and every step, to whoever may see it.

        The consumer who complained sees the departments' parts and findings only.
        """
        async with db.begin():
            view = await views.case_view(db, me, case_id)
        return consumer_out(view) if me.role is Role.CONSUMER else detail_out(view)

    @post("/{case_id:uuid}/routes", status_code=HTTP_201_CREATED, guards=[requires(*OVERSEERS)])
    async def route(
        self, db: Db, me: Me, case_id: FromPath[uuid.UUID], data: JSONBody[RoutesIn]
    ) -> CaseDetailOut:
        """Route the case to one or more departments, each with its task and deadline."""
        routes = [service.Route(r.organisation_id, r.task, r.days) for r in data.routes]
        async with db.begin():
            await service.route(db, me, case_id, routes)
            return detail_out(await views.case_view(db, me, case_id))

    @get("/kpis", guards=[requires(Role.REGULATOR, Role.OPERATOR)])
    async def figures(
        self, db: Db, me: Me, since: FromQuery[datetime], until: FromQuery[datetime | None] = None
    ) -> list[KpiOut]:
        """Received, closed, closed on time and median days per department and street office."""
        since, end = _aware(since), _aware(until or utcnow())
        if since >= end:
            raise Invalid("case-kpi-period", fields={"since": "case-kpi-period"})
        async with db.begin():
            found = await kpis(db, me.district if me.role is Role.REGULATOR else None, since, end)
        return [
            KpiOut(
                k.code,
                k.kind,
                k.name_zh,
                k.district,
                k.received,
                k.closed,
                k.on_time,
                k.on_time_share,
                k.open_now,
                k.median_days,
            )
            for k in found
        ]


class CaseTaskController(Controller):
    """``/cases/tasks``: a department's staff act on their department's tasks."""

    path = "/cases/tasks"
    tags = ["cases"]  # noqa: RUF012
    guards = [requires(Role.DEPARTMENT)]  # noqa: RUF012

    @get("/")
    async def queue(self, db: Db, me: Me) -> list[TaskOut]:
        """The department's tasks: open ones by deadline, then the last it finished."""
        async with db.begin():
            _, rows = await views.department_queue(db, me)
        return [task_out(r.task) for r in rows]

    async def _after(self, db: Db, me: Me, task: CaseTask) -> TaskOut:
        found = next(
            t for t in (await views.case_view(db, me, task.case_id)).tasks if t.task.id == task.id
        )
        return task_out(found)

    @post("/{task_id:uuid}/take", status_code=HTTP_200_OK)
    async def take(self, db: Db, me: Me, task_id: FromPath[uuid.UUID]) -> TaskOut:
        """The calling officer owns the task."""
        async with db.begin():
            return await self._after(db, me, await service.take(db, me, task_id))

    @post("/{task_id:uuid}/hand-over", status_code=HTTP_201_CREATED)
    async def hand_over(
        self, db: Db, me: Me, task_id: FromPath[uuid.UUID], data: JSONBody[HandOverIn]
    ) -> TaskOut:
        """Pass the task to another department, saying why; returns the new department's task."""
        async with db.begin():
            moved = await service.hand_over(db, me, task_id, data.to, data.note)
            view = await views.case_view(db, me, moved.case_id)
        return task_out(next(t for t in view.tasks if t.task.id == moved.id))

    @post("/{task_id:uuid}/finding", status_code=HTTP_200_OK)
    async def finding(
        self, db: Db, me: Me, task_id: FromPath[uuid.UUID], data: JSONBody[FindingIn]
    ) -> TaskOut:
        """Record the department's finding; a penalty re-rates the merchant."""
        found = service.FindingIn(data.finding, data.text, data.penalty_fen, data.document_no)
        async with db.begin():
            return await self._after(db, me, await service.record_finding(db, me, task_id, found))


class HotlineController(Controller):
    """``/hotline/tickets``: 12345 work orders a regulator matches to their merchant."""

    path = "/hotline/tickets"
    tags = ["cases"]  # noqa: RUF012
    guards = [requires(Role.REGULATOR, Role.OPERATOR)]  # noqa: RUF012

    @get("/unmatched")
    async def unmatched(self, db: Db, me: Me) -> list[TicketOut]:
        """Tickets that named no merchant on the platform, oldest first."""
        async with db.begin():
            found = await views.unmatched_tickets(db, me)
        return [
            TicketOut(
                t.ticket_id,
                t.received_at,
                t.merchant_code,
                t.merchant_name,
                t.district,
                t.category,
                t.text,
            )
            for t in found
        ]

    @post("/{ticket_id:str}/match", status_code=HTTP_201_CREATED)
    async def match(
        self, db: Db, me: Me, ticket_id: FromPath[str], data: JSONBody[MatchIn]
    ) -> CaseDetailOut:
        """Name the ticket's merchant; its case opens."""
        async with db.begin():
            case = await service.match_ticket(db, me, ticket_id, data.merchant_id)
            return detail_out(await views.case_view(db, me, case.id))


class MyCasesController(Controller):
    """``/me/cases``: the outcomes of a consumer's complaints, and confirming them."""

    path = "/me/cases"
    tags = ["cases"]  # noqa: RUF012
    guards = [requires(Role.CONSUMER)]  # noqa: RUF012

    @get("/")
    async def mine(self, db: Db, me: Me) -> list[CaseOut]:
        """The cases of the consumer's complaints, newest first."""
        async with db.begin():
            return [consumer_out(r) for r in await views.consumer_cases(db, me)]

    @post("/{case_id:uuid}/confirm", status_code=HTTP_200_OK)
    async def confirm(
        self, db: Db, me: Me, case_id: FromPath[uuid.UUID], data: JSONBody[ConfirmIn]
    ) -> CaseOut:
        """Answer the outcome of a resolved case: satisfied or not, with a comment."""
        async with db.begin():
            await service.confirm(db, me, case_id, satisfied=data.satisfied, comment=data.comment)
            return consumer_out(await views.case_view(db, me, case_id))


CASE_CONTROLLERS = [CaseController, CaseTaskController, HotlineController, MyCasesController]
