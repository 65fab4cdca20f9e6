"""What the merchant owes consumers after refunds, by age, and paying it at the provider."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template

from app.deps import Db, Me, Provider
from app.i18n import gettext
from app.idempotency import form_key, new_key
from app.pages.merchant.console import ConsolePages
from app.pages.render import Done, Form, back_to, lang_of, page
from app.payables import service as payables


class PayablePages(ConsolePages):
    """``/console/payables``."""

    @get("/payables")
    async def payables(
        self, request: Request[Any, Any, Any], db: Db, me: Me, done: Done = None
    ) -> Template:
        """What the merchant owes consumers after refunds, by age, and the pay button."""
        own = await payables.own_payables(db, me)
        return page(
            request,
            "merchant/payables.html",
            flash=gettext(lang_of(request), "m_payables_done_paid") if done == "paid" else "",
            error="",
            owed=own.owed,
            claimed=own.claimed,
            by_age=own.by_age,
            payables=list(reversed(own.payables)),
            days=own.business_days,
            key=new_key(),
        )

    @post("/payables/pay")
    async def pay_payables(self, data: Form, db: Db, me: Me, provider: Provider) -> Redirect:
        """Pay everything owed now at the provider's pay page."""
        async with db.begin():
            started = await payables.start_payment(db, me, provider, form_key(data.get("key", "")))
        return back_to(started.pay_url)
