"""Cases across departments on the pages: a department's queue and case page, the regulator's.

* ``/dept``: a department officer's queue (open tasks by deadline, then the last finished);
  a street office's also lists the cases on its street, to route;
* ``/dept/cases/{id}``: the case, every department's task and finding, every step, and the
  forms the officer may use (take, hand over, record the finding; route, for a street);
* ``/dashboard/cases``: the regulator's cases, each department's figures, and the 12345
  tickets waiting to be matched; ``/dashboard/cases/{id}`` the same case page with the route
  form.

Each form runs one use case of :mod:`app.cases.service` in one transaction; a refused form is
shown again with its words beside the field.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from app.auth.models import Role
from app.auth.principal import requires
from app.cases import service, views
from app.cases.directory import name_of
from app.cases.kpis import kpis
from app.cases.models import Finding
from app.clock import utcnow
from app.deps import Db, Me
from app.exceptions import Invalid
from app.i18n import day, gettext
from app.pages.forms import parse_count, parse_yuan
from app.pages.render import Form, back_to, lang_of, page, run_form, said_done

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal

FINDINGS = tuple(f.value for f in Finding)
DONE = ("taken", "handed", "found", "routed", "matched", "opened")
KPI_DAYS = 90
"""The regulator's page shows each department's figures over the last 90 days."""


async def case_page(
    request: Request[Any, Any, Any], db: AsyncSession, me: Principal, case_id: uuid.UUID
) -> dict[str, Any]:
    """What a case's page shows, for whoever may see it."""
    view = await views.case_view(db, me, case_id)
    lang = lang_of(request)
    names = {t.organisation.code: name_of(t.organisation, lang) for t in view.tasks}
    names.update({o.code: name_of(o, lang) for o in view.departments})
    return {
        "view": view,
        "org_names": names,
        "departments": [(str(o.id), name_of(o, lang)) for o in view.departments],
        "hand_to": [
            (str(o.id), name_of(o, lang))
            for o in view.departments
            if view.mine is None or o.id != view.mine.organisation.id
        ],
        "findings": [(f, gettext(lang, f"cs_f_{f}")) for f in FINDINGS],
        "day": lambda value: day(value, lang),
        "base": "/dashboard/cases" if me.role is not Role.DEPARTMENT else "/dept/cases",
        "layout": "regulator/layout.html"
        if me.role is not Role.DEPARTMENT
        else "cases/layout.html",
        "errors": {},
        "values": {},
    }


def _routes(data: dict[str, str]) -> list[service.Route]:
    """The departments ticked (``org-<id>``), each with the form's task and days."""
    days = parse_count(data.get("days", ""))
    if days is None:
        raise Invalid(
            "case-task-days", fields={"days": "case-task-days"}, max=service.MAX_TASK_DAYS
        )
    picked = []
    for key, value in data.items():
        if key.startswith("org-") and value == "on":
            try:
                picked.append(uuid.UUID(key.removeprefix("org-")))
            except ValueError:
                continue
    return [service.Route(org, data.get("task", ""), days) for org in picked]


def _finding(data: dict[str, str]) -> service.FindingIn:
    penalty = None
    if data.get("finding") == Finding.PENALTY:
        penalty = parse_yuan(data.get("penalty", ""))
        if penalty is None:
            raise Invalid("case-penalty-amount", fields={"penalty": "case-penalty-amount"})
    return service.FindingIn(
        data.get("finding", ""), data.get("text", ""), penalty, data.get("document_no") or None
    )


async def _act(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    me: Principal,
    case_id: uuid.UUID,
    act: Callable[[], Awaitable[object]],
    *,
    row: str,
    done: str,
    data: dict[str, str],
) -> Template | Redirect:
    """Run one form's use case in a transaction; refused, the case page again with the words."""
    base = "/dept/cases" if me.role is Role.DEPARTMENT else "/dashboard/cases"

    async def run() -> None:
        async with db.begin():
            await act()

    return await run_form(
        request,
        run(),
        done=f"{base}/{case_id}?done={done}",
        again=lambda: case_page(request, db, me, case_id),
        name="cases/case.html",
        row=row,
        data=data,
    )


async def _task_case(db: AsyncSession, me: Principal, task_id: uuid.UUID) -> uuid.UUID:
    """The case of one of the caller's department's tasks (404 otherwise)."""
    async with db.begin():
        return await views.task_case(db, me, task_id)


