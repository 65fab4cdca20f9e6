"""The merchant page a scanned counter code opens, and the warning pages that refuse to pay.

``GET /q/{merchant}?k&s`` belongs to the API (``app.api.qrcodes``), which answers a browser
asking for HTML with :func:`merchant_page` (registered with ``app.qrcodes.scan``): the
merchant, or a warning page (``class="warning-page"``, 403/400/404) for a forged, withdrawn
or unknown code and for a merchant that may not sell. A refused code never shows a buy button.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import qr
from app.exceptions import MerchantNotSelling, NotFound
from app.i18n import gettext, plain_reason
from app.insurance.service import cover_of
from app.merchants.models import Industry, Merchant, MerchantStatus
from app.merchants.rules import cooling_off_days
from app.merchants.service import products_of
from app.pages.consumer.layout import view
from app.pages.render import lang_of
from app.qrcodes.scan import counter_merchant, seller
from app.risk.service import current as current_rating
from app.risk.supervision import UNRATED, colour
from app.supervision import disputes

if TYPE_CHECKING:
    from datetime import datetime

    from litestar import Request
    from litestar.response import Template
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.risk.models import Rating

NOT_SELLING_KEYS = {
    MerchantStatus.SUSPENDED: "c_not_selling_suspended",
    MerchantStatus.DEFAULTED: "c_not_selling_defaulted",
    MerchantStatus.CLOSED: "c_not_selling_closed",
}


@dataclass(frozen=True)
class Standing:
    """What the merchant page says about a merchant besides its registration."""

    grade: str
    colour: str
    reasons: list[str]
    overrides: list[str]
    rated_at: datetime | None
    insurer: str | None
    policy: str | None
    complaints: int
    industry: str
    cooling_off_days: int


async def standing(session: AsyncSession, merchant: Merchant, lang: str) -> Standing:
    """Grade and reasons, insurer, complaints and cooling-off of a merchant, for its page."""
    rating: Rating | None = await current_rating(session, merchant.id)
    cover = await cover_of(session, merchant.id)
    industry = await session.get(Industry, merchant.industry)
    grade = rating.grade if rating else UNRATED
    return Standing(
        grade=grade,
        colour=colour(grade),
        reasons=[plain_reason(r, lang) for r in rating.reasons] if rating else [],
        overrides=[gettext(lang, f"c_override_{o}") for o in rating.overrides] if rating else [],
        rated_at=rating.rated_at if rating else None,
        insurer=cover.insurer if cover else None,
        policy=cover.policy if cover else merchant.policy_ref,
        complaints=await disputes.complaints_last_year(session, merchant.id),
        industry=(
            (industry.name_zh if lang == "zh" else industry.name_en)
            if industry
            else merchant.industry
        ),
        cooling_off_days=cooling_off_days(industry),
    )


def refused(request: Request[Any, Any, Any], exc: Exception) -> Template:
    """The warning page for a code that must not be trusted: why, and no way to pay."""
    if isinstance(exc, qr.MalformedCode):
        status, key = 400, "c_refused_malformed"
    elif isinstance(exc, qr.RevokedKey):
        status, key = 403, "c_refused_revoked"
    elif isinstance(exc, NotFound):
        status, key = 404, "c_refused_unknown_merchant"
    else:
        status, key = 403, "c_refused_bad_signature"
    rendered = view(request, "consumer/refused.html", reason_key=key, merchant=None)
    rendered.status_code = status
    return rendered


def not_selling(request: Request[Any, Any, Any], merchant: Merchant) -> Template:
    """The warning page for a genuine code of a merchant that may not take money now."""
    if merchant.status == MerchantStatus.ACTIVE:
        key = "c_not_selling_blocked"
    else:
        key = NOT_SELLING_KEYS.get(MerchantStatus(merchant.status), "c_not_selling_pending")
    rendered = view(request, "consumer/refused.html", reason_key=key, merchant=merchant)
    rendered.status_code = 403
    return rendered


def scanned_once(request: Request[Any, Any, Any]) -> None:
    """Refuse a code whose query is not ``k`` and ``s`` exactly once each.

    The qr package reads a scanned URL by the same rule: ``k=bad&k=good`` is a forged sticker,
    whichever of the two a page would use.
    """
    qr.counter_query(request.scope["query_string"].decode("latin-1"))


async def warning(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    exc: Exception,
    code: tuple[str, str, str],
) -> Template | None:
    """The warning page for a refused counter code, or for its merchant that may not sell.

    ``code`` is the scanned merchant id, key id and signature; None for any other error.
    """
    if isinstance(exc, qr.RefusedCode) or (
        isinstance(exc, NotFound) and exc.code == "merchant-not-registered"
    ):
        return refused(request, exc)
    if isinstance(exc, MerchantNotSelling):  # genuine: the page says who
        return not_selling(request, await counter_merchant(session, *code))
    return None


async def merchant_page(
    request: Request[Any, Any, Any], session: AsyncSession, merchant_id: str, kid: str, sig: str
) -> Template:
    """What a phone shows after scanning a counter code: the merchant, or a warning."""
    try:
        scanned_once(request)
        merchant = await seller(session, merchant_id, kid, sig)
    except (qr.RefusedCode, NotFound, MerchantNotSelling) as exc:
        shown = await warning(request, session, exc, (merchant_id, kid, sig))
        if shown is None:  # pragma: no cover - seller raises only these refusals
            raise
        return shown
    products = await products_of(session, merchant.id, active_only=True)
    return view(
        request,
        "consumer/merchant.html",
        merchant=merchant,
        standing=await standing(session, merchant, lang_of(request)),
        products=sorted(products, key=lambda p: (p.price, p.name)),
        code=f"k={quote(kid, safe='')}&s={quote(sig, safe='')}",
    )
