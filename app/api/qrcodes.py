"""Counter QR codes: the keys, the merchant's images and posters, and the scan itself."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, QueryParameter
from litestar.response import Template
from litestar.status_codes import HTTP_200_OK

import qr
from app.api.merchants import ProductOut, product_out
from app.api.risk import ReasonOut, reasons_out
from app.auth.models import Role
from app.auth.principal import public, requires
from app.deps import Db, Me
from app.merchants.models import Industry
from app.merchants.rules import cooling_off_days
from app.merchants.service import own_merchant, products_of
from app.qrcodes import service
from app.qrcodes.scan import seller
from app.requests import wants_html
from app.risk.service import current as current_rating
from app.risk.supervision import UNRATED
from app.settings import get_settings
from app.supervision.disputes import complaints_last_year


class KeyOut(msgspec.Struct):
    """A signing key's public identity."""

    kid: str
    status: str


class CounterCodeOut(msgspec.Struct):
    """The URL printed in the merchant's counter QR."""

    url: str


class Protection(msgspec.Struct):
    """How a card's money is protected at this merchant."""

    custody_ratio_bp: int
    insured_ratio_bp: int
    custody_bank: str | None
    insurance_policy: str | None


class MerchantProfile(msgspec.Struct):
    """What a consumer sees after scanning a genuine counter code."""

    merchant_id: uuid.UUID
    legal_name: str
    unified_social_credit_code: str
    industry: str
    industry_name: str
    cooling_off_days: int
    district: str
    address: str
    licence_status: str
    risk_grade: str
    """A (safest) to E once rated; NR (not rated) until a model has rated the merchant."""
    protection: Protection
    overrides: list[str]
    """Hard facts that floor the grade (a dishonest debtor, a revoked licence...)."""
    reasons: list[ReasonOut]
    """Why the grade is what it is, as regulators see it; empty until rated."""
    complaint_count: int
    """Complaints filed against the merchant on the platform in the last 12 months."""
    products: list[ProductOut]


class QrKeyController(Controller):
    """The platform's signing keys: published to all, rotated and revoked by operators."""

    path = "/qr/keys"
    tags = ["qr"]  # noqa: RUF012

    @get("/", guards=[public])
    async def published(self, db: Db) -> dict[str, Any]:
        """Every public key, so anyone can verify a counter code offline."""
        return await service.public_document(db)

    @post("/", guards=[requires(Role.OPERATOR)])
    async def rotate(self, db: Db) -> KeyOut:
        """Add a new signing key; codes signed by older active keys keep working."""
        async with db.begin():
            key = await service.rotate(db)
        return KeyOut(key.kid, key.status)

    @post("/{kid:str}/revoke", guards=[requires(Role.OPERATOR)], status_code=HTTP_200_OK)
    async def revoke(self, kid: FromPath[str], db: Db) -> KeyOut:
        """Revoke a key: every code it signed is refused from now on."""
        async with db.begin():
            key = await service.revoke(db, kid)
        return KeyOut(key.kid, key.status)


