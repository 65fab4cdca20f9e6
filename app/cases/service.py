"""Cases across departments: open, route and co-assign, take, hand over, find, confirm.

Who does what:

* a regulator of the district (or the city, or the operator) opens a case on a dispute or a
  warning in reach, routes it to one or more departments and matches hotline tickets;
* the street office (街道) of the merchant's street does the same for merchants on its street:
  the risk engine's warnings go there first;
* a department's staff see only the cases routed to their department; they take a task,
  hand it to another department (the hand-over is kept), and record the finding. A penalty
  (amount and document number) becomes an indicator record of the merchant
  (``credit/penalties``), which re-rates it;
* when every department's task is done the case is resolved, and the consumer who complained
  sees the outcome and confirms it.

Every step is a row of ``case_events``. The first department routed leads; the others assist.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from app.auth.models import Consumer, Role
from app.cases.models import (
    Case,
    CaseEvent,
    CaseStatus,
    CaseTask,
    Finding,
    HotlineTicket,
    Organisation,
    OrgKind,
    Subject,
    TaskStatus,
)
from app.clock import shanghai_midnight, today, utcnow
from app.exceptions import Conflict, Forbidden, Invalid, NotFound
from app.merchants.models import Merchant
from app.merchants.uscc import normalise_uscc
from app.risk.ingest import import_rows
from app.risk.models import IndicatorRecord
from app.supervision.models import Dispute
from app.supervision.models import Warning as RiskWarning
from scoring.intake import Row

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal

MAX_TASK_DAYS = 90
"""A department is given 1 to 90 days for its task."""
MAX_TEXT = 2000
MAX_PENALTY_FEN = 10**12
"""¥10 billion: a fine above it is a typing mistake, not a penalty."""
MAX_DOCUMENT = 64
"""A decision document's number (杭上市监罚〔2026〕12号) is short; it goes into a provenance."""


@dataclass(frozen=True)
class Route:
    """One department to bring in, what it is asked to do, and in how many days."""

    organisation_id: uuid.UUID
    task: str
    days: int


_TEXT_CODES = {"task": "case-task-text", "note": "case-note-text", "text": "case-finding-text"}
"""The error of each free-text field left empty or too long, by the field's name."""


def _text(value: str, field: str) -> str:
    cleaned = value.strip()
    if not cleaned or len(cleaned) > MAX_TEXT:
        raise Invalid(_TEXT_CODES[field], fields={field: _TEXT_CODES[field]}, max=MAX_TEXT)
    return cleaned


def deadline(days: int) -> datetime:
    """The end of the ``days``-th Shanghai calendar day from today (today counts as day 0)."""
    if not 1 <= days <= MAX_TASK_DAYS:
        raise Invalid("case-task-days", fields={"days": "case-task-days"}, max=MAX_TASK_DAYS)
    return shanghai_midnight(today() + timedelta(days=days + 1))


async def _event(
    session: AsyncSession,
    me: Principal | None,
    case: Case,
    kind: str,
    step: CaseTask | None = None,
    **facts: Any,  # noqa: ANN401 - JSON-able facts of the step
) -> None:
    """One step of the case, by ``me`` (``None``: the platform itself, role ``system``)."""
    actor = None if me is None else me.consumer_id if me.role is Role.CONSUMER else me.user_id
    session.add(
        CaseEvent(
            case_id=case.id,
            task_id=None if step is None else step.id,
            at=utcnow(),
            kind=kind,
            actor_role="system" if me is None else me.role.value,
            actor_id=actor,
            facts=facts,
        )
    )
    await session.flush()


