"""Refund requests outside cooling-off: the merchant accepts (the ledger refunds) or refuses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

import escrow
from app.cards import service as cards
from app.cards.models import RefundStatus
from app.deps import Db, Me
from app.exceptions import Conflict, Invalid
from app.i18n import gettext
from app.ledger import escrow_ledger
from app.pages.merchant.console import ConsolePages
from app.pages.render import Done, Form, back_to, lang_of, page, refusal, said_done
from app.supervision.disputes import MAX_TEXT

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.cards.models import RefundRequest


@dataclass(frozen=True)
class PendingRefund:
    """A refund request and what accepting it would pay back now."""

    request: RefundRequest
    refundable: int


async def _pending_refunds(
    db: AsyncSession, requests: Sequence[RefundRequest]
) -> list[PendingRefund]:
    """The requests still waiting, each with the card's refundable amount from the ledger."""
    ledger = escrow_ledger(db)
    return [
        PendingRefund(r, (await ledger.card(r.merchant_id, r.card_id)).outstanding)
        for r in requests
        if r.status == RefundStatus.PENDING
    ]


class RefundPages(ConsolePages):
    """``/console/refunds``."""

    async def _refunds(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        me: Me,
        *,
        failed: uuid.UUID | None = None,
        errors: Mapping[str, str] | None = None,
        answer: str = "",
        done: str | None = None,
    ) -> Template:
        found = await cards.merchant_refund_requests(db, me, None)
        return page(
            request,
            "merchant/refunds.html",
            pending=await _pending_refunds(db, found),
            answered=[r for r in found if r.status != RefundStatus.PENDING],
            failed=failed,
            errors=errors or {},
            answer=answer,
            max_text=MAX_TEXT,
            notice=said_done(lang_of(request), "m_done_", done),
        )

    @get("/refunds")
    async def refunds(
        self, request: Request[Any, Any, Any], db: Db, me: Me, done: Done = None
    ) -> Template:
        """Refund requests outside cooling-off, to accept or refuse."""
        return await self._refunds(request, db, me, done=done)

    @post("/refunds/{request_id:uuid}/accept")
    async def accept_refund(
        self,
        request: Request[Any, Any, Any],
        request_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Accept: the ledger refunds the card's outstanding amount."""
        return await self._answer_refund(request, request_id, data, db, me, accept=True)

    @post("/refunds/{request_id:uuid}/refuse")
    async def refuse_refund(
        self,
        request: Request[Any, Any, Any],
        request_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Refuse, saying why (the use case refuses a refusal without a reason)."""
        return await self._answer_refund(request, request_id, data, db, me, accept=False)

    async def _answer_refund(
        self,
        request: Request[Any, Any, Any],
        request_id: uuid.UUID,
        data: Mapping[str, str],
        db: Db,
        me: Me,
        *,
        accept: bool,
    ) -> Template | Redirect:
        lang = lang_of(request)
        answer = data.get("answer", "").strip()
        errors: dict[str, str] = {}
        if len(answer) > MAX_TEXT:
            errors["answer"] = gettext(lang, "m_err_too_long", n=MAX_TEXT)
        else:
            try:
                async with db.begin():
                    await cards.answer_refund(db, me, request_id, accept=accept, answer=answer)
            except (Invalid, Conflict, escrow.EscrowError) as exc:
                errors = refusal(exc, lang, default_field="answer")
        if errors:
            return await self._refunds(
                request, db, me, failed=request_id, errors=errors, answer=answer
            )
        return back_to(f"/console/refunds?done={'accepted' if accept else 'refused'}")
