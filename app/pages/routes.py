"""Every page controller, and the static files they use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar.static_files import create_static_files_router

from app.pages.auth import PageAuthController
from app.pages.cases import CASE_PAGES
from app.pages.consumer import CONSUMER_PAGES, SANDBOX_PAGES
from app.pages.insurer import InsurerPages
from app.pages.merchant import MERCHANT_PAGES
from app.pages.regulator import RegulatorPages
from app.pages.render import STATIC

if TYPE_CHECKING:
    from litestar.types import ControllerRouterHandler

PAGE_ROUTES: list[ControllerRouterHandler] = [
    PageAuthController,
    *CONSUMER_PAGES,
    *MERCHANT_PAGES,
    RegulatorPages,
    InsurerPages,
    *CASE_PAGES,
    create_static_files_router(path="/static", directories=[STATIC], include_in_schema=False),
]
"""Added to the app by ``app.asgi``; each area's controllers are listed here."""

SANDBOX_PAGE_ROUTES: list[ControllerRouterHandler] = [*SANDBOX_PAGES]
"""The sandbox provider's pay page: mounted only with ``PGUARD_PAYMENTS=sandbox``."""