async def _new_case(
    session: AsyncSession,
    me: Principal | None,
    *,
    merchant_id: uuid.UUID,
    district: str,
    subject: Subject,
    summary: str,
    dispute_id: uuid.UUID | None = None,
    warning_id: uuid.UUID | None = None,
    ticket_id: str | None = None,
    **facts: Any,  # noqa: ANN401 - JSON-able facts of the "opened" step
) -> Case:
    """An open case about one subject, with its "opened" step."""
    case = Case(
        id=uuid.uuid4(),
        merchant_id=merchant_id,
        district=district,
        subject=subject,
        dispute_id=dispute_id,
        warning_id=warning_id,
        ticket_id=ticket_id,
        summary=summary,
        status=CaseStatus.OPEN,
        opened_at=utcnow(),
        opened_by=None if me is None else me.user_id,
    )
    session.add(case)
    await session.flush()
    await _event(session, me, case, "opened", subject=case.subject, **facts)
    return case


async def own_organisation(session: AsyncSession, me: Principal) -> Organisation:
    """The department or street office a ``department`` caller works for."""
    if me.role is not Role.DEPARTMENT or me.organisation_id is None:
        raise Forbidden("department-staff-only")
    org = await session.get(Organisation, me.organisation_id)
    if org is None:
        raise Forbidden("department-staff-only")
    return org


async def _routes_for(session: AsyncSession, me: Principal, merchant: Merchant) -> bool:
    """Whether ``me`` may open and route cases on ``merchant``: its regulator or street."""
    if me.sees_district(merchant.district):
        return True
    if me.role is Role.DEPARTMENT and merchant.street_id is not None:
        org = await own_organisation(session, me)
        return org.kind == OrgKind.STREET and org.id == merchant.street_id
    return False


async def _merchant(session: AsyncSession, merchant_id: uuid.UUID) -> Merchant:
    merchant = await session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound("merchant-not-found")
    return merchant


async def open_case(
    session: AsyncSession,
    me: Principal,
    *,
    dispute_id: uuid.UUID | None = None,
    warning_id: uuid.UUID | None = None,
) -> Case:
    """A case on a dispute or a warning in the caller's reach; one case per subject."""
    if (dispute_id is None) == (warning_id is None):
        raise Invalid("case-subject-one")
    subject: Dispute | RiskWarning | None = (
        await session.get(Dispute, dispute_id, with_for_update=True)
        if dispute_id is not None
        else await session.get(RiskWarning, warning_id, with_for_update=True)
    )
    if subject is None:
        raise NotFound("case-subject-not-found")
    merchant = await _merchant(session, subject.merchant_id)
    if not await _routes_for(session, me, merchant):
        raise NotFound("case-subject-not-found")
    column = Case.dispute_id if dispute_id is not None else Case.warning_id
    existing = await session.scalar(select(Case.id).where(column == subject.id))
    if existing is not None:
        raise Conflict("case-already-open", case_id=str(existing))
    return await _new_case(
        session,
        me,
        merchant_id=merchant.id,
        district=merchant.district,
        subject=Subject.DISPUTE if dispute_id is not None else Subject.WARNING,
        summary=subject.text if isinstance(subject, Dispute) else subject.title,
        dispute_id=dispute_id,
        warning_id=warning_id,
    )


async def send_warning_to_street(session: AsyncSession, warning_id: uuid.UUID) -> Case | None:
    """A new warning about a merchant on a street becomes a case in its street office's list.

    The street office routes it to the departments it needs. A merchant on no street (or a
    warning that already has a case) changes nothing: the regulator's queue has it anyway.
    """
    warning = await session.get(RiskWarning, warning_id)
    if warning is None:
        return None
    merchant = await _merchant(session, warning.merchant_id)
    if merchant.street_id is None:
        return None
    if await session.scalar(select(Case.id).where(Case.warning_id == warning.id)) is not None:
        return None
    return await _new_case(
        session,
        None,
        merchant_id=merchant.id,
        district=merchant.district,
        subject=Subject.WARNING,
        summary=warning.title,
        warning_id=warning.id,
        street=str(merchant.street_id),
    )


