"""The regulator's pages: merchants by grade, a merchant's file and measures, the two queues.

Regulators see their own district only (a city-level regulator and operators see every one):
every look-up goes through the supervision use cases, which answer "not found" for a
merchant, warning or dispute out of reach, and that becomes the 404 page. Each form posts to
its own route, which checks the origin, reads the form (amounts and percentages with
:mod:`app.pages.forms`), runs one use case in one transaction and redirects; a refused form
is shown again with the error's words, in the page's language, beside the field it is about
(:func:`app.pages.render.refusal`).

* :mod:`.dashboard`: ``/dashboard``, merchants by grade with the totals;
* :mod:`.merchants`: a merchant's file and its measures;
* :mod:`.protection`: payables by age, sales blocks, grade actions;
* :mod:`.warnings` and :mod:`.disputes`: the two queues;
* :mod:`.closures`: merchants closing in good order, successors, the bulk move of cards;
* :mod:`.reports`: the district's monthly and quarterly report, and its downloads.
"""

from litestar import Router

from app.pages.regulator.closures import ClosurePages
from app.pages.regulator.dashboard import DashboardPages
from app.pages.regulator.disputes import DisputePages
from app.pages.regulator.merchants import MerchantPages
from app.pages.regulator.protection import ProtectionPages
from app.pages.regulator.reports import ReportPages
from app.pages.regulator.warnings import WarningPages

REGULATOR_PAGES = (
    DashboardPages,
    MerchantPages,
    ProtectionPages,
    WarningPages,
    DisputePages,
    ClosurePages,
    ReportPages,
)
"""Every controller of the regulator's pages, each under ``/dashboard``."""

RegulatorPages = Router(path="/", route_handlers=list(REGULATOR_PAGES), include_in_schema=False)
"""The regulator's pages as one handler for :data:`app.pages.routes.PAGE_ROUTES`."""

__all__ = ["REGULATOR_PAGES", "RegulatorPages"]
