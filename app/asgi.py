"""The application factory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar import Litestar
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin

from app.api.auth import AuthController
from app.api.cards import (
    AnonymousCardController,
    ConsumerCardController,
    MerchantCardController,
    OrderController,
    PaymentController,
    SandboxPayController,
)
from app.api.cases import CASE_CONTROLLERS
from app.api.closures import CardClosureController, ClosureController
from app.api.disputes import DISPUTE_CONTROLLERS
from app.api.health import HealthController
from app.api.insurance import ClaimController, InsurerController
from app.api.merchants import MerchantController, ProductController
from app.api.outbox import InsurerEventsController
from app.api.payables import OwnPayablesController, SupervisedPayablesController
from app.api.problems import document_problems
from app.api.qrcodes import CounterQrController, QrKeyController, ScanController
from app.api.reports import ReportController
from app.api.resolution import ResolutionPackController
from app.api.risk import IndicatorController, MerchantRatingController, RatingController
from app.api.supervision import (
    GradeActionsController,
    MeasureController,
    SalesBlocksController,
    WarningController,
)
from app.auth.middleware import TokenAuthentication
from app.auth.sms import sms_sender
from app.db import create_engine, session_factory
from app.deps import DEPENDENCIES
from app.errors import exception_handlers
from app.logging import configure_logging, request_id_middleware
from app.pages.consumer.merchant import merchant_page
from app.pages.render import template_config
from app.pages.routes import PAGE_ROUTES, SANDBOX_PAGE_ROUTES
from app.payments.configured import payment_provider
from app.requests import RequestChecks
from app.security.pii import PiiCipher
from app.settings import get_settings
from app.wiring import wire
from app.workers import background_workers

if TYPE_CHECKING:
    from litestar.types import ControllerRouterHandler
    from sqlalchemy.ext.asyncio import AsyncEngine

ROUTES = [
    HealthController,
    AuthController,
    MerchantController,
    ProductController,
    QrKeyController,
    CounterQrController,
    ScanController,
    OrderController,
    PaymentController,
    ConsumerCardController,
    AnonymousCardController,
    MerchantCardController,
    IndicatorController,
    RatingController,
    MerchantRatingController,
    WarningController,
    MeasureController,
    GradeActionsController,
    SalesBlocksController,
    InsurerController,
    ClaimController,
    OwnPayablesController,
    ClosureController,
    CardClosureController,
    ResolutionPackController,
    ReportController,
    *CASE_CONTROLLERS,
    SupervisedPayablesController,
    *DISPUTE_CONTROLLERS,
    InsurerEventsController,
]


def create_app(engine: AsyncEngine | None = None) -> Litestar:
    """Build the app; pass ``engine`` to share one (tests), else one is made at start-up."""
    wire()
    settings = get_settings()
    configure_logging(settings.log)
    sandboxes = [
        name
        for name, on in (
            ("PGUARD_PAYMENTS=sandbox", settings.payments == "sandbox"),
            ("PGUARD_SMS=sandbox", settings.security.sms_sandbox),
        )
        if on
    ]
    if settings.environment == "production" and sandboxes:
        msg = f"refusing to run in production with sandbox adapters: {', '.join(sandboxes)}"
        raise RuntimeError(msg)
    sandbox: list[ControllerRouterHandler] = (
        [SandboxPayController, *SANDBOX_PAGE_ROUTES] if settings.payments == "sandbox" else []
    )
    routes: list[ControllerRouterHandler] = [*ROUTES, *sandbox, *PAGE_ROUTES]

    async def open_database(app: Litestar) -> None:
        app.state.engine = engine or create_engine()
        app.state.sessions = session_factory(app.state.engine)
        app.state.cipher = PiiCipher.from_master_key()
        app.state.provider = payment_provider(settings)
        app.state.sms = sms_sender(settings)
        app.state.workers = (
            background_workers(
                app.state.sessions, app.state.cipher, poll=settings.workers.poll_seconds
            )
            if settings.workers.in_process
            else []
        )
        for worker in app.state.workers:
            worker.start()

    async def close_database(app: Litestar) -> None:
        for worker in app.state.workers:
            await worker.stop()
        if engine is None:
            await app.state.engine.dispose()

    app = Litestar(
        route_handlers=routes,
        on_startup=[open_database],
        on_shutdown=[close_database],
        dependencies=DEPENDENCIES,
        middleware=[RequestChecks(), DefineMiddleware(TokenAuthentication)],
        exception_handlers=exception_handlers(),
        template_config=template_config(),
        logging_config=None,  # app.logging configures logging; Litestar's default would reset it
        openapi_config=OpenAPIConfig(
            title="Prepaid Guard",
            version="0.1.0",
            description="Every fen of a prepaid card guaranteed: 30% in custody, 70% insured.",
            path="/schema",
            render_plugins=[JsonRenderPlugin(path=["/", "/openapi.json"])],
        ),
        debug=settings.debug,
    )
    # ``/q/…`` is the API's route; a phone's browser gets the consumer pages' merchant page,
    # handed over here so that neither front door imports the other
    app.state.scan_page = merchant_page
    document_problems(app)
    # Outside Litestar's own exception handling, so that every response, 404s included,
    # carries the request id and gets its log line.
    app.asgi_handler = request_id_middleware(app.asgi_handler)
    return app