async def open_hotline_case(session: AsyncSession, me: Principal, ticket: HotlineTicket) -> Case:
    """The case of a matched 12345 ticket (at import, or when a regulator matches it)."""
    if ticket.merchant_id is None or ticket.district is None:
        raise Conflict("hotline-ticket-unmatched", ticket=ticket.ticket_id)
    return await _new_case(
        session,
        me,
        merchant_id=ticket.merchant_id,
        district=ticket.district,
        subject=Subject.HOTLINE,
        summary=ticket.text,
        ticket_id=ticket.ticket_id,
        ticket=ticket.ticket_id,
    )


async def match_ticket(
    session: AsyncSession, me: Principal, ticket_id: str, merchant_id: uuid.UUID
) -> Case:
    """A regulator names the merchant a ticket (given only by name) is about; its case opens."""
    ticket = await session.get(HotlineTicket, ticket_id, with_for_update=True)
    if ticket is None or not sees_ticket(me, ticket):
        raise NotFound("hotline-ticket-not-found")
    if ticket.merchant_id is not None:
        raise Conflict("hotline-ticket-matched", ticket=ticket_id)
    merchant = await _merchant(session, merchant_id)
    if not me.sees_district(merchant.district):
        raise NotFound("merchant-not-found")
    ticket.merchant_id, ticket.district = merchant.id, merchant.district
    return await open_hotline_case(session, me, ticket)


def sees_ticket(me: Principal, ticket: HotlineTicket) -> bool:
    """A ticket's district's regulators see it; one with no district, the city's and operators."""
    if ticket.district is not None:
        return me.sees_district(ticket.district)
    return me.role is Role.OPERATOR or (me.role is Role.REGULATOR and me.district is None)


async def match_ticket_by_code(
    session: AsyncSession, me: Principal, ticket_id: str, uscc: str
) -> Case:
    """Match a ticket to the merchant with this credit code (the regulator's page types it)."""
    code = normalise_uscc(uscc)
    merchant_id = await session.scalar(select(Merchant.id).where(Merchant.uscc == code))
    if merchant_id is None:
        raise Invalid("hotline-match-unknown-code", fields={"uscc": "hotline-match-unknown-code"})
    return await match_ticket(session, me, ticket_id, merchant_id)


async def _case(session: AsyncSession, case_id: uuid.UUID, *, lock: bool = False) -> Case:
    case = await session.get(Case, case_id, with_for_update=lock)
    if case is None:
        raise NotFound("case-not-found")
    return case


async def _free_department(
    session: AsyncSession, case: Case, org_id: uuid.UUID, *, field: str
) -> Organisation:
    """A department of the case's district holding no open task on it: one a task may go to.

    ``field`` names the form field a refusal is written beside.
    """
    org = await session.get(Organisation, org_id)
    if org is None or org.kind != OrgKind.DEPARTMENT or org.district != case.district:
        raise Invalid("case-route-not-a-department", fields={field: "case-route-not-a-department"})
    holding = await session.scalar(
        select(CaseTask.id).where(
            CaseTask.case_id == case.id,
            CaseTask.organisation_id == org.id,
            CaseTask.status == TaskStatus.OPEN,
        )
    )
    if holding is not None:
        raise Conflict("case-route-already-holds", organisation=org.name_zh)
    return org


async def route(
    session: AsyncSession, me: Principal, case_id: uuid.UUID, routes: Sequence[Route]
) -> list[CaseTask]:
    """Bring departments of the case's district in, each with its task and deadline."""
    case = await _case(session, case_id, lock=True)
    if not await _routes_for(session, me, await _merchant(session, case.merchant_id)):
        raise NotFound("case-not-found")
    if case.status != CaseStatus.OPEN:
        raise Conflict("case-not-open", status=case.status)
    if not routes:
        raise Invalid("case-route-none")
    if len({r.organisation_id for r in routes}) != len(routes):
        raise Invalid("case-route-twice")
    leads = await session.scalar(select(func.count()).where(CaseTask.case_id == case.id))
    made = []
    for n, r in enumerate(routes):
        org = await _free_department(session, case, r.organisation_id, field="organisation")
        task = CaseTask(
            id=uuid.uuid4(),
            case_id=case.id,
            organisation_id=org.id,
            task=_text(r.task, "task"),
            lead=leads == 0 and n == 0,
            deadline_at=deadline(r.days),
            status=TaskStatus.OPEN,
        )
        session.add(task)
        await session.flush()
        await _event(
            session,
            me,
            case,
            "routed" if task.lead or n == 0 else "co-assigned",
            task,
            organisation=org.code,
            task=task.task,
            deadline=task.deadline_at.isoformat(),
        )
        made.append(task)
    return made