class CounterQrController(Controller):
    """A merchant's counter code as URL, image and print-ready poster."""

    path = "/merchants/me"
    tags = ["qr"]  # noqa: RUF012
    guards = [requires(Role.MERCHANT)]  # noqa: RUF012

    async def _url(self, db: Db, me: Me) -> tuple[str, str]:
        async with db.begin():
            merchant = await own_merchant(db, me)
            ring = await service.keyring(db, signing=True)
        url = qr.counter_url(get_settings().cards.public_base_url, merchant.id, ring)
        return url, merchant.legal_name

    @get("/qr")
    async def url(self, db: Db, me: Me) -> CounterCodeOut:
        """The URL the counter code carries."""
        return CounterCodeOut((await self._url(db, me))[0])

    @get("/qr.png", media_type="image/png")
    async def png(self, db: Db, me: Me) -> Response[bytes]:
        """The counter code as a PNG image."""
        url, _ = await self._url(db, me)
        return Response(qr.png(url), media_type="image/png")

    @get("/qr.svg", media_type="image/svg+xml")
    async def svg(self, db: Db, me: Me) -> Response[str]:
        """The counter code as an SVG image."""
        url, _ = await self._url(db, me)
        return Response(qr.svg(url), media_type="image/svg+xml")

    @get("/poster.pdf", media_type="application/pdf")
    async def poster_pdf(self, db: Db, me: Me) -> Response[bytes]:
        """A print-ready poster with the merchant's name and the code.

        It prints no grade and no custody ratio: both change while the poster stays on the
        counter; the scanned page shows today's.
        """
        url, name = await self._url(db, me)
        return Response(
            qr.poster_pdf(url, name),
            media_type="application/pdf",
            headers={"Content-Disposition": 'attachment; filename="counter-poster.pdf"'},
        )

    @get("/poster.svg", media_type="image/svg+xml")
    async def poster_svg(self, db: Db, me: Me) -> Response[str]:
        """The same poster as SVG."""
        url, name = await self._url(db, me)
        return Response(qr.poster_svg(url, name), media_type="image/svg+xml")


class ScanController(Controller):
    """What a consumer's phone opens: the verified merchant profile, or a clear refusal."""

    path = "/q"
    tags = ["consumers"]  # noqa: RUF012

    @get(
        "/{merchant_id:str}",
        guards=[public],
        response_headers={"Vary": "Accept"},
        responses={
            HTTP_200_OK: ResponseSpec(
                MerchantProfile,
                description="The verified merchant; a browser asking for text/html gets it as"
                " a page (and a refused code as a warning page)",
                generate_examples=False,
            )
        },
    )
    async def scan(
        self,
        request: Request[Any, Any, Any],
        merchant_id: FromPath[str],
        db: Db,
        # optional here so that a code cut short is refused as a code (a warning page for a
        # browser), not as a missing parameter: qr.counter_query wants both, once each
        kid: Annotated[str, QueryParameter(name="k", max_length=64)] = "",
        signature: Annotated[str, QueryParameter(name="s", max_length=200)] = "",
    ) -> MerchantProfile | Template:
        """Verify the code's signature and show who the merchant is and how money is protected.

        A forged or altered code, a revoked key, an unknown merchant, or a merchant that may not
        sell (suspended, defaulted, closed) is refused with the reason, so a swapped or stale
        sticker never leads to a payment.

        A phone's browser (``Accept`` preferring ``text/html``) gets the same as a page: the
        merchant page with its cards to buy, or a warning page without any way to pay.
        """
        page = request.app.state.get("scan_page")  # set by create_app: the consumer pages'
        if page is not None and wants_html(request):
            shown: Template = await page(request, db, merchant_id, kid, signature)
            return shown
        # exactly k and s, once each, as the qr package reads a scanned code (the page too)
        qr.counter_query(request.scope["query_string"].decode("latin-1"))
        merchant = await seller(db, merchant_id, kid, signature)
        industry = await db.get(Industry, merchant.industry)
        products = await products_of(db, merchant.id, active_only=True)
        rating = await current_rating(db, merchant.id)
        return MerchantProfile(
            merchant_id=merchant.id,
            legal_name=merchant.legal_name,
            unified_social_credit_code=merchant.uscc,
            industry=merchant.industry,
            industry_name=industry.name_zh if industry else merchant.industry,
            cooling_off_days=cooling_off_days(industry),
            district=merchant.district,
            address=merchant.address,
            licence_status=merchant.status,
            risk_grade=rating.grade if rating else UNRATED,
            overrides=rating.overrides if rating else [],
            reasons=reasons_out(rating) if rating else [],
            protection=Protection(
                custody_ratio_bp=merchant.custody_ratio_bp,
                insured_ratio_bp=10_000 - merchant.custody_ratio_bp,
                custody_bank=merchant.custody_bank,
                insurance_policy=merchant.policy_ref,
            ),
            complaint_count=await complaints_last_year(db, merchant.id),
            products=[product_out(p) for p in products],
        )
