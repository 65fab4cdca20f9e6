"""Buying a card from a scanned counter code, and the sandbox provider's pay page.

* ``GET|POST /buy/{merchant}/{product}?k&s``: re-verifies the code, asks for the real name
  when the card needs it, places the order with a random ``Idempotency-Key`` kept in the form
  (a double submit replays the first order) and sends the browser to the provider's pay page.
  Registered cards need a phone sign-in first; anonymous cards do not.
* ``GET /sandbox/pay/{provider_order}`` and ``POST …/confirm``: the sandbox provider's pay
  page (sandbox deployments only); paying delivers the signed notifications as the API does
  and returns to ``GET /orders/{order}/done``, which waits for the confirmation, then opens
  the new card (signed in) or shows the anonymous card's secret link to save.

The anonymous buyer's card link travels from the order to the "save this link" page in an
HttpOnly cookie scoped to that order's path, never through the payment provider's URLs.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath
from litestar.response import Redirect, Template

import qr
from app.auth.identity import normalise_id_number
from app.auth.principal import Principal, public
from app.cards import service as cards
from app.cards.models import OrderStatus
from app.cards.payments import pay_in_sandbox, sandbox_bill
from app.deps import Cipher, Db, MaybeMe, Provider
from app.exceptions import Conflict, Invalid, MerchantNotSelling, NotAuthenticated, NotFound
from app.i18n import describe
from app.idempotency import form_key, new_key
from app.pages.consumer.layout import CONSUMER_PAGE, CodeK, CodeS, sign_in, view
from app.pages.consumer.merchant import refused, scanned_once, warning
from app.pages.render import Form, back_to, lang_of, refusal
from app.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.payments.provider import PaymentProvider
    from app.security.pii import PiiCipher

NEW_CARD_COOKIE = "pguard_new_card"
"""Holds an anonymous buyer's card link between the order and the "save this link" page."""
PENDING_REFRESH_SECONDS = 2
REFUSALS = (qr.RefusedCode, NotFound, MerchantNotSelling)
"""A code or merchant the buyer must not pay: shown as a warning page, not as an error."""


@get(
    "/sandbox/pay/{provider_order_id:str}",
    guards=[public],
    opt={**CONSUMER_PAGE},
    include_in_schema=False,
)
async def sandbox_pay_page(
    request: Request[Any, Any, Any], provider_order_id: FromPath[str], db: Db, provider: Provider
) -> Template:
    """The sandbox provider's pay page (``pay_url``): who is paid, how much, the pay button.

    A plain handler, not a controller's: the API's POST on the same path belongs to another
    controller, and Litestar merges two controllers' routes on one path only this way.
    """
    bill = await sandbox_bill(db, provider, provider_order_id)
    return view(
        request,
        "consumer/pay.html",
        order=bill.paying,
        merchant=bill.merchant,
        product=bill.product,
    )


async def _offer(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    who: Principal | None,
    order: cards.OrderRequest,
) -> cards.Offer | Template | Redirect:
    """What the code offers, or the warning page, or the sign-in (a registered card)."""
    try:
        return await cards.offer(db, who, order)
    except NotAuthenticated:
        return sign_in(request)
    except REFUSALS as exc:
        code = (order.merchant_id, order.kid, order.signature)
        if (shown := await warning(request, db, exc, code)) is None:
            raise
        return shown


def _form(
    request: Request[Any, Any, Any],
    offer: cards.Offer,
    who: Principal | None,
    **context: Any,  # noqa: ANN401
) -> Template:
    return view(
        request,
        "consumer/buy.html",
        merchant=offer.merchant,
        product=offer.product,
        custody=offer.split.custody,
        insured=offer.split.insured,
        cooling_off_days=offer.cooling_off_days,
        needs_real_name=offer.needs_real_name,
        signed_in=who is not None,
        **{"key": new_key(), "errors": {}, "data": {}, **context},
    )