async def _my_task(
    session: AsyncSession, me: Principal, task_id: uuid.UUID
) -> tuple[CaseTask, Case, Organisation]:
    """An open task of the caller's department, locked with its case."""
    org = await own_organisation(session, me)
    task = await session.get(CaseTask, task_id, with_for_update=True)
    if task is None or task.organisation_id != org.id:
        raise NotFound("case-task-not-found")
    case = await _case(session, task.case_id, lock=True)
    if task.status != TaskStatus.OPEN:
        raise Conflict("case-task-not-open", status=task.status)
    return task, case, org


async def take(session: AsyncSession, me: Principal, task_id: uuid.UUID) -> CaseTask:
    """The calling officer becomes the task's owner."""
    task, case, _ = await _my_task(session, me, task_id)
    if task.owner_id is not None and task.owner_id != me.user_id:
        raise Conflict("case-task-taken")
    task.owner_id = me.user_id
    await _event(session, me, case, "taken", task)
    return task


async def hand_over(
    session: AsyncSession, me: Principal, task_id: uuid.UUID, to: uuid.UUID, note: str
) -> CaseTask:
    """Pass the task to another department of the district, saying why; its deadline stays."""
    task, case, org = await _my_task(session, me, task_id)
    if to == org.id:
        raise Invalid("case-hand-over-to-self", fields={"to": "case-hand-over-to-self"})
    target = await _free_department(session, case, to, field="to")
    note = _text(note, "note")
    task.status = TaskStatus.HANDED_OVER
    task.done_at, task.done_by = utcnow(), me.user_id
    await session.flush()
    moved = CaseTask(
        id=uuid.uuid4(),
        case_id=case.id,
        organisation_id=target.id,
        task=task.task,
        lead=task.lead,
        deadline_at=task.deadline_at,
        status=TaskStatus.OPEN,
    )
    session.add(moved)
    await session.flush()
    await _event(
        session, me, case, "handed-over", moved, organisation=org.code, to=target.code, note=note
    )
    return moved


@dataclass(frozen=True)
class FindingIn:
    """What a department found: the kind, in words, and for a penalty its amount and document."""

    finding: str
    text: str
    penalty_fen: int | None = None
    document_no: str | None = None


async def record_finding(
    session: AsyncSession, me: Principal, task_id: uuid.UUID, found: FindingIn
) -> CaseTask:
    """Close the task with its finding; the last task done resolves the case.

    A penalty re-rates the merchant in the same transaction.
    """
    task, case, org = await _my_task(session, me, task_id)
    if found.finding not in {f.value for f in Finding}:
        raise Invalid("case-finding-unknown", fields={"finding": "case-finding-unknown"})
    words = _text(found.text, "text")
    penalty, document = None, None
    if found.finding == Finding.PENALTY:
        if found.penalty_fen is None or not 0 < found.penalty_fen <= MAX_PENALTY_FEN:
            raise Invalid("case-penalty-amount", fields={"penalty": "case-penalty-amount"})
        document = (found.document_no or "").strip()
        if not document or len(document) > MAX_DOCUMENT:
            raise Invalid("case-penalty-document", fields={"document_no": "case-penalty-document"})
        penalty = found.penalty_fen
    task.status, task.finding, task.finding_text = TaskStatus.DONE, found.finding, words
    task.penalty_fen, task.document_no = penalty, document
    task.done_at, task.done_by = utcnow(), me.user_id
    await session.flush()
    await _event(
        session,
        me,
        case,
        "finding",
        task,
        organisation=org.code,
        finding=found.finding,
        text=words,
        penalty_fen=penalty,
        document_no=document,
    )
    if penalty is not None and document is not None:
        await _penalty_record(session, me, case, task, org, document)
    still_open = await session.scalar(
        select(func.count()).where(CaseTask.case_id == case.id, CaseTask.status == TaskStatus.OPEN)
    )
    if not still_open:
        case.status, case.resolved_at = CaseStatus.RESOLVED, utcnow()
        await _event(session, me, case, "resolved")
    return task


