"""The merchant's card products: the list, a form for a new one, retiring one."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.deps import Db, Me
from app.exceptions import Conflict, Invalid
from app.i18n import describe, field_messages, gettext, money
from app.merchants import service as merchants
from app.merchants.rules import MAX_NAME, MAX_TERMS, ProductDraft
from app.pages.forms import parse_count, parse_yuan
from app.pages.merchant.console import ConsolePages
from app.pages.render import Done, Form, back_to, lang_of, page, said_done
from app.settings import get_settings

if TYPE_CHECKING:
    from collections.abc import Mapping

SHOWN = frozenset({"name", "kind", "price", "units", "validity_days", "anonymous", "terms"})
"""The form's fields; a refusal naming another is shown above the form."""


def read_product(data: Mapping[str, str]) -> tuple[ProductDraft, dict[str, str]]:
    """The draft the form describes, and the fields that are not numbers (field -> message key).

    A number that cannot be read goes into the draft as 0, which the product rules refuse, so
    the same check says what else is wrong.
    """
    unreadable: dict[str, str] = {}
    kind = data.get("kind", "")
    price = parse_yuan(data.get("price", ""))
    if price is None:
        unreadable["price"] = "m_err_yuan"
    by_count = kind == "sessions"
    units = (parse_count if by_count else parse_yuan)(data.get("units", ""))
    if units is None:
        unreadable["units"] = "m_err_count" if by_count else "m_err_yuan"
    validity_text = data.get("validity_days", "").strip()
    validity = (parse_count(validity_text) or 0) if validity_text else None
    draft = ProductDraft(
        name=data.get("name", ""),
        kind=kind,
        price=price or 0,
        units=units or 0,
        validity_days=validity,
        anonymous=data.get("anonymous") in {"on", "1", "true"},
        terms=data.get("terms", ""),
    )
    return draft, unreadable


class ProductPages(ConsolePages):
    """``/console/products``."""

    async def _products(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        me: Me,
        *,
        form: Mapping[str, str] | None = None,
        errors: Mapping[str, str] | None = None,
        error: str | None = None,
        done: str | None = None,
    ) -> Template:
        lang = lang_of(request)
        merchant = await merchants.own_merchant(db, me)
        rules = get_settings().cards
        return page(
            request,
            "merchant/products.html",
            merchant=merchant,
            limits={
                "limit": money(rules.anonymous_limit, lang),
                "registered": money(rules.registered_limit, lang),
                "days": rules.anonymous_min_validity_days,
            },
            max_name=MAX_NAME,
            max_terms=MAX_TERMS,
            products=await merchants.products_of(db, merchant.id, active_only=False),
            form=form or {"kind": "stored_value"},
            errors=errors or {},
            other_errors=[v for k, v in (errors or {}).items() if k not in SHOWN],
            error=error,
            notice=said_done(lang, "m_done_", done),
        )

    @get("/products")
    async def products(
        self, request: Request[Any, Any, Any], db: Db, me: Me, done: Done = None
    ) -> Template:
        """The merchant's products and a form for a new one."""
        return await self._products(request, db, me, done=done)

    @post("/products")
    async def create_product(
        self, request: Request[Any, Any, Any], data: Form, db: Db, me: Me
    ) -> Template | Redirect:
        """Create a product; every rule it breaks is shown beside its field."""
        lang = lang_of(request)
        draft, unreadable = read_product(data)
        not_read = {field: gettext(lang, key) for field, key in unreadable.items()}
        try:
            async with db.begin():
                if unreadable:  # only checked: a product is made from what was read, whole
                    await merchants.check_product(db, me, draft)
                else:
                    await merchants.create_product(db, me, draft)
        except (Invalid, Conflict) as exc:
            errors = field_messages(exc, lang) | not_read
            error = gettext(lang, "m_form_errors") if unreadable else describe(exc, lang)
            return await self._products(request, db, me, form=data, errors=errors, error=error)
        if unreadable:
            return await self._products(
                request, db, me, form=data, errors=not_read, error=gettext(lang, "m_form_errors")
            )
        return back_to("/console/products?done=created")

    @post("/products/{product_id:uuid}/retire")
    async def retire_product(self, product_id: FromPath[uuid.UUID], db: Db, me: Me) -> Redirect:
        """Stop selling a product (another merchant's is 'not found')."""
        async with db.begin():
            await merchants.retire_product(db, me, product_id)
        return back_to("/console/products?done=retired")
