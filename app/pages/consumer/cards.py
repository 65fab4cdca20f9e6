"""A card's page and what the holder does there: show a redemption code, ask for a refund.

The same functions serve a signed-in consumer's card (``/my/cards/{card}``) and an anonymous
card through its secret link (``/card/{secret}``): :class:`~.reach.Reach` says which.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

import escrow
import qr
from app.cards import service as cards
from app.clock import SHANGHAI, utcnow
from app.closures import service as closures
from app.exceptions import AppError, Conflict, Invalid
from app.i18n import day, describe, gettext
from app.idempotency import form_key, new_key
from app.insurance.service import cover_of
from app.pages.charts import Step, balance_chart
from app.pages.consumer.layout import view
from app.pages.forms import parse_count, parse_yuan
from app.pages.render import back_to, lang_of, refusal
from app.supervision import disputes

if TYPE_CHECKING:
    from litestar import Request
    from litestar.response import Redirect, Template
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.cards.models import CardHolder
    from app.merchants.models import Merchant
    from app.pages.consumer.reach import Reach

MAX_REASON = 2000
"""The longest refund reason kept (the form says so too)."""


def yuan_field(fen: int) -> str:
    """Fen as a form field's yuan (``1000.00``): what :func:`parse_yuan` reads back."""
    return f"{fen // 100}.{fen % 100:02d}"


async def _card_context(
    session: AsyncSession, holder: CardHolder, reach: Reach, lang: str
) -> dict[str, Any]:
    shown = await cards.card_view(session, holder)
    cover = await cover_of(session, holder.merchant_id)
    cooling = await cards.cooling_off_of(session, holder)
    complaints = [
        v.dispute
        for v in await disputes.consumer_disputes(session, reach.side(holder))
        if v.dispute.card_id == holder.card_id
    ]
    balance = shown.balance
    notice = await closures.notice_for(session, holder)
    worth, steps = 0, []
    for event in shown.history:  # what is left of the card's money, entry by entry
        worth += event.custody_change + event.cover_change
        steps.append(Step(event.at, worth, gettext(lang, f"c_op_{event.kind}")))
    return {
        "view": shown,
        "balance_chart": Markup(  # noqa: S704 - drawn by app.pages.charts, every text escaped
            balance_chart(steps, label=gettext(lang, "c_balance_chart"), lang=lang)
        ),
        "b": balance,
        "reach": reach,
        "insurer": cover.insurer if cover else None,
        "cooling_until": day(cooling.last_day, lang),
        "in_cooling_off": cooling.running,
        "usable": balance.status == escrow.CardStatus.OPEN and balance.units_remaining > 0,
        "refund_requests": await cards.refund_requests_of(session, holder.card_id),
        "complaints": complaints,
        "code_errors": {},
        "refund_key": new_key(),
        "notice": notice,
        "closes_day": day(notice.closure.closes_at.astimezone(SHANGHAI).date(), lang)
        if notice
        else None,
        "moved_to": _moved_to(notice),
        "came_from": await closures.came_from(session, holder),
    }


def _moved_to(notice: closures.Notice | None) -> Merchant | None:
    """The successor a card moved to, if it did."""
    if notice is None or notice.row.offer_id is None:
        return None
    return next((m for o, m, _, _ in notice.offers if o.id == notice.row.offer_id), None)


async def card_page(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    reach: Reach,
    *,
    status: int = 200,
    **extra: Any,  # noqa: ANN401
) -> Template:
    """A card: balance, protection, actions, refund requests, complaints, history, contract."""
    holder = await reach.holder(session)
    context = await _card_context(session, holder, reach, lang_of(request))
    rendered = view(
        request,
        "consumer/card.html",
        path=reach.base,
        private=reach.secret is not None,
        **{**context, **extra},
    )
    rendered.status_code = status
    return rendered


def _max_units(text: str, kind: str, lang: str) -> int | str:
    """The consent's limit in the card's units, or the words to show beside the field."""
    if kind == escrow.CardKind.STORED_VALUE:
        fen = parse_yuan(text)
        return fen or gettext(lang, "c_err_amount")
    count = parse_count(text)
    return count or gettext(lang, "c_err_positive")


