"""The counter QR code: what customers scan to buy, and its downloads."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Template

import qr
from app.cards import service as cards
from app.deps import Db, Me
from app.i18n import has
from app.i18n.errors import ERROR_PREFIX, say
from app.merchants import service as merchants
from app.pages.merchant.console import ConsolePages
from app.pages.render import lang_of, page
from app.qrcodes.service import keyring
from app.settings import get_settings


class CounterPage(ConsolePages):
    """``/console/qr``."""

    @get("/qr")
    async def counter_qr(self, request: Request[Any, Any, Any], db: Db, me: Me) -> Template:
        """The counter code and its downloads (served by the API, with this sign-in)."""
        async with db.begin():
            merchant = await merchants.own_merchant(db, me)
            ring = await keyring(db, signing=True)
        why = await cards.selling_problem(db, merchant)
        if why and has(ERROR_PREFIX + why):  # a code; words (transitional) are shown as given
            why = say(lang_of(request), why)
        return page(
            request,
            "merchant/qr.html",
            merchant=merchant,
            url=qr.counter_url(get_settings().cards.public_base_url, merchant.id, ring),
            not_selling=why,
        )
