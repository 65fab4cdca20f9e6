"""A signed-in consumer's pages (``/my/…``): every card and complaint, and one of each.

Signed-out visitors are sent to ``/login/phone``; another consumer's card or complaint is
"not found".
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.auth.models import Role
from app.auth.principal import requires
from app.cards import service as cards
from app.cases import service as case_service
from app.cases import views as case_views
from app.clock import utcnow
from app.closures import service as closures
from app.deps import Db, Me
from app.exceptions import NotFound
from app.merchants.service import legal_names
from app.pages.consumer.cards import (
    ask_refund,
    card_page,
    choose_closure,
    code_page,
    code_state,
    redemption_code,
)
from app.pages.consumer.complaints import (
    complaint_page,
    confirm_decision,
    file_complaint_page,
    reopen_decision,
    show_complaint_form,
)
from app.pages.consumer.layout import CONSUMER_PAGE, flash, view
from app.pages.consumer.reach import Reach
from app.pages.render import Done, Form, back_to
from app.supervision import disputes
from app.supervision.disputes import ConsumerSide


class MyPages(Controller):
    """A signed-in consumer's cards and complaints."""

    path = "/my"
    include_in_schema = False
    guards = [requires(Role.CONSUMER)]  # noqa: RUF012
    opt = {**CONSUMER_PAGE}  # noqa: RUF012

    @get("/cards")
    async def list_cards(self, request: Request[Any, Any, Any], db: Db, me: Me) -> Template:
        """Every card: merchant, balance, sessions left, protection split.

        First the cards just used: a redemption is news for a quarter of an hour.
        """
        if me.consumer_id is None:  # pragma: no cover - the guard admits consumers only
            raise NotFound("not-a-consumer")
        rows = await cards.cards_of(db, me.consumer_id)
        by_card = {row.holder.card_id: row for row in rows}
        news = [
            (used, by_card[used.card_id])
            for used in await cards.recent_redemptions(db, me.consumer_id)
            if used.card_id in by_card
        ]
        choose = await closures.waiting_choices(db, me.consumer_id)
        return view(request, "consumer/cards.html", rows=rows, news=news, choose=choose)

    @get("/cards/{card_id:uuid}")
    async def card(
        self,
        request: Request[Any, Any, Any],
        card_id: FromPath[uuid.UUID],
        db: Db,
        me: Me,
        done: Done = None,
    ) -> Template:
        """One card (another consumer's card is "not found")."""
        reach = Reach(me, card_id=card_id)
        return await card_page(request, db, reach, flash=flash(request, done))

    @post("/cards/{card_id:uuid}/code")
    async def code(
        self,
        request: Request[Any, Any, Any],
        card_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Make a redemption code (then shown at its own address)."""
        return await redemption_code(request, db, Reach(me, card_id=card_id), data)

    @get("/cards/{card_id:uuid}/code/{code_id:uuid}")
    async def show_code(
        self,
        request: Request[Any, Any, Any],
        card_id: FromPath[uuid.UUID],
        code_id: FromPath[uuid.UUID],
        db: Db,
        me: Me,
    ) -> Template:
        """A redemption code, then what it was used for."""
        return await code_page(request, db, Reach(me, card_id=card_id), code_id)

    @get("/cards/{card_id:uuid}/code/{code_id:uuid}/state")
    async def follow_code(
        self, card_id: FromPath[uuid.UUID], code_id: FromPath[uuid.UUID], db: Db, me: Me
    ) -> dict[str, Any]:
        """Where the code stands, for its page to follow."""
        return await code_state(db, Reach(me, card_id=card_id), code_id)

    @post("/cards/{card_id:uuid}/refund")
    async def refund(
        self,
        request: Request[Any, Any, Any],
        card_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template:
        """Ask for a refund."""
        return await ask_refund(request, db, Reach(me, card_id=card_id), data)

    @post("/cards/{card_id:uuid}/closure")
    async def closure(
        self,
        request: Request[Any, Any, Any],
        card_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Choose what happens to a closing merchant's card."""
        return await choose_closure(request, db, Reach(me, card_id=card_id), data)

    @get("/cards/{card_id:uuid}/complaint")
    async def complaint_form(
        self, request: Request[Any, Any, Any], card_id: FromPath[uuid.UUID], db: Db, me: Me
    ) -> Template:
        """The complaint form."""
        return await show_complaint_form(request, db, Reach(me, card_id=card_id))

    @post("/cards/{card_id:uuid}/complaint")
    async def file(
        self,
        request: Request[Any, Any, Any],
        card_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """File the complaint."""
        return await file_complaint_page(request, db, Reach(me, card_id=card_id), data)

    @get("/complaints")
    async def complaints(self, request: Request[Any, Any, Any], db: Db, me: Me) -> Template:
        """Every complaint, newest first, with where it stands."""
        found = await disputes.consumer_disputes(db, ConsumerSide.of(me))
        names = await legal_names(db, [v.dispute.merchant_id for v in found])
        handled = await case_views.consumer_cases(db, me)
        return view(
            request,
            "consumer/complaints.html",
            found=found,
            names=names,
            handled=handled,
            now=utcnow(),
        )

    @post("/cases/{case_id:uuid}/confirm")
    async def confirm_case(
        self,
        case_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Redirect:
        """Answer the outcome of a case the district's departments resolved."""
        async with db.begin():
            await case_service.confirm(
                db,
                me,
                case_id,
                satisfied=data.get("satisfied") == "yes",
                comment=data.get("comment", ""),
            )
        return back_to("/my/complaints#cases")

    @get("/complaints/{dispute_id:uuid}")
    async def complaint(
        self,
        request: Request[Any, Any, Any],
        dispute_id: FromPath[uuid.UUID],
        db: Db,
        me: Me,
        done: Done = None,
    ) -> Template:
        """One complaint and its timeline."""
        return await complaint_page(request, db, Reach(me), dispute_id, done=done)

    @post("/complaints/{dispute_id:uuid}/confirm")
    async def confirm(
        self, request: Request[Any, Any, Any], dispute_id: FromPath[uuid.UUID], db: Db, me: Me
    ) -> Template | Redirect:
        """Accept the decision."""
        return await confirm_decision(request, db, Reach(me), dispute_id)

    @post("/complaints/{dispute_id:uuid}/reopen")
    async def reopen(
        self,
        request: Request[Any, Any, Any],
        dispute_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Reopen the decision."""
        return await reopen_decision(request, db, Reach(me), dispute_id, data)
