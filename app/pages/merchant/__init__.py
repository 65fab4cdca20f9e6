"""The merchant console: pages for a merchant's own staff under ``/console``.

Overview with the grade and what would improve it, products, the counter QR, redeeming a
consumer's code, refund requests, refund payables and complaints, one module each.

Every page reads and writes through the same use cases as the API (``app.merchants``,
``app.payables``, ``app.cards``, ``app.supervision.disputes``, ``app.risk``, ``escrow``);
these modules only parse forms, call them, and show their answers: a refusal in the page's
language by its error code (``app.i18n.describe``), beside the field it names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.pages.merchant.closure import ClosurePage
from app.pages.merchant.complaints import ComplaintPages
from app.pages.merchant.counter import CounterPage
from app.pages.merchant.overview import OverviewPage
from app.pages.merchant.payables import PayablePages
from app.pages.merchant.products import ProductPages
from app.pages.merchant.reasons import explain
from app.pages.merchant.redeem import RedeemPage
from app.pages.merchant.refunds import RefundPages

if TYPE_CHECKING:
    from litestar import Controller

MERCHANT_PAGES: list[type[Controller]] = [
    OverviewPage,
    ProductPages,
    CounterPage,
    RedeemPage,
    RefundPages,
    PayablePages,
    ComplaintPages,
    ClosurePage,
]
"""Every console controller, for ``app.pages.routes``."""

__all__ = ["MERCHANT_PAGES", "explain"]
