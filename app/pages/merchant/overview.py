"""The console's first page: status, grade with reasons and advice, sales and what waits."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Template

import escrow
from app.cards import service as cards
from app.cards.models import RefundStatus
from app.deps import Db, Me
from app.i18n import gettext, number, when
from app.merchants import blocks
from app.merchants import service as merchants
from app.pages.merchant.console import ConsolePages
from app.pages.merchant.reasons import explain
from app.pages.render import lang_of, page
from app.risk import service as ratings
from app.risk.supervision import UNRATED, colour
from app.supervision import disputes, measures
from app.supervision.models import DisputeStatus, MeasureKind

HISTORY_SHOWN = 5
"""Grade changes and ratio changes shown, newest first."""


class OverviewPage(ConsolePages):
    """``/console``: how the merchant stands."""

    @get("/")
    async def overview(self, request: Request[Any, Any, Any], db: Db, me: Me) -> Template:
        """Status, grade with reasons and advice, sales and settlement, what waits."""
        lang = lang_of(request)
        merchant = await merchants.own_merchant(db, me)
        industry = next(
            (i for i in await merchants.industries(db) if i.code == merchant.industry), None
        )
        rating = await ratings.current(db, merchant.id)
        history = list(await ratings.history(db, merchant.id)) if rating else []
        figures = await escrow.settlement(db, merchant.id)
        to_answer = await disputes.merchant_disputes(db, me, DisputeStatus.FILED.value)
        refunds = await cards.merchant_refund_requests(db, me, RefundStatus.PENDING.value)
        reasons = [explain(r, lang) for r in rating.reasons] if rating else []
        return page(
            request,
            "merchant/overview.html",
            merchant=merchant,
            blocks=await blocks.of(db, merchant.id),
            industry=(industry.name_en if lang == "en" else industry.name_zh) if industry else "",
            grade=rating.grade if rating else UNRATED,
            colour=colour(rating.grade if rating else UNRATED),
            rating=rating,
            rated_at=when(rating.rated_at, lang) if rating else "",
            reasons=reasons,
            history=[
                {
                    "at": when(c.changed_at, lang),
                    "from_grade": c.from_grade or "—",
                    "to_grade": c.to_grade,
                    "cause": c.cause,
                }
                for c in reversed(history[-HISTORY_SHOWN:])
            ],
            figures=figures,
            custody_bp=merchant.custody_ratio_bp,
            insured_bp=10_000 - merchant.custody_ratio_bp,
            complaints_waiting=len(to_answer),
            refunds_waiting=len(refunds),
            ratio_changes=[
                gettext(
                    lang,
                    "m_ratio_followed",
                    at=when(m.taken_at, lang),
                    grade=m.params["grade"],
                    before=number(m.params["from"] / 100, lang),
                    after=number(m.params["to"] / 100, lang),
                )
                for m in reversed(await measures.measures_of(db, merchant.id))
                if m.kind == MeasureKind.GRADE_ACTION
            ][:HISTORY_SHOWN],
        )