class BuyPages(Controller):
    """Buying a card from a scanned counter code, and paying at the sandbox provider."""

    include_in_schema = False
    guards = [public]  # noqa: RUF012
    opt = {**CONSUMER_PAGE}  # noqa: RUF012

    async def _place(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        who: Principal | None,
        order: cards.OrderRequest,
        key: str,
        deps: tuple[PaymentProvider, PiiCipher],
    ) -> Template | Redirect | tuple[dict[str, str], str]:
        """Place the order: off to the pay page, a warning, or the form's errors and key."""
        lang = lang_of(request)
        try:
            async with db.begin():
                made = await cards.create_order(db, who, order, key, *deps)
        except NotAuthenticated:
            return sign_in(request)
        except Invalid as exc:
            return refusal(exc, lang, default_field="form"), key
        except Conflict as exc:  # the form's key was used with other details: a new order
            return {"form": describe(exc, lang)}, new_key()
        except REFUSALS as exc:  # a key revoked or a merchant stopped since the form was shown
            code = (order.merchant_id, order.kid, order.signature)
            if (shown := await warning(request, db, exc, code)) is None:
                raise
            return shown
        response = back_to(made.pay_url)
        if made.card_secret:  # the anonymous buyer's link, for the "save this link" page only
            response.cookies.append(
                Cookie(
                    key=NEW_CARD_COOKIE,
                    value=made.card_secret,
                    path=f"/orders/{made.order.id}/",
                    httponly=True,
                    secure=get_settings().security.secure_cookies,
                    samesite="strict",
                    max_age=86_400,
                )
            )
        return response

    @get("/buy/{merchant_id:str}/{product_id:uuid}")
    async def buy_form(
        self,
        request: Request[Any, Any, Any],
        merchant_id: FromPath[str],
        product_id: FromPath[uuid.UUID],
        db: Db,
        maybe_me: MaybeMe,
        k: CodeK,
        s: CodeS,
    ) -> Template | Redirect:
        """The contract's key points, the real-name fields if needed, and the pay button."""
        try:
            scanned_once(request)
        except qr.MalformedCode as exc:
            return refused(request, exc)
        order = cards.OrderRequest(
            merchant_id=merchant_id, kid=k, signature=s, product_id=product_id
        )
        offer = await _offer(request, db, maybe_me, order)
        if not isinstance(offer, cards.Offer):
            return offer
        return _form(request, offer, maybe_me, k=k, s=s)

    @post("/buy/{merchant_id:str}/{product_id:uuid}")
    async def buy(
        self,
        request: Request[Any, Any, Any],
        merchant_id: FromPath[str],
        product_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        maybe_me: MaybeMe,
        cipher: Cipher,
        provider: Provider,
    ) -> Template | Redirect:
        """Place the order (a double submit replays it) and go to the provider's pay page."""
        k, s = data.get("k", ""), data.get("s", "")
        order = cards.OrderRequest(
            merchant_id=merchant_id,
            kid=k,
            signature=s,
            product_id=product_id,
            real_name=data.get("real_name", "").strip() or None,
            id_number=normalise_id_number(data.get("id_number", "")) or None,
        )
        placed = await self._place(
            request, db, maybe_me, order, form_key(data.get("key", "")), (provider, cipher)
        )
        if not isinstance(placed, tuple):
            return placed
        errors, key = placed
        offer = await _offer(request, db, maybe_me, order)
        if not isinstance(offer, cards.Offer):
            return offer
        typed = {"real_name": data.get("real_name", ""), "id_number": data.get("id_number", "")}
        return _form(request, offer, maybe_me, k=k, s=s, key=key, errors=errors, data=typed)

    @post("/sandbox/pay/{provider_order_id:str}/confirm")
    async def pay(
        self,
        provider_order_id: FromPath[str],
        db: Db,
        provider: Provider,
    ) -> Redirect:
        """Pay: the provider notifies (twice, as real ones do), then the buyer goes back."""
        paid = await pay_in_sandbox(db, provider, provider_order_id, only_pending=True)
        if paid.kind == "payable-payment":
            return back_to("/console/payables?done=paid")
        return back_to(f"/orders/{paid.id}/done")

    @get("/orders/{order_id:uuid}/done")
    async def done(
        self,
        request: Request[Any, Any, Any],
        order_id: FromPath[uuid.UUID],
        db: Db,
        maybe_me: MaybeMe,
    ) -> Template | Redirect:
        """After paying: wait for the confirmation, then the card (or its link to save)."""
        secret = request.cookies.get(NEW_CARD_COOKIE)
        order = await cards.visible_order(db, maybe_me, order_id, secret)
        if order.status == OrderStatus.PAID and order.card_id and order.consumer_id:
            return back_to(f"/my/cards/{order.card_id}?done=paid")
        link = None
        if order.status == OrderStatus.PAID and secret:
            link = f"{str(request.base_url).rstrip('/')}/card/{secret}"
        rendered = view(
            request, "consumer/done.html", order=order, link=link, secret=secret, private=True
        )
        if order.status == OrderStatus.PENDING:
            rendered.headers["Refresh"] = str(PENDING_REFRESH_SECONDS)
        return rendered
