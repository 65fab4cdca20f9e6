"""Complaints about the merchant: their deadlines, and the merchant's one answer to each."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.clock import utcnow
from app.deps import Db, Me
from app.exceptions import Conflict, Invalid
from app.i18n import gettext
from app.pages.forms import parse_yuan
from app.pages.merchant.console import ConsolePages
from app.pages.render import Done, Form, back_to, lang_of, page, refusal, said_done
from app.supervision import disputes
from app.supervision.models import DisputeStatus

if TYPE_CHECKING:
    from collections.abc import Mapping

FIELDS = {"offer_fen": "offer"}
"""The use case's names for the form's fields."""


class ComplaintPages(ConsolePages):
    """``/console/complaints``."""

    async def _complaints(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        me: Me,
        *,
        failed: uuid.UUID | None = None,
        errors: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        done: str | None = None,
    ) -> Template:
        now = utcnow()
        views = await disputes.merchant_disputes(db, me)
        return page(
            request,
            "merchant/complaints.html",
            views=views,
            overdue={
                v.dispute.id
                for v in views
                if v.dispute.status == DisputeStatus.FILED
                and v.dispute.deadline_at is not None
                and v.dispute.deadline_at < now
            },
            failed=failed,
            errors=errors or {},
            form=form or {},
            max_text=disputes.MAX_TEXT,
            notice=said_done(lang_of(request), "m_done_", done),
        )

    @get("/complaints")
    async def complaints(
        self, request: Request[Any, Any, Any], db: Db, me: Me, done: Done = None
    ) -> Template:
        """Complaints about the merchant, those waiting for its answer first."""
        return await self._complaints(request, db, me, done=done)

    @post("/complaints/{dispute_id:uuid}/answer")
    async def answer_complaint(
        self,
        request: Request[Any, Any, Any],
        dispute_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Answer (once): the dispute goes to the regulator for mediation."""
        lang = lang_of(request)
        text = data.get("text", "")
        offer_text = data.get("offer", "").strip()
        offer = parse_yuan(offer_text) if offer_text else None
        errors: dict[str, str] = {}
        if offer_text and offer is None:
            errors["offer"] = gettext(lang, "m_err_yuan")
        if not text.strip():
            errors["text"] = gettext(lang, "m_err_required")
        if not errors:
            try:
                async with db.begin():
                    await disputes.answer(db, me, dispute_id, text, offer)
            except (Invalid, Conflict) as exc:
                said = refusal(exc, lang, default_field="text")
                errors = {FIELDS.get(k, k): v for k, v in said.items()}
        if errors:
            return await self._complaints(
                request, db, me, failed=dispute_id, errors=errors, form=data
            )
        return back_to("/console/complaints?done=answered")
