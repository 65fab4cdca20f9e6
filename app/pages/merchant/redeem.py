"""Redeeming a customer's code at the counter: typed digits or a token from the scanner."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, get, post
from litestar.response import Template

import escrow
import qr
from app.cards.redemption import redeem_counting_digits
from app.deps import Db, Me
from app.exceptions import AppError
from app.i18n import gettext
from app.idempotency import acceptable, new_key
from app.pages.forms import parse_count, parse_yuan
from app.pages.merchant.console import ConsolePages
from app.pages.render import Form, lang_of, page, refusal

MAX_CODE = 400
"""The longest code the form takes: a scanned token, as the API's ``RedeemIn.token``."""
_DIGITS = re.compile(r"^\d{6}$")
"""Typed digits, rather than a scanned token."""


class RedeemPage(ConsolePages):
    """``/console/redeem``."""

    @get("/redeem")
    async def redeem_form(self, request: Request[Any, Any, Any]) -> Template:
        """Type or paste the customer's code."""
        return page(
            request, "merchant/redeem.html", form={"measure": "yuan"}, key=new_key(), errors={}
        )

    @post("/redeem")
    async def redeem(self, request: Request[Any, Any, Any], data: Form, db: Db, me: Me) -> Template:
        """Redeem through the same use case as the API; the receipt or the error beside it."""
        lang = lang_of(request)
        code = "".join(data.get("code", "").split())
        measure = "sessions" if data.get("measure") == "sessions" else "yuan"
        units = (parse_yuan if measure == "yuan" else parse_count)(data.get("units", ""))
        key = data.get("key", "")
        errors: dict[str, str] = {}
        if not code:
            errors["code"] = gettext(lang, "m_err_required")
        elif len(code) > MAX_CODE:
            errors["code"] = gettext(lang, "m_err_too_long", n=MAX_CODE)
        if not units:
            errors["units"] = gettext(lang, "m_err_yuan" if measure == "yuan" else "m_err_count")
        if not acceptable(key):
            key = new_key()
            errors.setdefault("code", gettext(lang, "m_err_form_stale"))
        form = {"code": code, "measure": measure, "units": data.get("units", "")}
        receipt = None
        if not errors and units:
            digits = code if _DIGITS.match(code) else None
            try:
                receipt = await redeem_counting_digits(
                    db,
                    me,
                    token=None if digits else code,
                    digits=digits,
                    units=units,
                    idempotency_key=key,
                )
            except escrow.InsufficientBalance as exc:
                errors = refusal(exc, lang, default_field="units")
            except (AppError, escrow.EscrowError, qr.QrError) as exc:
                errors = refusal(exc, lang, default_field="code")
        if receipt is not None:
            return page(
                request,
                "merchant/redeem.html",
                form={"measure": measure},
                key=new_key(),
                errors={},
                receipt=receipt,
                measure=measure,
            )
        return page(request, "merchant/redeem.html", form=form, key=key, errors=errors)