async def redemption_code(
    request: Request[Any, Any, Any], session: AsyncSession, reach: Reach, data: dict[str, str]
) -> Template | Redirect:
    """Issue a one-time consent code and show it at its own address (:func:`code_page`)."""
    lang = lang_of(request)
    typed = data.get("max_units", "")
    async with session.begin():
        kind = (await cards.product_of(session, await reach.holder(session))).kind
    wanted = _max_units(typed, kind, lang)
    if isinstance(wanted, str):
        return await card_page(
            request, session, reach, status=422, code_errors={"max_units": wanted}, code_value=typed
        )
    try:
        async with session.begin():
            holder = await reach.holder(session)
            code = await cards.issue_redemption_code(session, holder, wanted)
    except Invalid as exc:
        return await card_page(
            request,
            session,
            reach,
            status=422,
            code_errors=refusal(exc, lang, default_field="max_units"),
            code_value=typed,
        )
    except Conflict as exc:
        flash = describe(exc, lang)
        return await card_page(request, session, reach, status=409, flash=flash, flash_kind="error")
    # the code has an address of its own: a reload shows it (and later its outcome), not a
    # second code
    return back_to(f"{reach.base}/code/{code.id}")


async def _status(
    session: AsyncSession, reach: Reach, code_id: uuid.UUID, *, to_show: bool = False
) -> tuple[cards.CodeStatus, str]:
    async with session.begin():
        holder = await reach.holder(session)
        status = await cards.code_status(session, holder, code_id, to_show=to_show)
        kind = (await cards.product_of(session, holder)).kind
    return status, kind


async def code_page(
    request: Request[Any, Any, Any], session: AsyncSession, reach: Reach, code_id: uuid.UUID
) -> Template:
    """A code on the holder's screen: its QR, digits and countdown, then its outcome.

    The outcome: what the merchant redeemed and what is left, or that the code expired. While
    it waits the page asks :func:`code_state` every two seconds and shows the outcome the
    moment there is one; without script, reloading the page shows it.
    """
    status, kind = await _status(session, reach, code_id, to_show=True)
    svg_b64 = ""
    if status.state is cards.CodeState.WAITING:
        svg = await asyncio.to_thread(qr.svg, status.code.token)  # ~15 ms: off the loop
        svg_b64 = base64.b64encode(svg.encode()).decode()
    limit = status.code.max_units
    return view(
        request,
        "consumer/code.html",
        path=reach.base,
        private=True,
        status=status,
        code=status.code,
        svg_b64=svg_b64,
        reach=reach,
        kind=kind,
        value=str(limit) if kind == escrow.CardKind.SESSIONS else yuan_field(limit),
        seconds_left=max(0, int((status.code.expires_at - utcnow()).total_seconds())),
    )


async def code_state(session: AsyncSession, reach: Reach, code_id: uuid.UUID) -> dict[str, Any]:
    """Where a code stands, for the holder's page to follow: ``waiting``, ``used``, ``expired``."""
    status, _ = await _status(session, reach, code_id)
    return {"state": status.state.value, "expires_at": status.code.expires_at.isoformat()}


async def choose_closure(
    request: Request[Any, Any, Any], session: AsyncSession, reach: Reach, data: dict[str, str]
) -> Template | Redirect:
    """The holder's choice for a closing merchant's card: keep, refund now, or move."""
    choice, _, offer = data.get("choice", "").partition(":")
    try:
        offer_id = uuid.UUID(offer) if offer else None
    except ValueError:
        offer_id = None
    try:
        async with session.begin():
            holder = await reach.holder(session, lock=True)
            await closures.choose(session, holder, choice, offer_id)
    except (AppError, escrow.EscrowError) as exc:
        flash = describe(exc, lang_of(request))
        status = 422 if isinstance(exc, Invalid) else 409
        return await card_page(
            request, session, reach, status=status, flash=flash, flash_kind="error"
        )
    return back_to(f"{reach.base}?done=closure-{choice}#closure")


async def ask_refund(
    request: Request[Any, Any, Any], session: AsyncSession, reach: Reach, data: dict[str, str]
) -> Template:
    """Refund at once in cooling-off (unused), else send the request to the merchant."""
    reason = data.get("reason", "").strip()[:MAX_REASON]
    key = form_key(data.get("key", ""))
    try:
        async with session.begin():
            holder = await reach.holder(session, lock=True)
            outcome = await cards.request_refund(session, holder, reason, key)
    except (AppError, escrow.EscrowError) as exc:
        flash = describe(exc, lang_of(request))
        return await card_page(request, session, reach, status=409, flash=flash, flash_kind="error")
    return view(request, "consumer/refund.html", path=reach.base, outcome=outcome, reach=reach)