async def _penalty_record(
    session: AsyncSession,
    me: Principal,
    case: Case,
    task: CaseTask,
    org: Organisation,
    document: str,
) -> None:
    """The merchant's count of administrative penalties goes up by one, as of today.

    The merchant's row is locked first: two departments fining it at once count two.

    Written through the indicator intake (the credit source's ``penalties``), so it is
    checked, kept with its provenance (the department and the document) and re-rates the
    merchant in this same transaction.
    """
    merchant = await session.get(Merchant, case.merchant_id, with_for_update=True)
    if merchant is None:
        raise NotFound("merchant-not-found")
    latest = await session.scalar(
        select(IndicatorRecord.value)
        .where(
            IndicatorRecord.merchant_id == merchant.id,
            IndicatorRecord.source == "credit",
            IndicatorRecord.kind == "penalties",
        )
        .order_by(IndicatorRecord.as_of.desc(), IndicatorRecord.id.desc())
        .limit(1)
    )
    count = int(float(latest or 0)) + 1
    report = await import_rows(
        session,
        [
            Row(
                line=1,
                uscc=merchant.uscc,
                source="credit",
                kind="penalties",
                value=str(count),
                as_of=today().isoformat(),
                provenance=f"{org.name_zh} {document}",
            )
        ],
        channel="api",
        origin=f"case-task:{task.id}",
        digest=hashlib.sha256(f"case-task:{task.id}".encode()).digest(),
        source="credit",
        on_error="refuse",
        imported_by=me.user_id,
    )
    if report.accepted != 1:
        raise Conflict("case-penalty-not-recorded", ticket=str(task.id))


async def complainant(session: AsyncSession, case: Case) -> uuid.UUID | None:
    """The consumer who complained: the dispute's filer, or the hotline caller's account."""
    if case.dispute_id is not None:
        dispute = await session.get(Dispute, case.dispute_id)
        return None if dispute is None else dispute.consumer_id
    if case.ticket_id is not None:
        ticket = await session.get(HotlineTicket, case.ticket_id)
        if ticket is None:
            return None
        return await session.scalar(
            select(Consumer.id).where(Consumer.phone_hash == ticket.caller_phone_hash)
        )
    return None


async def confirm(
    session: AsyncSession, me: Principal, case_id: uuid.UUID, *, satisfied: bool, comment: str
) -> Case:
    """The consumer who complained answers the outcome of a resolved case, once."""
    case = await _case(session, case_id, lock=True)
    if me.consumer_id is None or await complainant(session, case) != me.consumer_id:
        raise NotFound("case-not-found")
    if case.status != CaseStatus.RESOLVED:
        raise Conflict("case-not-resolved", status=case.status)
    cleaned = comment.strip()
    if len(cleaned) > MAX_TEXT:
        raise Invalid("case-comment-long", fields={"comment": "case-comment-long"}, max=MAX_TEXT)
    case.status, case.confirmed_at = CaseStatus.CONFIRMED, utcnow()
    case.satisfied, case.consumer_comment = satisfied, cleaned or None
    await _event(session, me, case, "confirmed", satisfied=satisfied, comment=cleaned)
    return case
