"""``/dashboard/warnings``: the warnings in reach, open first; acknowledge, assign, note, close."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from app.deps import Db, Me
from app.exceptions import Invalid, NotFound
from app.i18n import gettext
from app.merchants.service import legal_names
from app.pages.regulator.dashboard import SUPERVISORS
from app.pages.render import Form, lang_of, page, run_form, said_done
from app.supervision import directory, warnings

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal
    from app.supervision.models import Warning as WarningRow

QUEUE_ROWS = 100
WARNING_ACTIONS = ("acknowledge", "assign", "note", "close")
STATUSES = ("open", "acknowledged", "closed")


async def warning_queue(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    me: Principal,
    status: str | None,
    merchant_id: uuid.UUID | None,
) -> dict[str, Any]:
    """The warnings, their notes, who they are assigned to and who could take them."""
    lang = lang_of(request)
    wanted = status if status in STATUSES else None
    found: Sequence[WarningRow] = await warnings.queue(
        db, me, status=wanted, rule=None, merchant_id=merchant_id, limit=QUEUE_ROWS, offset=0
    )
    notes = {w.id: list(await warnings.notes_of(db, w.id)) for w in found}
    colleagues = {d: await directory.regulators_of(db, d) for d in {w.district for w in found}}
    people = await directory.usernames(
        db,
        [w.assigned_to for w in found]
        + [n.author for ns in notes.values() for n in ns]
        + [w.closed_by for w in found],
    )
    return {
        "warnings": found,
        "notes": notes,
        "colleagues": colleagues,
        "people": people,
        "merchants": await legal_names(db, [w.merchant_id for w in found]),
        "status": wanted or "",
        "merchant_id": merchant_id,
        "rule_name": lambda rule: gettext(lang, f"r_rule_{rule}"),
        "errors": {},
        "values": {},
    }


def assignee(data: dict[str, str]) -> uuid.UUID:
    """The regulator chosen to take the warning."""
    try:
        return uuid.UUID(data.get("user_id", ""))
    except ValueError:
        code = "regulator-assignee-unchosen"
        raise Invalid(code, fields={"user_id": code}) from None


async def _warning_step(
    db: AsyncSession, me: Principal, warning_id: uuid.UUID, action: str, data: dict[str, str]
) -> None:
    async with db.begin():
        if action == "acknowledge":
            await warnings.acknowledge(db, me, warning_id)
        elif action == "assign":
            await warnings.assign(db, me, warning_id, assignee(data))
        elif action == "note":
            await warnings.add_note(db, me, warning_id, data.get("text", ""))
        else:
            await warnings.close(db, me, warning_id, data.get("feedback", ""))


class WarningPages(Controller):
    """The warnings queue and each warning's handling."""

    path = "/dashboard/warnings"
    include_in_schema = False
    guards = [SUPERVISORS]  # noqa: RUF012
    opt = {"page": True}  # noqa: RUF012 - errors render as pages (app.errors)

    @get("/")
    async def warnings_queue(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        me: Me,
        status: FromQuery[str | None] = None,
        merchant_id: FromQuery[uuid.UUID | None] = None,
        done: FromQuery[str | None] = None,
    ) -> Template:
        """Open warnings first, newest first: acknowledge, assign, note, close with feedback."""
        context = await warning_queue(request, db, me, status, merchant_id)
        flash = said_done(lang_of(request), "r_done_", done, WARNING_ACTIONS)
        return page(request, "regulator/warnings.html", flash=flash, **context)

    @post("/{warning_id:uuid}/{action:str}")
    async def warning_action(
        self,
        request: Request[Any, Any, Any],
        warning_id: FromPath[uuid.UUID],
        action: FromPath[str],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """One step of a warning's handling."""
        if action not in WARNING_ACTIONS:
            raise NotFound("regulator-no-such-step")
        status = data.get("status") or None
        query = f"status={status}&" if status else ""
        return await run_form(
            request,
            _warning_step(db, me, warning_id, action, data),
            done=f"/dashboard/warnings?{query}done={action}#w-{warning_id}",
            again=lambda: warning_queue(request, db, me, status, None),
            name="regulator/warnings.html",
            row=warning_id,
            data=data,
        )
