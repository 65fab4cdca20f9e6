"""``/dashboard/closures``: merchants closing in good order, their holders' choices, the move.

The list shows every closure in reach with its date and how its holders have chosen; a
closure's page names successors (a merchant, then each product mapped to one of its own) and
starts the bulk move of the cards whose holders chose one, which runs in the background
while the page follows the count. A merchant's file files a closure on its behalf.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from app.clock import utcnow
from app.closures import service as closures
from app.deps import Db, Me
from app.pages.closure_forms import closes_on, closing_day, picked_id, successor_terms
from app.pages.regulator.dashboard import SUPERVISORS
from app.pages.regulator.merchants import merchant_file
from app.pages.render import Form, back_to, lang_of, page, run_form, said_done

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal

DONE = ("filed", "named", "moving", "moved")


async def closure_file(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    me: Principal,
    closure_id: uuid.UUID,
    successor: uuid.UUID | None,
    uscc: str | None = None,
) -> dict[str, Any]:
    """What a closure's page shows: the tally, the successors, the forms."""
    view = await closures.closure_view(db, me, closure_id)
    candidates = await closures.successor_candidates(db, view.merchant)
    named = {o.successor_id for o, _ in view.offers}
    picked = await closures.successor_candidate(db, view.merchant, merchant_id=successor, uscc=uscc)
    if picked is not None and picked.id in named:
        picked = None
    mapping = await closures.mapping_choices(db, view.closure, picked.id) if picked else []
    return {
        "view": view,
        "closes_day": closing_day(view.closure, lang_of(request)),
        "days_left": max(0, (view.closure.closes_at - utcnow()).days),
        "candidates": [(str(m.id), m.legal_name) for m in candidates if m.id not in named],
        "picked": picked,
        "mapping": [(old, [(str(p.id), p.name) for p in theirs]) for old, theirs in mapping],
        "moving": closures.moving(closure_id),
        "errors": {},
        "values": {},
    }


class ClosurePages(Controller):
    """Closures in the caller's reach, one closure's page, and the forms that act on it."""

    path = "/dashboard/closures"
    include_in_schema = False
    guards = [SUPERVISORS]  # noqa: RUF012
    opt = {"page": True}  # noqa: RUF012 - errors render as pages (app.errors)

    @get("/")
    async def closures_list(self, request: Request[Any, Any, Any], db: Db, me: Me) -> Template:
        """Every closure in reach: running ones by date, with how the holders chose."""
        lang = lang_of(request)
        views = await closures.supervised_closures(db, me)
        return page(
            request,
            "regulator/closures.html",
            views=views,
            days={v.closure.id: closing_day(v.closure, lang) for v in views},
        )

    @post("/")
    async def file_closure(
        self, request: Request[Any, Any, Any], data: Form, db: Db, me: Me
    ) -> Template | Redirect:
        """File a merchant's closure on its behalf, from its file."""
        try:
            merchant_id = uuid.UUID(data.get("merchant_id", ""))
        except ValueError:
            return back_to("/dashboard/closures")
        made: list[uuid.UUID] = []

        async def file() -> None:
            async with db.begin():
                closure = await closures.file_closure(
                    db,
                    me,
                    merchant_id=merchant_id,
                    kind=data.get("kind", ""),
                    closes_on=closes_on(data),
                    reason=data.get("reason", ""),
                    confirmed=data.get("confirm") == "on",
                )
            made.append(closure.id)

        answered = await run_form(
            request,
            file(),
            done="/dashboard/closures",
            again=lambda: merchant_file(request, db, me, merchant_id),
            name="regulator/merchant.html",
            row="closure",
            data=data,
        )
        if made:
            return back_to(f"/dashboard/closures/{made[0]}?done=filed")
        return answered

    @get("/{closure_id:uuid}")
    async def closure(
        self,
        request: Request[Any, Any, Any],
        closure_id: FromPath[uuid.UUID],
        db: Db,
        me: Me,
        successor: FromQuery[str | None] = None,
        uscc: FromQuery[str | None] = None,
        done: FromQuery[str | None] = None,
    ) -> Template:
        """One closure: its tally, its successors, and the forms to name one and move cards."""
        context = await closure_file(request, db, me, closure_id, picked_id(successor), uscc)
        flash = said_done(lang_of(request), "r_done_closure-", done, DONE)
        return page(request, "regulator/closure.html", flash=flash, **context)

    @post("/{closure_id:uuid}/successors")
    async def name_successor(
        self,
        request: Request[Any, Any, Any],
        closure_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Name the picked successor with each product mapped; it must then accept."""
        try:
            successor = uuid.UUID(data.get("successor_id", ""))
        except ValueError:
            return back_to(f"/dashboard/closures/{closure_id}")

        async def name() -> None:
            terms = successor_terms(data)
            async with db.begin():
                await closures.name_successor(
                    db, me, closure_id, successor_id=successor, terms=terms
                )

        return await run_form(
            request,
            name(),
            done=f"/dashboard/closures/{closure_id}?done=named#successors",
            again=lambda: closure_file(request, db, me, closure_id, successor),
            name="regulator/closure.html",
            row="successor",
            data=data,
        )

    @post("/{closure_id:uuid}/move")
    async def move(self, closure_id: FromPath[uuid.UUID], db: Db, me: Me, state: State) -> Redirect:
        """Start moving every card whose holder chose a successor; the page follows it."""
        async with db.begin():
            await closures.visible_closure(db, me, closure_id)
        closures.start_moving(state.sessions, closure_id)
        return back_to(f"/dashboard/closures/{closure_id}?done=moving#move")
