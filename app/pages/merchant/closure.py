"""``/console/closure``: closing in good order, and taking over a closing merchant's cards.

A merchant files its closure (or relocation) here, names a successor for its cards and sees
how its holders chose; a merchant named as a successor accepts the terms here.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from litestar import Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from app.closures import service as closures
from app.deps import Db, Me
from app.merchants.service import own_merchant
from app.pages.closure_forms import closes_on, closing_day, picked_id, successor_terms
from app.pages.merchant.console import ConsolePages
from app.pages.render import Form, back_to, lang_of, page, run_form, said_done

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal

DONE = ("filed", "named", "accepted")


async def closure_console(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    me: Principal,
    successor: uuid.UUID | None = None,
    uscc: str | None = None,
) -> dict[str, Any]:
    """What the page shows: the merchant's closure (or its form) and offers made to it."""
    merchant = await own_merchant(db, me)
    view = await closures.closure_of(db, merchant.id)
    running = view is not None and view.closure.status == "announced"
    candidates, picked, mapping = [], None, []
    if view is not None and running:
        named = {o.successor_id for o, _ in view.offers}
        found = [m for m in await closures.successor_candidates(db, merchant) if m.id not in named]
        candidates = [(str(m.id), m.legal_name) for m in found]
        picked = await closures.successor_candidate(db, merchant, merchant_id=successor, uscc=uscc)
        if picked is not None and picked.id in named:
            picked = None
        if picked is not None:
            choices = await closures.mapping_choices(db, view.closure, picked.id)
            mapping = [(old, [(str(p.id), p.name) for p in theirs]) for old, theirs in choices]
    offers = await closures.offers_to(db, me)
    lang = lang_of(request)
    return {
        "merchant": merchant,
        "view": view,
        "running": running,
        "closes_day": closing_day(view.closure, lang) if view else "",
        "earliest": closures.earliest_closing().isoformat(),
        "candidates": candidates,
        "picked": picked,
        "mapping": mapping,
        "offers": offers,
        "offer_days": {o.id: closing_day(c, lang) for o, c, _ in offers},
        "errors": {},
        "values": {},
    }


class ClosurePage(ConsolePages):
    """``/console/closure``."""

    @get("/closure")
    async def closure(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        me: Me,
        successor: FromQuery[str | None] = None,
        uscc: FromQuery[str | None] = None,
        done: FromQuery[str | None] = None,
    ) -> Template:
        """The merchant's closure, how its holders chose, and offers to take others' cards."""
        context = await closure_console(request, db, me, picked_id(successor), uscc)
        flash = said_done(lang_of(request), "m_done_closure-", done, DONE)
        return page(request, "merchant/closure.html", flash=flash, **context)

    @post("/closure")
    async def file(
        self, request: Request[Any, Any, Any], data: Form, db: Db, me: Me
    ) -> Template | Redirect:
        """Announce the closure: sales stop and every holder is told."""

        async def file() -> None:
            async with db.begin():
                await closures.file_closure(
                    db,
                    me,
                    merchant_id=None,
                    kind=data.get("kind", ""),
                    closes_on=closes_on(data),
                    reason=data.get("reason", ""),
                )

        return await run_form(
            request,
            file(),
            done="/console/closure?done=filed",
            again=lambda: closure_console(request, db, me),
            name="merchant/closure.html",
            row="file",
            data=data,
        )

    @post("/closure/{closure_id:uuid}/successors")
    async def name_successor(
        self,
        request: Request[Any, Any, Any],
        closure_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Name a successor for the cards; it must accept the terms."""
        try:
            successor = uuid.UUID(data.get("successor_id", ""))
        except ValueError:
            return back_to("/console/closure")

        async def name() -> None:
            terms = successor_terms(data)
            async with db.begin():
                await closures.name_successor(
                    db, me, closure_id, successor_id=successor, terms=terms
                )

        return await run_form(
            request,
            name(),
            done="/console/closure?done=named#successors",
            again=lambda: closure_console(request, db, me, successor),
            name="merchant/closure.html",
            row="successor",
            data=data,
        )

    @post("/closure/offers/{offer_id:uuid}/accept")
    async def accept(
        self, request: Request[Any, Any, Any], offer_id: FromPath[uuid.UUID], db: Db, me: Me
    ) -> Template | Redirect:
        """Accept the terms of taking over a closing merchant's cards."""

        async def accept() -> None:
            async with db.begin():
                await closures.accept_offer(db, me, offer_id)

        return await run_form(
            request,
            accept(),
            done="/console/closure?done=accepted#offers",
            again=lambda: closure_console(request, db, me),
            name="merchant/closure.html",
            row=str(offer_id),
            data={},
        )
