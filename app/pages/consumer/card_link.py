"""An anonymous card's pages, reached only through its secret link (``/card/{secret}``).

The link is the card: whoever has it may use it, so its pages are never cached nor sent as
a referrer. ``/cards/anonymous/…`` is the same card in the JSON API.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.auth.principal import public
from app.deps import Db
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
from app.pages.consumer.layout import CONSUMER_PAGE, flash
from app.pages.consumer.reach import Reach
from app.pages.render import Done, Form


class AnonymousCardPages(Controller):
    """An anonymous card's pages, reached only through its secret link."""

    path = "/card/{secret:str}"
    include_in_schema = False
    guards = [public]  # noqa: RUF012
    opt = {**CONSUMER_PAGE}  # noqa: RUF012

    @get("/")
    async def card(
        self, request: Request[Any, Any, Any], secret: FromPath[str], db: Db, done: Done = None
    ) -> Template:
        """The card behind the link."""
        return await card_page(request, db, Reach(None, secret=secret), flash=flash(request, done))

    @post("/code")
    async def code(
        self, request: Request[Any, Any, Any], secret: FromPath[str], data: Form, db: Db
    ) -> Template | Redirect:
        """Make a redemption code (then shown at its own address)."""
        return await redemption_code(request, db, Reach(None, secret=secret), data)

    @get("/code/{code_id:uuid}")
    async def show_code(
        self,
        request: Request[Any, Any, Any],
        secret: FromPath[str],
        code_id: FromPath[uuid.UUID],
        db: Db,
    ) -> Template:
        """A redemption code, then what it was used for."""
        return await code_page(request, db, Reach(None, secret=secret), code_id)

    @get("/code/{code_id:uuid}/state")
    async def follow_code(
        self, secret: FromPath[str], code_id: FromPath[uuid.UUID], db: Db
    ) -> dict[str, Any]:
        """Where the code stands, for its page to follow."""
        return await code_state(db, Reach(None, secret=secret), code_id)

    @post("/refund")
    async def refund(
        self, request: Request[Any, Any, Any], secret: FromPath[str], data: Form, db: Db
    ) -> Template:
        """Ask for a refund."""
        return await ask_refund(request, db, Reach(None, secret=secret), data)

    @post("/closure")
    async def closure(
        self, request: Request[Any, Any, Any], secret: FromPath[str], data: Form, db: Db
    ) -> Template | Redirect:
        """Choose what happens to a closing merchant's card (keep or refund)."""
        return await choose_closure(request, db, Reach(None, secret=secret), data)

    @get("/complaint")
    async def complaint_form(
        self, request: Request[Any, Any, Any], secret: FromPath[str], db: Db
    ) -> Template:
        """The complaint form."""
        return await show_complaint_form(request, db, Reach(None, secret=secret))

    @post("/complaint")
    async def file(
        self, request: Request[Any, Any, Any], secret: FromPath[str], data: Form, db: Db
    ) -> Template | Redirect:
        """File the complaint."""
        return await file_complaint_page(request, db, Reach(None, secret=secret), data)

    @get("/complaints/{dispute_id:uuid}")
    async def complaint(
        self,
        request: Request[Any, Any, Any],
        secret: FromPath[str],
        dispute_id: FromPath[uuid.UUID],
        db: Db,
        done: Done = None,
    ) -> Template:
        """One complaint about the card and its timeline."""
        return await complaint_page(request, db, Reach(None, secret=secret), dispute_id, done=done)

    @post("/complaints/{dispute_id:uuid}/confirm")
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        secret: FromPath[str],
        dispute_id: FromPath[uuid.UUID],
        db: Db,
    ) -> Template | Redirect:
        """Accept the decision."""
        return await confirm_decision(request, db, Reach(None, secret=secret), dispute_id)

    @post("/complaints/{dispute_id:uuid}/reopen")
    async def reopen(
        self,
        request: Request[Any, Any, Any],
        secret: FromPath[str],
        dispute_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
    ) -> Template | Redirect:
        """Reopen the decision."""
        return await reopen_decision(request, db, Reach(None, secret=secret), dispute_id, data)
