"""The insurer's pages: policies with exposure and premium, claims card by card, deliveries.

An insurer sees its own book only (the insurance and outbox services scope every read to the
caller's insurer). Acknowledging and paying a claim are forms that run the insurance service's
use case in one transaction; a refused form comes back with the error's words, in the page's
language, beside the field (:func:`app.pages.render.refusal`, shared by the supervisors'
pages).
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import TYPE_CHECKING, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from markupsafe import Markup

import escrow
from app.auth.models import Role
from app.auth.principal import requires
from app.clock import last_months, utcnow
from app.deps import Db, Me
from app.exceptions import NotFound
from app.i18n import day, gettext, month
from app.insurance import service
from app.insurance.models import ClaimStatus
from app.merchants.service import legal_names
from app.outbox import service as outbox
from app.pages.charts import Bar, bar_chart
from app.pages.render import Form, lang_of, page, run_form, said_done
from app.risk.supervision import UNRATED, colour
from scoring import GRADES

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal

INSURER = requires(Role.INSURER)
EVENTS_SHOWN = 200
ATTEMPTS_SHOWN = 200
CLAIM_STEPS = ("acknowledge", "pay")


async def book(db: AsyncSession, me: Principal, lang: str) -> dict[str, Any]:
    """The insurer's policies (largest exposure first) and claims (to act on first)."""
    views = service.by_exposure(await service.policies(db, me))
    claims = service.to_act_on_first(await service.claims(db, me))
    names = await legal_names(db, [c.merchant_id for c in claims])
    numbers = {v.policy.id: v.policy.number for v in views}
    by_grade: Counter[str] = Counter()
    for v in views:
        by_grade[v.grade] += v.exposure
    exposure_chart = bar_chart(
        [Bar(g, by_grade.get(g, 0), colour(g)) for g in (*GRADES, UNRATED)],
        label=gettext(lang, "i_chart_exposure_by_grade"),
        lang=lang,
        as_money=True,
        codes=True,
    )
    months = last_months(utcnow())
    exposed = await escrow.policy_exposure_at(
        db, [v.merchant.id for v in views], [end for _, end in months]
    )
    trend_chart = bar_chart(
        [
            Bar(month(first, lang), fen, "#5b6576")
            for (first, _), fen in zip(months, exposed, strict=True)
        ],
        label=gettext(lang, "i_chart_exposure_by_month"),
        lang=lang,
        as_money=True,
    )
    return {
        "policies": views,
        # every text in the charts is escaped by app.pages.charts
        "exposure_chart": Markup(exposure_chart),  # noqa: S704
        "trend_chart": Markup(trend_chart),  # noqa: S704
        "total_exposure": sum(v.exposure for v in views),
        "total_premium": sum(v.annual_premium for v in views),
        "claims": claims,
        "cover_moves": await service.cover_moves(db, me),
        "open_claims": sum(1 for c in claims if c.status != ClaimStatus.CLOSED),
        "lines": {c.id: list(await service.claim_lines(db, c.id)) for c in claims},
        "merchants": names,
        "numbers": numbers,
        "colour": colour,
        "day": lambda value: day(value, lang),
        "errors": {},
        "values": {},
    }


async def _claim_step(
    db: AsyncSession, me: Principal, claim_id: uuid.UUID, step: str, data: dict[str, str]
) -> None:
    async with db.begin():
        if step == "acknowledge":
            await service.acknowledge(db, me, claim_id)
        else:
            await service.pay(db, me, claim_id, payment_ref=data.get("payment_ref", ""))


class InsurerPages(Controller):
    """``/insurer-view``: what an insurer's staff see and do."""

    path = "/insurer-view"
    include_in_schema = False
    guards = [INSURER]  # noqa: RUF012
    opt = {"page": True}  # noqa: RUF012 - errors render as pages (app.errors)

    @get("/")
    async def overview(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        me: Me,
        done: FromQuery[str | None] = None,
    ) -> Template:
        """Policies, exposure per merchant and in total, premiums, claims."""
        flash = said_done(lang_of(request), "i_done_", done, CLAIM_STEPS)
        context = await book(db, me, lang_of(request))
        return page(request, "insurer/overview.html", flash=flash, **context)

    @post("/claims/{claim_id:uuid}/{step:str}")
    async def claim_step(
        self,
        request: Request[Any, Any, Any],
        claim_id: FromPath[uuid.UUID],
        step: FromPath[str],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Acknowledge a claim, or record its payment (each card's insured share is paid)."""
        if step not in CLAIM_STEPS:
            raise NotFound("insurer-no-such-step")
        return await run_form(
            request,
            _claim_step(db, me, claim_id, step, data),
            done=f"/insurer-view?done={step}#c-{claim_id}",
            again=lambda: book(db, me, lang_of(request)),
            name="insurer/overview.html",
            row=claim_id,
            data=data,
        )

    @get("/deliveries")
    async def deliveries(self, request: Request[Any, Any, Any], db: Db, me: Me) -> Template:
        """Every event written for the insurer and every push attempt, newest first."""
        insurer_id = service.insurer_of(me)
        events = await outbox.events_after(db, insurer_id, 0, EVENTS_SHOWN)
        attempts = await outbox.deliveries(db, insurer_id, ATTEMPTS_SHOWN)
        return page(
            request,
            "insurer/deliveries.html",
            events=list(reversed(events)),
            attempts=attempts,
        )
