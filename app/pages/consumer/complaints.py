"""A card's complaints: the form, filing, the complaint's page, confirming or reopening.

The workflow's rules are ``app.supervision.disputes``'s; the form only reads what was typed
(a kind from the list, an amount in yuan) and shows the refusals beside their fields.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from app.cards import service as cards
from app.clock import utcnow
from app.exceptions import Conflict, Invalid
from app.i18n import describe, field_messages, gettext
from app.merchants.models import Merchant
from app.pages.consumer.layout import flash, view
from app.pages.forms import parse_yuan
from app.pages.render import back_to, lang_of
from app.supervision import disputes
from app.supervision.dispute_rules import Writing, written
from app.supervision.disputes import DisputeKind

if TYPE_CHECKING:
    from litestar import Request
    from litestar.response import Redirect, Template
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.pages.consumer.reach import Reach

KINDS = [k.value for k in DisputeKind]


async def show_complaint_form(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    reach: Reach,
    *,
    status: int = 200,
    **extra: Any,  # noqa: ANN401
) -> Template:
    """Kind, words and amount asked, with errors beside each field."""
    holder = await reach.holder(session)
    rendered = view(
        request,
        "consumer/complaint_form.html",
        view=await cards.card_view(session, holder),
        reach=reach,
        kinds=KINDS,
        max_text=disputes.MAX_TEXT,
        **{"errors": {}, "data": {}, "error": None, "open_link": None, **extra},
    )
    rendered.status_code = status
    return rendered


def _complaint(data: dict[str, str], lang: str) -> disputes.Complaint | dict[str, str]:
    """The complaint the form says, or what to show beside the fields it could not read."""
    errors: dict[str, str] = {}
    kind = data.get("kind", "")
    if kind not in KINDS:
        errors["kind"] = gettext(lang, "c_err_required")
    amount = parse_yuan(data.get("amount_asked", "") or "0")
    if amount is None:
        errors["amount_asked"] = gettext(lang, "c_err_amount")
    text = data.get("text", "")
    if amount is None or errors:
        try:  # the words too, so that every field's problem is shown at once
            written(text, Writing.COMPLAINT)
        except Invalid as exc:
            errors |= field_messages(exc, lang)
        return errors
    return disputes.Complaint(kind=DisputeKind(kind), text=text, amount_asked=amount)


async def file_complaint_page(
    request: Request[Any, Any, Any], session: AsyncSession, reach: Reach, data: dict[str, str]
) -> Template | Redirect:
    """File the complaint and open its page; a resubmitted identical form replays it."""
    lang = lang_of(request)
    shown = {k: data.get(k, "") for k in ("kind", "text", "amount_asked")}
    complaint = _complaint(data, lang)
    if isinstance(complaint, dict):
        return await show_complaint_form(
            request, session, reach, status=422, errors=complaint, data=shown
        )
    try:
        async with session.begin():
            holder = await reach.holder(session, lock=True)
            filed = await disputes.file_complaint(session, holder, complaint)
    except Invalid as exc:
        return await show_complaint_form(
            request,
            session,
            reach,
            status=422,
            errors=field_messages(exc, lang),
            data=shown,
            error=describe(exc, lang),
        )
    except Conflict as exc:
        open_id = exc.params.get("dispute_id")
        return await show_complaint_form(
            request,
            session,
            reach,
            status=409,
            data=shown,
            error=gettext(lang, "c_already_open"),
            open_link=reach.complaint_path(uuid.UUID(str(open_id))) if open_id else None,
        )
    return back_to(reach.complaint_path(filed.view.dispute.id) + "?done=filed")


async def complaint_page(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    reach: Reach,
    dispute_id: uuid.UUID,
    **extra: Any,  # noqa: ANN401
) -> Template:
    """A complaint: where it stands, whose move it is, the timeline, confirm or reopen."""
    holder = await reach.holder(session) if reach.secret else None
    found = await disputes.consumer_dispute(session, reach.side(holder), dispute_id)
    merchant = await session.get(Merchant, found.dispute.merchant_id)
    context = {"errors": {}, **extra}
    done = context.pop("done", None)
    context.setdefault("flash", flash(request, done))
    return view(
        request,
        "consumer/complaint.html",
        path=reach.complaint_path(dispute_id),
        private=reach.secret is not None,
        d=found.dispute,
        events=found.events,
        merchant=merchant,
        reach=reach,
        now=utcnow(),
        **context,
    )


async def confirm_decision(
    request: Request[Any, Any, Any], session: AsyncSession, reach: Reach, dispute_id: uuid.UUID
) -> Template | Redirect:
    """Accept the regulator's decision: the complaint closes."""
    try:
        async with session.begin():
            holder = await reach.holder(session) if reach.secret else None
            await disputes.confirm(session, reach.side(holder), dispute_id)
    except Conflict as exc:
        said = describe(exc, lang_of(request))
        return await complaint_page(
            request, session, reach, dispute_id, flash=said, flash_kind="error"
        )
    return back_to(reach.complaint_path(dispute_id) + "?done=confirmed")


async def reopen_decision(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    reach: Reach,
    dispute_id: uuid.UUID,
    data: dict[str, str],
) -> Template | Redirect:
    """Do not accept the decision (once), saying why."""
    lang = lang_of(request)
    try:
        async with session.begin():
            holder = await reach.holder(session) if reach.secret else None
            await disputes.reopen(session, reach.side(holder), dispute_id, data.get("text", ""))
    except (Conflict, Invalid) as exc:
        if beside := field_messages(exc, lang):
            return await complaint_page(request, session, reach, dispute_id, errors=beside)
        said = describe(exc, lang)
        return await complaint_page(
            request, session, reach, dispute_id, flash=said, flash_kind="error"
        )
    return back_to(reach.complaint_path(dispute_id) + "?done=reopened")