class _CaseForms(Controller):
    """A case's page and its route form, shared by the department's and the regulator's."""

    @get("/cases/{case_id:uuid}")
    async def case(
        self,
        request: Request[Any, Any, Any],
        case_id: FromPath[uuid.UUID],
        db: Db,
        me: Me,
        done: FromQuery[str | None] = None,
    ) -> Template:
        """A case the caller may see: a department it was routed to, a regulator in reach."""
        async with db.begin():
            context = await case_page(request, db, me, case_id)
        flash = said_done(lang_of(request), "cs_done_", done, DONE)
        return page(request, "cases/case.html", flash=flash, **context)

    @post("/cases/{case_id:uuid}/routes")
    async def route(
        self,
        request: Request[Any, Any, Any],
        case_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Route the case to the departments ticked."""

        async def act() -> object:
            return await service.route(db, me, case_id, _routes(data))

        return await _act(request, db, me, case_id, act, row="route", done="routed", data=data)


class DepartmentPages(_CaseForms):
    """``/dept``: a department officer's queue and cases."""

    path = "/dept"
    include_in_schema = False
    guards = [requires(Role.DEPARTMENT)]  # noqa: RUF012
    opt = {"page": True}  # noqa: RUF012 - errors render as pages (app.errors)

    @get("/")
    async def queue(self, request: Request[Any, Any, Any], db: Db, me: Me) -> Template:
        """The department's tasks by deadline; for a street office, its cases to route."""
        async with db.begin():
            org, rows = await views.department_queue(db, me)
            street = await views.cases_in_reach(db, me) if org.kind == "street" else []
        lang = lang_of(request)
        return page(
            request,
            "cases/queue.html",
            day=lambda value: day(value, lang),
            org=org,
            org_name=name_of(org, lang_of(request)),
            rows=rows,
            street=street,
            now=utcnow(),
        )

    @post("/tasks/{task_id:uuid}/take")
    async def take(
        self, request: Request[Any, Any, Any], task_id: FromPath[uuid.UUID], db: Db, me: Me
    ) -> Template | Redirect:
        """The officer takes the task."""
        case_id = await _task_case(db, me, task_id)

        async def act() -> object:
            return await service.take(db, me, task_id)

        return await _act(request, db, me, case_id, act, row="take", done="taken", data={})

    @post("/tasks/{task_id:uuid}/hand-over")
    async def hand_over(
        self,
        request: Request[Any, Any, Any],
        task_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Pass the task to another department."""
        case_id = await _task_case(db, me, task_id)

        async def act() -> object:
            try:
                to = uuid.UUID(data.get("to", ""))
            except ValueError:
                raise Invalid(
                    "case-route-not-a-department", fields={"to": "case-route-not-a-department"}
                ) from None
            return await service.hand_over(db, me, task_id, to, data.get("note", ""))

        return await _act(request, db, me, case_id, act, row="hand", done="handed", data=data)

    @post("/tasks/{task_id:uuid}/finding")
    async def finding(
        self,
        request: Request[Any, Any, Any],
        task_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Record the department's finding."""
        case_id = await _task_case(db, me, task_id)

        async def act() -> object:
            return await service.record_finding(db, me, task_id, _finding(data))

        return await _act(request, db, me, case_id, act, row="finding", done="found", data=data)


class CaseSupervisionPages(_CaseForms):
    """``/dashboard/cases``: the regulator's cases, departments' figures, tickets to match."""

    path = "/dashboard"
    include_in_schema = False
    guards = [requires(Role.REGULATOR, Role.OPERATOR)]  # noqa: RUF012
    opt = {"page": True}  # noqa: RUF012 - errors render as pages (app.errors)

    async def _list(
        self, request: Request[Any, Any, Any], db: AsyncSession, me: Principal
    ) -> dict[str, Any]:
        now = utcnow()
        district = me.district if me.role is Role.REGULATOR else None
        return {
            "rows": await views.cases_in_reach(db, me),
            "tickets": await views.unmatched_tickets(db, me),
            "kpis": await kpis(db, district, now - timedelta(days=KPI_DAYS), now),
            "kpi_days": KPI_DAYS,
            "lang": lang_of(request),
            "errors": {},
            "values": {},
        }

    @get("/cases")
    async def cases_list(
        self, request: Request[Any, Any, Any], db: Db, me: Me, done: FromQuery[str | None] = None
    ) -> Template:
        """Cases in reach, open first; each department's figures; tickets to match."""
        async with db.begin():
            context = await self._list(request, db, me)
        flash = said_done(lang_of(request), "cs_done_", done, DONE)
        return page(request, "cases/list.html", flash=flash, **context)

    @post("/cases/open")
    async def open_case(self, data: Form, db: Db, me: Me) -> Redirect:
        """Open a case on a dispute or a warning (the buttons on their pages)."""
        made: list[uuid.UUID] = []
        try:
            dispute = uuid.UUID(data["dispute_id"]) if data.get("dispute_id") else None
            warning = uuid.UUID(data["warning_id"]) if data.get("warning_id") else None
        except ValueError:
            return back_to("/dashboard/cases")
        async with db.begin():
            case = await service.open_case(db, me, dispute_id=dispute, warning_id=warning)
            made.append(case.id)
        return back_to(f"/dashboard/cases/{made[0]}?done=opened")

    @post("/cases/tickets/{ticket_id:str}/match")
    async def match(
        self,
        request: Request[Any, Any, Any],
        ticket_id: FromPath[str],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Match a 12345 ticket to the merchant with the credit code typed."""

        async def run() -> None:
            async with db.begin():
                await service.match_ticket_by_code(db, me, ticket_id, data.get("uscc", ""))

        return await run_form(
            request,
            run(),
            done="/dashboard/cases?done=matched",
            again=lambda: self._list(request, db, me),
            name="cases/list.html",
            row=ticket_id,
            data=data,
        )


CASE_PAGES = (DepartmentPages, CaseSupervisionPages)
"""Every controller of the case pages (``app.pages.routes`` mounts them)."""
